package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/latchkey/latchkey/internal/cimd"
	"github.com/latchkey/latchkey/internal/protocol"
	"github.com/latchkey/latchkey/internal/safefetch"
	"github.com/latchkey/latchkey/internal/store"
)

// CIMDConfig turns on Client ID Metadata Documents
// (draft-ietf-oauth-client-id-metadata-document): a client_id that is an
// https URL is the client's own published metadata.
type CIMDConfig struct {
	// Enabled resolves URL client_ids and advertises
	// client_id_metadata_document_supported.
	Enabled bool
	// Hosts are the client hosts allowed to publish documents.
	Hosts cimd.Hosts
	// Policy bounds the scopes and resources such clients may get.
	Policy cimd.Policy
	// AllowLoopback, for development only, lets documents (and nothing
	// else) be fetched from loopback addresses.
	AllowLoopback bool
	// Fetcher replaces the fetcher built from cimd.FetchOptions (tests
	// trust their own TLS certificate through it).
	Fetcher *safefetch.Client
}

// clientUpserter is the store's side of CIMD: resolved clients get a row.
type clientUpserter interface {
	UpsertClient(ctx context.Context, c store.Client) error
}

// newResolver builds the CIMD resolver, or nil when CIMD is off.
func (s *Server) newResolver(st Store) (*cimd.Resolver, error) {
	c := s.cfg.CIMD
	if !c.Enabled {
		return nil, nil
	}
	up, ok := st.(clientUpserter)
	if !ok {
		return nil, errors.New("server: client ID metadata documents need a store that can save clients")
	}
	if c.Fetcher == nil {
		c.Fetcher = safefetch.New(cimd.FetchOptions(safefetch.Options{AllowLoopback: c.AllowLoopback}))
	}
	policy := c.Policy
	policy.AllowLoopbackJWKS = s.cfg.ClientAssertions.AllowLoopbackJWKS
	return cimd.NewResolver(cimd.Config{Fetch: c.Fetcher, Store: resolverStore{s, up}, Now: s.now,
		Hosts: c.Hosts, Policy: policy, Log: s.log})
}

// resolverStore reads client rows past the read cache and writes them.
type resolverStore struct {
	s *Server
	clientUpserter
}

func (r resolverStore) GetClient(ctx context.Context, id string) (store.Client, error) {
	return r.s.clientUncached(ctx, id)
}

// findClient returns the client a request names. A URL client_id goes to
// the CIMD resolver when CIMD is on (a client registered otherwise under
// that id wins); a client once resolved from a document is unknown while
// CIMD is off. fresh reads past the read cache. Errors of the resolver
// are *protocol.Error invalid_client.
func (s *Server) findClient(ctx context.Context, id string, fresh bool) (store.Client, error) {
	if s.cimd != nil && cimd.LooksLikeURL(id) {
		c, err := s.cimd.Resolve(ctx, id)
		if !errors.Is(err, cimd.ErrRegistered) {
			return c, s.cimdError(err)
		}
	}
	get := s.st.GetClient
	if fresh {
		get = s.clientUncached
	}
	c, err := get(ctx, id)
	if err == nil && c.Source == cimd.Source && s.cimd == nil {
		return store.Client{}, store.ErrNotFound
	}
	return c, err
}

// cimdError describes a refused document to the client's developer. The
// reason a fetch failed stays in the log: it may tell how the server's
// own network resolves a name.
func (s *Server) cimdError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, cimd.ErrNotAllowed), errors.Is(err, cimd.ErrInvalidDocument):
		return protocol.InvalidClient(cimdReason(err))
	case errors.Is(err, cimd.ErrUnavailable):
		return protocol.InvalidClient("the client's metadata document could not be fetched")
	}
	return fmt.Errorf("resolve client metadata document: %w", err)
}

// cimdReason is err's message without the package prefix, its double
// quotes made single (error_description allows no '"', RFC 6749 §5.2).
func cimdReason(err error) string {
	msg := strings.ReplaceAll(strings.TrimPrefix(err.Error(), "cimd: "), `"`, "'")
	return protocol.SafeDescription(msg)
}

// badClientDocPage: the client_id names a metadata document that cannot
// be used, so its redirect URIs are unknown and nothing is redirected.
func badClientDocPage(e *protocol.Error) *protocol.Error {
	return protocol.Page(protocol.ErrInvalidClient, http.StatusBadRequest, "Application not accepted",
		"The application that sent you here identifies itself with a document this server cannot use: "+e.Description+".",
		"Go back to the application and tell its developers; you are not sent anywhere.")
}

// clientHost is the host of a CIMD client's id, shown on the consent
// page; "" for a registered client.
func clientHost(c store.Client) string {
	if c.Source != cimd.Source {
		return ""
	}
	u, err := url.Parse(c.ID)
	if err != nil {
		return ""
	}
	return u.Host
}
