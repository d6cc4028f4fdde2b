package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"

	"github.com/latchkey/latchkey/internal/cimd"
	"github.com/latchkey/latchkey/internal/safefetch"
	"github.com/latchkey/latchkey/internal/server"
)

// agentDocument is the Client ID Metadata Document of a public MCP agent
// whose redirect URI is redirect.
func agentDocument(id, redirect string) string {
	return fmt.Sprintf(`{"client_id":%q,"client_name":"Notes agent (CIMD)","redirect_uris":[%q],`+
		`"grant_types":["authorization_code","refresh_token"],"response_types":["code"],`+
		`"token_endpoint_auth_method":"none","scope":"notes:read notes:write"}`, id, redirect)
}

// TestAgentWithClientIDMetadataDocument runs the MCP authorization flow
// with a client that no one registered: its client_id is the https URL of
// its metadata document (draft-ietf-oauth-client-id-metadata-document),
// served here over TLS with a test certificate that Latchkey's document
// fetcher trusts. The SDK uses it because Latchkey's metadata says
// client_id_metadata_document_supported; Latchkey fetches the document,
// and grants within its CIMD policy, whose resources name the MCP server.
func TestAgentWithClientIDMetadataDocument(t *testing.T) {
	cb := newCallback(t)
	var fetches atomic.Int64
	var docURL string
	host := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/agents/notes.json" {
			http.NotFound(w, r)
			return
		}
		fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "max-age=300")
		fmt.Fprint(w, agentDocument(docURL, cb.URL+"/cb"))
	}))
	host.StartTLS()
	t.Cleanup(host.Close)
	docURL = host.URL + "/agents/notes.json"

	s := newStack(t, func(c *server.Config, resource string) {
		pool := x509.NewCertPool()
		pool.AddCert(host.Certificate())
		c.CIMD = server.CIMDConfig{Enabled: true,
			Policy: cimd.Policy{Scopes: []string{scopeRead, scopeWrite}, Resources: []string{resource}},
			// The production fetch policy, but loopback is reachable and
			// the test certificate trusted.
			Fetcher: safefetch.New(cimd.FetchOptions(safefetch.Options{AllowLoopback: true, Timeout: 5 * time.Second,
				TLSConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}})),
		}
	})
	a := connect(t, s, cb, func(c *auth.AuthorizationCodeHandlerConfig) {
		c.ClientIDMetadataDocumentConfig = &auth.ClientIDMetadataDocumentConfig{URL: docURL}
	})
	checkDiscovery(t, s, a, docURL, false)
	if fetches.Load() == 0 {
		t.Error("Latchkey never fetched the metadata document")
	}
	c, err := s.env.Store.GetClient(t.Context(), docURL)
	if err != nil || c.Source != cimd.Source || !c.Public {
		t.Errorf("the client row of %s: %+v %v, want a public client from a document", docURL, c, err)
	}
	checkTools(t, s, a, docURL)
	checkRefresh(t, a)
}
