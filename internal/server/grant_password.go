package server

import (
	"github.com/latchkey/latchkey/internal/protocol"
	"github.com/latchkey/latchkey/internal/store"
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
	if err := s.passwordGrantAllowed(t, user); err != nil {
		return protocol.TokenResponse{}, err
	}
	s.log.InfoContext(t.r.Context(), "password grant used", "client_id", t.client.ID, "user_id", user.ID)
	is := issuance{client: t.client, user: &user, scopes: scopes, authTime: s.now(), resources: res, granted: res, jkt: t.jkt,
		amr: []string{amrPassword}, acr: ACRPassword}
	return s.issueWithGrant(t, is)
}

// passwordGrantAllowed refuses the grant for a user whose sign-in needs
// a second factor, which the grant cannot ask for (S026): the user has
// one, or their policy or the client's requires one. A client flagged
// password_grant_mfa may still use it for users who have one (a
// migration); a client that requires MFA never can. Asked only after the
// password was right, so it tells nothing to someone guessing.
func (s *Server) passwordGrantAllowed(t tokenRequest, user store.User) error {
	if t.client.RequireMFA {
		return protocol.Errorf(protocol.ErrInvalidGrant, "this client requires a second factor, which the password grant cannot ask for: use the authorization code flow")
	}
	factors, err := s.confirmedFactors(t.r, user.ID)
	if err != nil {
		return err
	}
	if (len(factors) > 0 && !t.client.PasswordGrantMFA) || (len(factors) == 0 && user.MFARequired) {
		return protocol.Errorf(protocol.ErrInvalidGrant, "this user signs in with a second factor, which the password grant cannot ask for: use the authorization code flow")
	}
	return nil
}
