package admin

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/latchkey/latchkey/bearer"
	"github.com/latchkey/latchkey/internal/store"
)

// What a user has given away: consents, sessions and grants, listed and
// withdrawn. Each list is short (one user's), so it is not paged.

// knownUser returns the user of the path, or a 404 problem.
func (a *API) knownUser(r *http.Request) (store.User, error) {
	u, err := a.st.GetUser(r.Context(), r.PathValue("id"))
	if err != nil {
		return u, notFound(err, "user", r.PathValue("id"))
	}
	return u, nil
}

func (a *API) listConsents(w http.ResponseWriter, r *http.Request) error {
	u, err := a.knownUser(r)
	if err != nil {
		return err
	}
	all, err := a.st.ListConsents(r.Context(), u.ID)
	if err != nil {
		return err
	}
	out := listing{Items: []map[string]any{}}
	for _, c := range all {
		out.Items = append(out.Items, map[string]any{"client_id": c.ClientID, "scopes": nonNil(c.Scopes),
			"resources": nonNil(c.Resources), "granted_at": c.GrantedAt.UTC().Format(time.RFC3339)})
	}
	return writeJSON(w, http.StatusOK, out)
}

// withdrawConsent revokes the user's grants to the client (their refresh
// and access tokens stop), then forgets the consent, as the account page
// does: a failure half-way leaves the consent listed, to try again.
func (a *API) withdrawConsent(w http.ResponseWriter, r *http.Request) error {
	u, err := a.knownUser(r)
	if err != nil {
		return err
	}
	clientID := r.PathValue("client")
	grants, err := a.st.ListUserGrants(r.Context(), u.ID, clientID, a.now())
	if err != nil {
		return err
	}
	for _, g := range grants {
		if err := a.st.RevokeGrant(r.Context(), g.ID, a.now()); err != nil {
			return err
		}
	}
	if err := a.st.DeleteConsent(r.Context(), u.ID, clientID); err != nil {
		return err
	}
	a.record(r, change{object: "consent", id: u.ID + "/" + clientID, action: "withdraw", userID: u.ID, clientID: clientID,
		after: map[string]any{"grants_revoked": strconv.Itoa(len(grants))}})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) listSessions(w http.ResponseWriter, r *http.Request) error {
	u, err := a.knownUser(r)
	if err != nil {
		return err
	}
	all, err := a.st.ListSessions(r.Context(), u.ID, a.now())
	if err != nil {
		return err
	}
	out := listing{Items: []map[string]any{}}
	for _, s := range all {
		out.Items = append(out.Items, map[string]any{"sid": s.SID, "user_agent": s.UserAgent, "ip": s.IP,
			"auth_time": s.AuthTime.UTC().Format(time.RFC3339), "created_at": s.CreatedAt.UTC().Format(time.RFC3339),
			"last_seen_at": s.LastSeenAt.UTC().Format(time.RFC3339), "expires_at": s.ExpiresAt.UTC().Format(time.RFC3339)})
	}
	return writeJSON(w, http.StatusOK, out)
}

// endSession signs the session out through the server, which sends the
// back-channel logout tokens; an unknown session is already gone (204).
func (a *API) endSession(w http.ResponseWriter, r *http.Request) error {
	u, err := a.knownUser(r)
	if err != nil {
		return err
	}
	sid := r.PathValue("sid")
	actor := "admin:unknown"
	if c, ok := bearer.ClaimsFrom(r.Context()); ok {
		actor = "admin:" + c.ClientID
	}
	switch err := a.sessions.EndSession(r.Context(), u.ID, sid, actor, "admin"); {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return err
	default:
		a.record(r, change{object: "session", id: sid, action: "end", userID: u.ID})
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) listGrants(w http.ResponseWriter, r *http.Request) error {
	u, err := a.knownUser(r)
	if err != nil {
		return err
	}
	all, err := a.st.ListUserGrants(r.Context(), u.ID, r.URL.Query().Get("client_id"), a.now())
	if err != nil {
		return err
	}
	out := listing{Items: []map[string]any{}}
	for _, g := range all {
		out.Items = append(out.Items, map[string]any{"id": g.ID, "client_id": g.ClientID, "scopes": nonNil(g.Scopes),
			"created_at": g.CreatedAt.UTC().Format(time.RFC3339), "expires_at": g.ExpiresAt.UTC().Format(time.RFC3339)})
	}
	return writeJSON(w, http.StatusOK, out)
}

// revokeGrant revokes one of the user's grants with every refresh and
// access token issued under it (RevokeGrant); idempotent.
func (a *API) revokeGrant(w http.ResponseWriter, r *http.Request) error {
	u, err := a.knownUser(r)
	if err != nil {
		return err
	}
	gid := r.PathValue("gid")
	g, err := a.st.GetGrant(r.Context(), gid)
	if errors.Is(err, store.ErrNotFound) || err == nil && g.UserID != u.ID {
		w.WriteHeader(http.StatusNoContent) // not this user's: nothing of theirs to revoke
		return nil
	} else if err != nil {
		return err
	}
	if err := a.st.RevokeGrant(r.Context(), gid, a.now()); err != nil {
		return fmt.Errorf("revoke grant: %w", err)
	}
	a.record(r, change{object: "grant", id: gid, action: "revoke", userID: u.ID, clientID: g.ClientID})
	w.WriteHeader(http.StatusNoContent)
	return nil
}
