package admin

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strconv"
	"time"

	"github.com/latchkey/latchkey/bearer"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/password"
	"github.com/latchkey/latchkey/internal/store"
)

// UserView is the JSON of a user; the password hash never appears.
func UserView(u store.User) map[string]any {
	claims := u.Claims
	if claims == nil {
		claims = map[string]any{}
	}
	return map[string]any{"id": u.ID, "username": u.Username, "claims": claims, "source": u.Source, "disabled": u.Disabled(),
		"mfa_required": u.MFARequired,
		"created_at":   u.CreatedAt.UTC().Format(time.RFC3339), "updated_at": u.UpdatedAt.UTC().Format(time.RFC3339)}
}

// userETag is the ETag of a user: its view and its password hash.
func userETag(u store.User) string { return etagOf(UserView(u), u.PasswordHash) }

// validateUser runs the config file's rules on one user.
func validateUser(cu config.User) ([]FieldError, error) {
	cfg := config.Default()
	cfg.Users = []config.User{cu}
	return fieldErrors(cfg, "users[0]")
}

// checkUser validates a user as the config file would, with a new
// password pw or, when pw is "", the stored hash.
func checkUser(username, pw, hash string, claims map[string]any) error {
	cu := config.User{Username: username, Password: config.Secret(pw), Claims: claims}
	if pw == "" {
		cu.PasswordHash = hash
	}
	errs, err := validateUser(cu)
	if err != nil {
		return err
	}
	if len(errs) > 0 {
		return invalid("the user is not valid", errs...)
	}
	return nil
}

type newUser struct {
	Username    string         `json:"username"`
	Password    string         `json:"password"`
	Claims      map[string]any `json:"claims"`
	MFARequired bool           `json:"mfa_required"`
}

func (a *API) createUser(w http.ResponseWriter, r *http.Request) error {
	var body newUser
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	if body.Password == "" {
		return invalid("the user needs a password", FieldError{Field: "password", Detail: "required"})
	}
	if err := checkUser(body.Username, body.Password, "", body.Claims); err != nil {
		return err
	}
	hash, err := password.Hash(body.Password, a.passwords, a.rand)
	if err != nil {
		return err
	}
	id, err := newUserID()
	if err != nil {
		return err
	}
	now := a.now()
	u := store.User{ID: id, Username: body.Username, PasswordHash: hash, Claims: body.Claims, Source: "admin", CreatedAt: now, UpdatedAt: now,
		MFARequired: body.MFARequired}
	if err := a.st.CreateUser(r.Context(), u); errors.Is(err, store.ErrConflict) {
		return conflict(fmt.Sprintf("user %q exists already", body.Username))
	} else if err != nil {
		return err
	}
	stored, err := a.st.GetUser(r.Context(), id)
	if err != nil {
		return err
	}
	a.record(r, change{object: "user", id: id, action: "create", userID: id, after: UserView(stored)})
	w.Header().Set("ETag", userETag(stored))
	w.Header().Set("Location", Prefix+"/users/"+id)
	return writeJSON(w, http.StatusCreated, UserView(stored))
}

// newUserID is a random subject identifier, as the CLI makes them.
func newUserID() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("user id: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func (a *API) getUser(w http.ResponseWriter, r *http.Request) error {
	u, err := a.st.GetUser(r.Context(), r.PathValue("id"))
	if err != nil {
		return notFound(err, "user", r.PathValue("id"))
	}
	w.Header().Set("ETag", userETag(u))
	return writeJSON(w, http.StatusOK, UserView(u))
}

// userPatch is a JSON merge patch (RFC 7396) of a user: a claim set to
// null is removed.
type userPatch struct {
	Username    *string        `json:"username"`
	Claims      map[string]any `json:"claims"`
	MFARequired *bool          `json:"mfa_required"`
}

func (a *API) patchUser(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	match, err := ifMatch(r, true)
	if err != nil {
		return err
	}
	var patch userPatch
	if err := decodeJSON(w, r, &patch); err != nil {
		return err
	}
	cur, err := a.st.GetUser(r.Context(), id)
	if err != nil {
		return notFound(err, "user", id)
	}
	next := cur
	next.Claims = maps.Clone(cur.Claims)
	if next.Claims == nil {
		next.Claims = map[string]any{}
	}
	for k, v := range patch.Claims {
		if v == nil {
			delete(next.Claims, k)
		} else {
			next.Claims[k] = v
		}
	}
	if patch.Username != nil {
		next.Username = *patch.Username
	}
	if patch.MFARequired != nil {
		next.MFARequired = *patch.MFARequired
	}
	if err := checkUser(next.Username, "", cur.PasswordHash, next.Claims); err != nil {
		return err
	}
	next.UpdatedAt = a.now()
	return a.replaceUser(w, r, cur, next, match, "update")
}

