package server

import (
	"github.com/latchkey/latchkey/internal/protocol"
)

// grantPassword is RFC 6749 §4.3, on only for clients that list it.
// Guessing is limited per username, client and IP with progressive delays
// shared by all instances (S025); an unknown user costs the same argon2id
// check as a wrong password.
func (s *Server) grantPassword(t tokenRequest) (protocol.TokenResponse, error) {
	username, pw := t.form.Get("username"), t.form.Get("password")
	if username == "" || pw == "" {
		return protocol.TokenResponse{}, protocol.Errorf(protocol.ErrInvalidRequest, "username and password are required")
	}
	scopes, err := resolveScope(t.form.Get("scope"), t.client)
	if err != nil {
		return protocol.TokenResponse{}, err
	}
	res, err := requestedResources(t, nil, false)
	if err != nil {
		return protocol.TokenResponse{}, err
	}
	user, err := s.checkUserPassword(t.r, t.client.ID, username, pw)
	if err != nil {
		return protocol.TokenResponse{}, err
	}
	s.log.InfoContext(t.r.Context(), "password grant used", "client_id", t.client.ID, "user_id", user.ID)
	is := issuance{client: t.client, user: &user, scopes: scopes, authTime: s.now(), resources: res, granted: res, jkt: t.jkt}
	return s.issueWithGrant(t, is)
}
