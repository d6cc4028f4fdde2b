package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// metadataTTL bounds how stale the advertised grant types and scopes may
// be after a client is added or removed with the CLI.
const metadataTTL = 30 * time.Second

// metadataCache holds the serialized discovery document.
type metadataCache struct {
	mu    sync.Mutex
	body  []byte
	built time.Time
}

// handleMetadata serves RFC 8414 and OpenID Connect Discovery metadata:
// one document at both well-known URLs, whose issuer is the configured one
// byte for byte and never taken from the Host header (S096, S098).
func (s *Server) handleMetadata(w http.ResponseWriter, r *http.Request) error {
	body, err := s.metadata(r.Context())
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	// Public documents: any origin may read them (RFC 9700 §2.6, S120).
	w.Header().Set("Access-Control-Allow-Origin", "*")
	_, _ = w.Write(body)
	return nil
}

func (s *Server) metadata(ctx context.Context) ([]byte, error) {
	s.meta.mu.Lock()
	defer s.meta.mu.Unlock()
	now := s.now()
	if s.meta.body != nil && now.Sub(s.meta.built) < metadataTTL {
		return s.meta.body, nil
	}
	doc, err := s.buildMetadata(ctx)
	if err != nil {
		if s.meta.body != nil {
			// The store is away: the last document is still true enough
			// for clients and resource servers to find the endpoints.
			s.log.WarnContext(ctx, "serving the last metadata document", "err", err)
			return s.meta.body, nil
		}
		return nil, err
	}
	body, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("metadata: marshal: %w", err)
	}
	s.meta.body, s.meta.built = body, now
	return body, nil
}

// buildMetadata lists only what is implemented (S094): password appears
// among the grant types only while some client may use it, and the scopes
// are those some client may be granted. Self-registered clients may be
// many, so they are not listed: what they may get is their policy (the
// registration policy, the CIMD policy), advertised while it is on. The
// clients read are those an operator made, by the source index, never the
// whole table.
func (s *Server) buildMetadata(ctx context.Context) (map[string]any, error) {
	clients, err := s.st.ListOperatorClients(ctx)
	if err != nil {
		return nil, fmt.Errorf("metadata: list clients: %w", err)
	}
	var scopes []string
	if s.cimd != nil {
		scopes = slices.Clone(s.cfg.CIMD.Policy.Scopes)
	}
	add := func(list []string) {
		for _, sc := range list {
			if !slices.Contains(scopes, sc) {
				scopes = append(scopes, sc)
			}
		}
	}
	if s.cfg.Registration.Enabled {
		add(s.cfg.Registration.Policy.Scopes)
		clients = append(clients, store.Client{GrantTypes: s.cfg.Registration.Policy.GrantTypes})
	}
	for _, c := range clients {
		add(c.Scopes)
	}
	if !slices.Contains(scopes, "openid") {
		scopes = append(scopes, "openid")
	}
	slices.Sort(scopes)
	doc := map[string]any{
		"issuer":                                s.issuer,
		"token_endpoint":                        s.endpoint("/token"),
		"jwks_uri":                              s.endpoint("/jwks"),
		"introspection_endpoint":                s.endpoint("/introspect"),
		"revocation_endpoint":                   s.endpoint("/revoke"),
		"grant_types_supported":                 s.advertisedGrants(clients),
		"token_endpoint_auth_methods_supported": s.authMethodNames(true),
		"introspection_endpoint_auth_methods_supported": s.authMethodNames(false),
		"revocation_endpoint_auth_methods_supported":    s.authMethodNames(true),
		"scopes_supported": scopes,
	}
	doc["device_authorization_endpoint"] = s.endpoint("/device_authorization") // S192
	if s.cimd != nil {
		doc["client_id_metadata_document_supported"] = true
	}
	if s.cfg.Registration.Enabled {
		doc["registration_endpoint"] = s.endpoint("/register") // RFC 8414 §2, RFC 7591 §3
	}
	s.addAuthorizationMetadata(doc)
	return doc, nil
}

// advertisedGrants are the registry's grant types in its order, a legacy
// grant only while some client may use it.
func (s *Server) advertisedGrants(clients []store.Client) []string {
	var out []string
	for _, g := range grantRegistry() {
		used := slices.ContainsFunc(clients, func(c store.Client) bool { return slices.Contains(c.GrantTypes, g.Type) })
		if !g.Legacy || used {
			out = append(out, g.Type)
		}
	}
	return out
}

// handleJWKS publishes the public signing keys. The cache lifetime is
// short next to the activation delay, so clients see a staged key before
// it signs anything.
func (s *Server) handleJWKS(w http.ResponseWriter, r *http.Request) error {
	maxAge := min(300*time.Second, s.cfg.KeyActivationDelay/4)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", fmt.Sprintf("public, max-age=%d", int(maxAge.Seconds())))
	w.Header().Set("Access-Control-Allow-Origin", "*")
	_, _ = w.Write(s.keys.JWKS())
	return nil
}