// replaceUser stores next in place of cur unless the user changed since
// match's ETag, records the change, and answers with the stored user.
func (a *API) replaceUser(w http.ResponseWriter, r *http.Request, cur, next store.User, match func(string) bool, action string) error {
	err := a.st.ReplaceUser(r.Context(), next, func(now store.User) bool { return match(userETag(now)) })
	switch {
	case errors.Is(err, store.ErrStale):
		return stale("user " + next.ID)
	case errors.Is(err, store.ErrConflict):
		return conflict(fmt.Sprintf("the username %q is taken", next.Username))
	case err != nil:
		return notFound(err, "user", next.ID)
	}
	stored, err := a.st.GetUser(r.Context(), next.ID)
	if err != nil {
		return err
	}
	a.record(r, change{object: "user", id: next.ID, action: action, userID: next.ID, before: UserView(cur), after: UserView(stored)})
	w.Header().Set("ETag", userETag(stored))
	return writeJSON(w, http.StatusOK, UserView(stored))
}

func (a *API) setPassword(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	match, err := ifMatch(r, false)
	if err != nil {
		return err
	}
	var body struct {
		Password string `json:"password"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	cur, err := a.st.GetUser(r.Context(), id)
	if err != nil {
		return notFound(err, "user", id)
	}
	if body.Password == "" {
		return invalid("the password must not be empty", FieldError{Field: "password", Detail: "required"})
	}
	if err := checkUser(cur.Username, body.Password, "", cur.Claims); err != nil {
		return err
	}
	next := cur
	if next.PasswordHash, err = password.Hash(body.Password, a.passwords, a.rand); err != nil {
		return err
	}
	next.UpdatedAt = a.now()
	return a.replaceUser(w, r, cur, next, match, "set_password")
}

func (a *API) deleteUser(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	match, err := ifMatch(r, false)
	if err != nil {
		return err
	}
	cur, err := a.st.GetUser(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		w.WriteHeader(http.StatusNoContent)
		return nil
	} else if err != nil {
		return err
	}
	// The check and the delete are one transaction (see deleteClient).
	err = a.st.DeleteUserIf(r.Context(), id, func(now store.User) bool {
		cur = now
		return match(userETag(now))
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		w.WriteHeader(http.StatusNoContent) // a concurrent delete won
		return nil
	case errors.Is(err, store.ErrStale):
		return stale("user " + id)
	case err != nil:
		return err
	}
	a.record(r, change{object: "user", id: id, action: "delete", userID: id, before: UserView(cur)})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) listUsers(w http.ResponseWriter, r *http.Request) error {
	p, err := readPage(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	all, err := a.st.ListUsersPage(r.Context(), store.UserQuery{
		After: p.after, Limit: p.limit + 1, UsernamePrefix: q.Get("username_prefix"), Email: q.Get("email"),
	})
	if err != nil {
		return err
	}
	out := listing{Items: []map[string]any{}}
	for i, u := range all {
		if i == p.limit {
			out.NextCursor = cursorOf(all[i-1].Username)
			break
		}
		out.Items = append(out.Items, UserView(u))
	}
	return writeJSON(w, http.StatusOK, out)
}

// resetFactors removes every second factor and recovery code of the user
// (a lost phone): their next sign-in asks for the password only, or, when
// a policy requires a second factor, enrols a new one. Sessions stay.
func (a *API) resetFactors(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if _, err := a.st.GetUser(r.Context(), id); err != nil {
		return notFound(err, "user", id)
	}
	n, err := a.st.DeleteFactors(r.Context(), id)
	if err != nil {
		return err
	}
	a.record(r, change{object: "user", id: id, action: "reset_mfa", userID: id})
	actor := "system"
	if claims, ok := bearer.ClaimsFrom(r.Context()); ok {
		actor = "client:" + claims.ClientID
	}
	a.audit.Record(r.Context(), audit.Event{Time: a.now(), Type: audit.MFARemoved, Actor: actor, UserID: id,
		Details: map[string]string{"via": "admin", "factors": strconv.Itoa(n)}})
	return writeJSON(w, http.StatusOK, map[string]any{"user_id": id, "factors_removed": n})
}

// listFactors lists the user's second factors (never their secrets) and
// how many unused recovery codes they hold.
func (a *API) listFactors(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if _, err := a.st.GetUser(r.Context(), id); err != nil {
		return notFound(err, "user", id)
	}
	factors, err := a.st.ListFactors(r.Context(), id)
	if err != nil {
		return err
	}
	left, err := a.st.CountRecoveryCodes(r.Context(), id)
	if err != nil {
		return err
	}
	items := make([]map[string]any, 0, len(factors))
	for _, f := range factors {
		v := map[string]any{"id": f.ID, "kind": f.Kind, "label": f.Label, "confirmed": f.Confirmed(),
			"created_at": f.CreatedAt.UTC().Format(time.RFC3339)}
		if f.Confirmed() {
			v["confirmed_at"] = f.ConfirmedAt.UTC().Format(time.RFC3339)
		}
		if !f.LastUsedAt.IsZero() {
			v["last_used_at"] = f.LastUsedAt.UTC().Format(time.RFC3339)
		}
		items = append(items, v)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"items": items, "recovery_codes_left": left})
}
