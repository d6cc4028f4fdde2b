package admin

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// A client's grants: every user's (and its own, from client credentials)
// that are live, listed a keyset page at a time, and revoked one by one.

// grantView is a grant as the admin API shows it.
func grantView(g store.Grant) map[string]any {
	v := map[string]any{"id": g.ID, "client_id": g.ClientID, "scopes": nonNil(g.Scopes),
		"created_at": g.CreatedAt.UTC().Format(time.RFC3339), "expires_at": g.ExpiresAt.UTC().Format(time.RFC3339)}
	if g.UserID != "" {
		v["user_id"] = g.UserID
	}
	return v
}

func (a *API) listClientGrants(w http.ResponseWriter, r *http.Request) error {
	p, err := readPage(r)
	if err != nil {
		return err
	}
	c, err := a.st.GetClient(r.Context(), r.PathValue("id"))
	if err != nil {
		return notFound(err, "client", r.PathValue("id"))
	}
	all, err := a.st.ListClientGrantsPage(r.Context(), store.GrantQuery{
		ClientID: c.ID, After: p.after, Limit: p.limit + 1, Now: a.now(),
	})
	if err != nil {
		return err
	}
	out := listing{Items: []map[string]any{}}
	for i, g := range all {
		if i == p.limit {
			out.NextCursor = cursorOf(all[i-1].ID)
			break
		}
		out.Items = append(out.Items, grantView(g))
	}
	return writeJSON(w, http.StatusOK, out)
}

// revokeClientGrant revokes one of the client's grants with every refresh
// and access token issued under it (RevokeGrant). Revoking it again is
// 204; a grant that is not the client's is 404, as is an unknown client.
func (a *API) revokeClientGrant(w http.ResponseWriter, r *http.Request) error {
	id, gid := r.PathValue("id"), r.PathValue("grant_id")
	if _, err := a.st.GetClient(r.Context(), id); err != nil {
		return notFound(err, "client", id)
	}
	g, err := a.st.GetGrant(r.Context(), gid)
	if errors.Is(err, store.ErrNotFound) || err == nil && g.ClientID != id {
		return problem(http.StatusNotFound, fmt.Sprintf("client %q has no grant %q", id, gid))
	} else if err != nil {
		return err
	}
	if !g.RevokedAt.IsZero() {
		w.WriteHeader(http.StatusNoContent) // revoked already
		return nil
	}
	if err := a.st.RevokeGrant(r.Context(), gid, a.now()); err != nil {
		return fmt.Errorf("revoke grant: %w", err)
	}
	a.record(r, change{object: "grant", id: gid, action: "revoke", userID: g.UserID, clientID: id})
	w.WriteHeader(http.StatusNoContent)
	return nil
}
