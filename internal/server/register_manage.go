package server

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/latchkey/latchkey/internal/clientmeta"
	"github.com/latchkey/latchkey/internal/protocol"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/token"
)

// handleClientConfiguration is the client configuration endpoint of RFC
// 7592 at registration_client_uri: GET reads the registration, PUT
// replaces it, DELETE removes the client and everything issued to it.
// Each needs the client's registration access token.
func (s *Server) handleClientConfiguration(w http.ResponseWriter, r *http.Request) error {
	switch r.Method {
	case http.MethodGet, http.MethodPut, http.MethodDelete:
	default:
		return notAllowed(w, "GET, PUT, DELETE")
	}
	c, err := s.registeredClient(r)
	if err != nil {
		return err
	}
	switch r.Method {
	case http.MethodGet:
		return s.writeRegistration(w, http.StatusOK, s.registrationOf(c))
	case http.MethodPut:
		return s.updateRegistration(w, r, c)
	}
	if err := s.st.DeleteClient(r.Context(), c.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("delete registered client: %w", err)
	}
	s.log.InfoContext(r.Context(), "registered client deleted", "client", c)
	protocol.NoStore(w.Header())
	w.WriteHeader(http.StatusNoContent) // RFC 7592 §2.3
	return nil
}

// registeredClient is the client named in the path when the request
// carries its registration access token. An unknown client, a client not
// registered over HTTP and a wrong token all get the same 401 (RFC 7592
// §2.1), so the endpoint tells nothing to someone without the token.
func (s *Server) registeredClient(r *http.Request) (store.Client, error) {
	raw, err := bearerToken(r)
	if err != nil {
		return store.Client{}, err
	}
	if raw == "" {
		return store.Client{}, &protocol.Error{Code: protocol.ErrInvalidToken, Challenge: `Bearer realm="latchkey"`,
			Description: "send the registration access token in Authorization: Bearer"}
	}
	refused := bearerError(protocol.ErrInvalidToken, "the registration access token is not valid for this client")
	c, err := s.clientUncached(r.Context(), r.PathValue("id"))
	switch {
	case errors.Is(err, store.ErrNotFound):
		token.CheckSecretDigest(raw, token.HashSecret("")) // the same work as a known client
		return store.Client{}, refused
	case err != nil:
		return store.Client{}, err
	case !token.CheckSecretDigest(raw, c.RegistrationTokenHash) || c.RegistrationTokenHash == "":
		return store.Client{}, refused
	}
	info(r.Context()).clientID = c.ID
	return c, nil
}

// updateRegistration replaces the registration with the request's
// metadata (RFC 7592 §2.2), validated as a new registration is: a value
// the policy does not allow is refused, never kept from before. The body
// names the client's id and, if it sends client_secret, the current one.
// The registration access token rotates: the old one stops working.
func (s *Server) updateRegistration(w http.ResponseWriter, r *http.Request, old store.Client) error {
	m, err := readMetadata(r)
	if err != nil {
		return err
	}
	p := s.regPolicy
	p.ClientID = old.ID
	if m, err = clientmeta.Validate(m, p); err != nil {
		return err
	}
	if m.ClientSecret != "" && !token.CheckSecretDigest(m.ClientSecret, old.SecretHash) {
		return protocol.Errorf(protocol.ErrInvalidClientMetadata, "client_secret does not match the client's secret; leave it out or send the current one")
	}
	next, resp, err := s.newRegistration(m, old.ID)
	if err != nil {
		return err
	}
	next.CreatedAt = old.CreatedAt
	resp.ClientIDIssuedAt = old.CreatedAt.Unix()
	if old.SecretHash != "" && protocol.AuthMethod(m.TokenEndpointAuthMethod).UsesSecret() {
		next.SecretHash, resp.ClientSecret = old.SecretHash, "" // the secret stays; it was shown once
	}
	switch err := s.st.UpdateRegisteredClient(r.Context(), next, old.RegistrationTokenHash); {
	case errors.Is(err, store.ErrNotFound): // deleted, or rotated by a concurrent update
		return bearerError(protocol.ErrInvalidToken, "the registration access token is not valid for this client")
	case err != nil:
		return fmt.Errorf("update registered client: %w", err)
	}
	s.log.InfoContext(r.Context(), "registered client updated", "client", next)
	return s.writeRegistration(w, http.StatusOK, resp)
}

// registrationOf is the read response of a stored client: its metadata,
// without credentials (they were shown once and are kept as digests).
func (s *Server) registrationOf(c store.Client) registrationResponse {
	return registrationResponse{ClientID: c.ID, ClientIDIssuedAt: c.CreatedAt.Unix(),
		RegistrationClientURI: s.endpoint("/register/" + c.ID), Metadata: clientmeta.FromClient(c)}
}

// writeRegistration writes a client information response, never cached.
func (s *Server) writeRegistration(w http.ResponseWriter, status int, resp registrationResponse) error {
	protocol.NoStore(w.Header())
	protocol.WriteJSON(w, status, resp)
	return nil
}
