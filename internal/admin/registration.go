package admin

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/token"
)

// Bounds of an initial access token made through the API.
const (
	defaultTokenLife = 24 * time.Hour
	maxTokenLife     = 365 * 24 * time.Hour
)

// tokenView is the JSON of an initial access token; never its value.
func tokenView(t store.InitialToken) map[string]any {
	uses := any(t.UsesLeft)
	if t.UsesLeft < 0 {
		uses = nil // no limit
	}
	return map[string]any{"id": t.ID, "uses_left": uses, "created_at": t.CreatedAt.UTC().Format(time.RFC3339),
		"expires_at": t.ExpiresAt.UTC().Format(time.RFC3339)}
}

func (a *API) listInitialTokens(w http.ResponseWriter, r *http.Request) error {
	all, err := a.st.ListInitialTokens(r.Context())
	if err != nil {
		return err
	}
	out := listing{Items: []map[string]any{}}
	for _, t := range all {
		out.Items = append(out.Items, tokenView(t))
	}
	return writeJSON(w, http.StatusOK, out)
}

// createInitialToken mints an initial access token (RFC 7591 §3) as
// latchkey registration token create does; its value is shown once.
func (a *API) createInitialToken(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		ExpiresIn *int64 `json:"expires_in"` // seconds
		MaxUses   *int   `json:"max_uses"`   // 0: no limit
	}
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	life, uses := defaultTokenLife, 1
	var errs []FieldError
	if body.ExpiresIn != nil {
		if *body.ExpiresIn < 1 || time.Duration(*body.ExpiresIn)*time.Second > maxTokenLife {
			errs = append(errs, FieldError{Field: "expires_in", Detail: fmt.Sprintf("must be from 1 to %d seconds", int64(maxTokenLife/time.Second))})
		}
		life = time.Duration(*body.ExpiresIn) * time.Second
	}
	if body.MaxUses != nil {
		if *body.MaxUses < 0 {
			errs = append(errs, FieldError{Field: "max_uses", Detail: "must be 0 (no limit) or more"})
		}
		uses = *body.MaxUses
	}
	if len(errs) > 0 {
		return invalid("the token request is not valid", errs...)
	}
	if uses == 0 {
		uses = -1
	}
	raw, _, err := token.New(token.PrefixInitialToken, a.rand)
	if err != nil {
		return err
	}
	id, _, err := token.New("", a.rand)
	if err != nil {
		return err
	}
	now := a.now()
	t := store.InitialToken{ID: id[:12], Digest: token.HashSecret(raw), UsesLeft: uses, CreatedAt: now, ExpiresAt: now.Add(life)}
	if err := a.st.CreateInitialToken(r.Context(), t); err != nil {
		return err
	}
	a.record(r, change{object: "initial_access_token", id: t.ID, action: "create", after: tokenView(t)})
	view := tokenView(t)
	view["initial_access_token"] = raw // shown once; only its digest is stored
	w.Header().Set("Location", Prefix+"/registration/tokens/"+t.ID)
	return writeJSON(w, http.StatusCreated, view)
}

// revokeInitialToken deletes a token; clients it registered stay.
func (a *API) revokeInitialToken(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	err := a.st.DeleteInitialToken(r.Context(), id)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if err == nil {
		a.record(r, change{object: "initial_access_token", id: id, action: "delete"})
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
