package server

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"

	"github.com/latchkey/latchkey/internal/clientmeta"
	"github.com/latchkey/latchkey/internal/protocol"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/token"
)

// registrationResponse is the client information response of RFC 7591
// §3.2.1 and RFC 7592 §3: every registered value, the server's choices
// included (S200).
type registrationResponse struct {
	ClientID         string `json:"client_id"`
	ClientSecret     string `json:"client_secret,omitempty"`
	ClientIDIssuedAt int64  `json:"client_id_issued_at"`
	// ClientSecretExpiresAt is always sent, 0 meaning never: RFC 7591
	// requires it with a secret, and some clients (oauth4webapi) always.
	ClientSecretExpiresAt   int64  `json:"client_secret_expires_at"`
	RegistrationAccessToken string `json:"registration_access_token,omitempty"`
	RegistrationClientURI   string `json:"registration_client_uri"`
	clientmeta.Metadata
}

// registrationPolicy is the configured policy in clientmeta's terms: the
// grant registry's entries the configuration allows, and the methods both
// allowed and implemented. The server builds it once.
func (s *Server) registrationPolicy() clientmeta.Policy {
	p := s.cfg.Registration.Policy
	var grants []protocol.GrantInfo
	for _, g := range grantRegistry() {
		if slices.Contains(p.GrantTypes, g.Type) {
			grants = append(grants, g.GrantInfo)
		}
	}
	var methods []protocol.AuthMethod
	for _, m := range p.AuthMethods {
		if _, ok := s.auth[protocol.AuthMethod(m)]; ok {
			methods = append(methods, protocol.AuthMethod(m))
		}
	}
	return clientmeta.Policy{
		Grants:               grants,
		AuthMethods:          methods,
		DefaultAuthMethod:    protocol.AuthMethod(p.DefaultAuthMethod),
		Scopes:               p.Scopes,
		DefaultScopes:        p.DefaultScopes,
		Redirects:            clientmeta.RedirectRules(p.Redirects),
		AllowLoopbackJWKSURI: s.cfg.ClientAssertions.AllowLoopbackJWKS,
	}
}

// handleRegister is the client registration endpoint (RFC 7591 §3): a
// JSON body of client metadata, allowed by an initial access token or,
// when registration is open, anonymously within a per-IP limit (S196).
// The answer is 201 with every registered value and the credentials,
// shown once (S200).
func (s *Server) handleRegister(w http.ResponseWriter, r *http.Request) error {
	if err := s.allowRegistration(r); err != nil {
		return err
	}
	m, err := readMetadata(r)
	if err != nil {
		return err
	}
	if m, err = clientmeta.Validate(m, s.regPolicy); err != nil {
		return err
	}
	id, err := randomID(s.rand)
	if err != nil {
		return err
	}
	c, resp, err := s.newRegistration(m, "dcr_"+id)
	if err != nil {
		return err
	}
	switch err := s.st.RegisterClient(r.Context(), c, s.cfg.Registration.Policy.MaxClients); {
	case errors.Is(err, store.ErrLimit):
		return &protocol.Error{Code: protocol.ErrAccessDenied, Status: http.StatusForbidden,
			Description: "this server accepts no more client registrations; ask its operator"}
	case err != nil:
		return fmt.Errorf("register client: %w", err)
	}
	s.log.InfoContext(r.Context(), "client registered", "client", c)
	return s.writeRegistration(w, http.StatusCreated, resp)
}

// newRegistration builds the record of a new registration and its
// response: the client's secret when its method uses one, and its
// registration access token, each stored only as a digest.
func (s *Server) newRegistration(m clientmeta.Metadata, id string) (store.Client, registrationResponse, error) {
	now := s.now()
	c := m.Client(id)
	c.Resources = s.cfg.Registration.Policy.Resources
	c.CreatedAt, c.UpdatedAt = now, now
	resp := registrationResponse{ClientID: id, ClientIDIssuedAt: now.Unix(),
		RegistrationClientURI: s.endpoint("/register/" + id), Metadata: m}
	if protocol.AuthMethod(m.TokenEndpointAuthMethod).UsesSecret() {
		secret, _, err := token.New(token.PrefixClientSecret, s.rand)
		if err != nil {
			return c, resp, err
		}
		c.SecretHash, resp.ClientSecret = token.HashSecret(secret), secret
	}
	rat, _, err := token.New(token.PrefixRegistrationToken, s.rand)
	if err != nil {
		return c, resp, err
	}
	c.RegistrationTokenHash, resp.RegistrationAccessToken = token.HashSecret(rat), rat
	return c, resp, nil
}

// readMetadata reads the JSON body of a registration or update: the media
// type application/json, at most clientmeta.MaxSize bytes.
func readMetadata(r *http.Request) (clientmeta.Metadata, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return clientmeta.Metadata{}, &protocol.Error{Code: protocol.ErrInvalidClientMetadata, Status: http.StatusUnsupportedMediaType,
			Description: "send the client metadata as Content-Type: application/json (RFC 7591 section 3)"}
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, clientmeta.MaxSize+1))
	if err != nil || len(body) > clientmeta.MaxSize {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) || len(body) > clientmeta.MaxSize {
			return clientmeta.Metadata{}, &protocol.Error{Code: protocol.ErrInvalidClientMetadata, Status: http.StatusRequestEntityTooLarge,
				Description: fmt.Sprintf("the client metadata is larger than %d bytes", clientmeta.MaxSize)}
		}
		return clientmeta.Metadata{}, protocol.Errorf(protocol.ErrInvalidRequest, "the request body could not be read")
	}
	return clientmeta.Parse(body)
}

// bearerToken is the Bearer token of the Authorization header, "" when
// there is none; two headers or another scheme are refused.
func bearerToken(r *http.Request) (string, error) {
	auth := r.Header.Values("Authorization")
	switch {
	case len(auth) == 0:
		return "", nil
	case len(auth) > 1:
		return "", bearerError(protocol.ErrInvalidRequest, "more than one Authorization header")
	}
	name, rest, _ := strings.Cut(auth[0], " ")
	if !strings.EqualFold(name, protocol.TokenTypeBearer) || strings.TrimSpace(rest) == "" {
		return "", bearerError(protocol.ErrInvalidToken, "send the token in Authorization: Bearer")
	}
	return strings.TrimSpace(rest), nil
}
