package admin

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/latchkey/latchkey/bearer"
	"github.com/latchkey/latchkey/internal/store"
)

// disableUser marks the user disabled (they can no longer sign in, use
// the password grant, redeem a code or refresh), then revokes their
// grants (refresh and access tokens stop) and ends their sessions (with
// back-channel logout). A failure after the mark leaves the user disabled;
// calling again finishes the job.
func (a *API) disableUser(w http.ResponseWriter, r *http.Request) error {
	return a.setDisabled(w, r, a.now())
}

// enableUser lets the user sign in again; what disabling revoked stays
// revoked.
func (a *API) enableUser(w http.ResponseWriter, r *http.Request) error {
	return a.setDisabled(w, r, time.Time{})
}

func (a *API) setDisabled(w http.ResponseWriter, r *http.Request, at time.Time) error {
	id := r.PathValue("id")
	match, err := ifMatch(r, false)
	if err != nil {
		return err
	}
	cur, err := a.st.GetUser(r.Context(), id)
	if err != nil {
		return notFound(err, "user", id)
	}
	next := cur
	action := "enable"
	if !at.IsZero() {
		action = "disable"
		if cur.Disabled() {
			at = cur.DisabledAt // disabling twice keeps the first time
		}
	}
	next.DisabledAt, next.UpdatedAt = at, a.now()
	err = a.st.ReplaceUser(r.Context(), next, func(now store.User) bool { return match(userETag(now)) })
	if errors.Is(err, store.ErrStale) {
		return stale("user " + id)
	} else if err != nil {
		return notFound(err, "user", id)
	}
	if !at.IsZero() {
		if err := a.cutOff(r, id); err != nil {
			return err
		}
	}
	stored, err := a.st.GetUser(r.Context(), id)
	if err != nil {
		return err
	}
	a.record(r, change{object: "user", id: id, action: action, userID: id, before: UserView(cur), after: UserView(stored)})
	w.Header().Set("ETag", userETag(stored))
	return writeJSON(w, http.StatusOK, UserView(stored))
}

// cutOff revokes every live grant of the user and ends every session.
func (a *API) cutOff(r *http.Request, userID string) error {
	ctx := r.Context()
	grants, err := a.st.ListUserGrants(ctx, userID, "", a.now())
	if err != nil {
		return fmt.Errorf("disable: list grants: %w", err)
	}
	for _, g := range grants {
		if err := a.st.RevokeGrant(ctx, g.ID, a.now()); err != nil {
			return fmt.Errorf("disable: revoke grant: %w", err)
		}
	}
	sessions, err := a.st.ListSessions(ctx, userID, a.now())
	if err != nil {
		return fmt.Errorf("disable: list sessions: %w", err)
	}
	actor := "admin:unknown"
	if c, ok := bearer.ClaimsFrom(ctx); ok {
		actor = "admin:" + c.ClientID
	}
	for _, s := range sessions {
		if err := a.sessions.EndSession(ctx, userID, s.SID, actor, "admin"); err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("disable: end session: %w", err)
		}
	}
	return nil
}
