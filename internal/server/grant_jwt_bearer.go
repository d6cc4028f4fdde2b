package server

import (
	"fmt"
	"slices"
	"strings"

	"github.com/latchkey/latchkey/internal/protocol"
	"github.com/latchkey/latchkey/internal/store"
)

// grantJWTBearer is RFC 7523 §2.1: a confidential client presents a JWT
// that a trusted issuer signed for a workload (a Kubernetes service
// account, a CI job) and gets an access token whose sub is the workload's
// namespaced subject. No refresh token (§3.1: the client presents a new
// assertion instead). The access token lives the client's access TTL: RFC
// 7523 does not tie it to the assertion's exp.
func (s *Server) grantJWTBearer(t tokenRequest) (protocol.TokenResponse, error) {
	raw := t.form.Get("assertion")
	if raw == "" {
		return protocol.TokenResponse{}, protocol.Errorf(protocol.ErrInvalidRequest, "assertion is required")
	}
	now := s.now()
	ext, err := s.verifyExternal(t.r.Context(), raw, t.client, now)
	if err != nil {
		return protocol.TokenResponse{}, err
	}
	scopes, err := externalScope(t.form.Get("scope"), t.client, ext.Scopes)
	if err != nil {
		return protocol.TokenResponse{}, err
	}
	res, err := requestedResources(t, nil, false)
	if err != nil {
		return protocol.TokenResponse{}, err
	}
	is := issuance{client: t.client, scopes: scopes, resources: res, jkt: t.jkt, sub: ext.Subject}
	access, rec, err := s.mintAccess(t.context(), is, now)
	if err != nil {
		return protocol.TokenResponse{}, err
	}
	if rec != nil {
		if err := s.st.SaveIssue(t.r.Context(), store.Issue{Access: rec}); err != nil {
			return protocol.TokenResponse{}, fmt.Errorf("jwt bearer: store token: %w", err)
		}
	}
	s.log.InfoContext(t.r.Context(), "token issued for an external subject", "client_id", t.client.ID,
		"trusted_issuer", ext.Name, "sub", ext.Subject)
	return s.respond(t.context(), is, access, "", now)
}

// externalScope is RFC 6749 §3.3 within two bounds: what the client may
// have and what the issuer's tokens may be given. None requested means
// the client's default scopes (or all of its scopes) that the issuer
// allows.
func externalScope(raw string, c store.Client, issuerScopes []string) ([]string, error) {
	scopes, err := resolveScope(raw, c)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(raw) == "" {
		return slices.DeleteFunc(scopes, func(sc string) bool { return !slices.Contains(issuerScopes, sc) }), nil
	}
	if !protocol.SubsetOf(scopes, issuerScopes) {
		return nil, protocol.Errorf(protocol.ErrInvalidScope, "a requested scope is not allowed for tokens of this issuer")
	}
	return scopes, nil
}
