package server

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/latchkey/latchkey/internal/protocol"
	"github.com/latchkey/latchkey/internal/store"
)

// tokenRequest is one parsed, authenticated request to the token endpoint.
type tokenRequest struct {
	r      *http.Request
	form   protocol.Form
	client store.Client
	method protocol.AuthMethod
	grant  grantDef
	// jkt is the thumbprint of the key of the request's valid DPoP proof,
	// or "" when it sent none (RFC 9449 §5).
	jkt string
}

// context is the request's context (the background for a request built
// without one, as internal tests do).
func (t tokenRequest) context() context.Context {
	if t.r == nil {
		return context.Background()
	}
	return t.r.Context()
}

// handleToken is the token endpoint (RFC 6749 §3.2) as one pipeline:
// parse the form, authenticate the client, check the grant is allowed for
// it, let the grant run, write the response with no-store.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) error {
	// 1. Parse: POST body only, capped, each parameter once.
	form, perr := protocol.ParseForm(r, protocol.MaxFormBytes)
	if perr != nil {
		return perr
	}
	grantType := form.Get("grant_type")
	grant, known := s.grants[grantType]
	if known {
		info(r.Context()).grantType = grantType
	}
	// 2. Authenticate the client before looking at any code or token, so a
	// failed attempt never burns one.
	client, method, err := s.authenticateClient(r, form)
	if err != nil {
		return err
	}
	// 3. The grant must exist and be allowed for this client.
	if grantType == "" {
		return protocol.Errorf(protocol.ErrInvalidRequest, "grant_type is required")
	}
	if !known {
		return protocol.Errorf(protocol.ErrUnsupportedGrantType, "grant type is not supported")
	}
	if !slices.Contains(client.GrantTypes, grantType) {
		return protocol.Errorf(protocol.ErrUnauthorizedClient, "the client may not use this grant type")
	}
	if client.Public && !grant.Public { // S027, S203
		return protocol.Errorf(protocol.ErrUnauthorizedClient, "public clients cannot use %s", strings.ReplaceAll(grantType, "_", " "))
	}
	// 4. A DPoP proof, when sent or required, binds what is issued.
	jkt, err := s.tokenProof(w, r, client)
	if err != nil {
		return err
	}
	// 5. Run the grant.
	resp, err := grant.run(s, tokenRequest{r: r, form: form, client: client, method: method, grant: grant, jkt: jkt})
	if err != nil {
		return err
	}
	// 6. Respond, and record what was issued (never the token itself).
	s.metrics.issued.WithLabelValues(grantType).Inc()
	s.recordIssued(r, client.ID, grantType)
	protocol.WriteToken(w, resp)
	return nil
}

// resolveScope applies RFC 6749 §3.3 to a requested scope: each requested
// scope must be allowed (else invalid_scope); none requested means the
// client's default scopes.
func resolveScope(raw string, c store.Client) ([]string, error) {
	req, ok := protocol.ParseScope(raw)
	if !ok {
		return nil, protocol.Errorf(protocol.ErrInvalidScope, "the scope is malformed")
	}
	if len(req) == 0 {
		if len(c.DefaultScopes) > 0 {
			return slices.Clone(c.DefaultScopes), nil
		}
		return slices.Clone(c.Scopes), nil
	}
	if !protocol.SubsetOf(req, c.Scopes) {
		return nil, protocol.Errorf(protocol.ErrInvalidScope, "a requested scope is not allowed for this client")
	}
	return req, nil
}
