package server

import (
	"fmt"

	"github.com/latchkey/latchkey/internal/protocol"
	"github.com/latchkey/latchkey/internal/store"
)

// grantClientCredentials is RFC 6749 §4.4: a confidential client (the
// registry keeps public ones out) gets a token for itself. No refresh token (S028); a JWT access token writes
// nothing to the database.
func (s *Server) grantClientCredentials(t tokenRequest) (protocol.TokenResponse, error) {
	scopes, err := resolveScope(t.form.Get("scope"), t.client)
	if err != nil {
		return protocol.TokenResponse{}, err
	}
	res, err := requestedResources(t, nil, false)
	if err != nil {
		return protocol.TokenResponse{}, err
	}
	now := s.now()
	is := issuance{client: t.client, scopes: scopes, resources: res, jkt: t.jkt}
	access, rec, err := s.mintAccess(t.context(), is, now)
	if err != nil {
		return protocol.TokenResponse{}, err
	}
	if rec != nil {
		if err := s.st.SaveIssue(t.r.Context(), store.Issue{Access: rec}); err != nil {
			return protocol.TokenResponse{}, fmt.Errorf("client credentials: store token: %w", err)
		}
	}
	return s.respond(t.context(), is, access, "", now)
}
