package server_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/cimd"
	"github.com/latchkey/latchkey/internal/safefetch"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/testenv"
)

// cimdHost is a client's web server: it publishes metadata documents over
// TLS on a loopback listener, one handler per path, and counts the
// connections and requests it receives.
type cimdHost struct {
	*httptest.Server
	mu       sync.Mutex
	paths    map[string]http.HandlerFunc
	hits     map[string]int
	conns    atomic.Int64
	requests atomic.Int64
}

func newCIMDHost(t testing.TB) *cimdHost {
	t.Helper()
	h := &cimdHost{paths: map[string]http.HandlerFunc{}, hits: map[string]int{}}
	h.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.requests.Add(1)
		h.mu.Lock()
		f := h.paths[r.URL.Path]
		h.hits[r.URL.Path]++
		h.mu.Unlock()
		if f == nil {
			http.NotFound(w, r)
			return
		}
		f(w, r)
	}))
	h.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			h.conns.Add(1)
		}
	}
	h.StartTLS()
	t.Cleanup(h.Close)
	return h
}

// publish serves doc (a JSON object without its braces' client_id, which
// is added) at path, with Cache-Control when given, and returns the
// client_id URL.
func (h *cimdHost) publish(path, members, cacheControl string) string {
	id := h.URL + path
	h.handle(path, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if cacheControl != "" {
			w.Header().Set("Cache-Control", cacheControl)
		}
		fmt.Fprintf(w, `{"client_id":%q,%s}`, id, members)
	})
	return id
}

func (h *cimdHost) handle(path string, f http.HandlerFunc) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.paths[path] = f
}

func (h *cimdHost) fetches(path string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.hits[path]
}

// cimdFetcher is the production fetch policy for documents, except that
// loopback is reachable and the host's test certificate trusted.
func cimdFetcher(h *cimdHost, timeout time.Duration) *safefetch.Client {
	pool := x509.NewCertPool()
	pool.AddCert(h.Certificate())
	return safefetch.New(cimd.FetchOptions(safefetch.Options{AllowLoopback: true, Timeout: timeout,
		TLSConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}))
}

// cimdPolicy is what the tests' server grants clients identified by a document.
var cimdPolicy = cimd.Policy{Scopes: []string{"openid", "profile", "read"}, Resources: []string{"https://mcp.example/mcp"}}

// newCIMD starts Latchkey with CIMD on, fetching from h (every host
// allowed unless edit says otherwise), with the user alice.
func newCIMD(t testing.TB, h *cimdHost, edit func(*server.CIMDConfig)) *azSetup {
	t.Helper()
	return newCIMDOn(t, h, testenv.Options{}, edit)
}

// newCIMDOn is newCIMD on the store and issuer of opts.
func newCIMDOn(t testing.TB, h *cimdHost, opts testenv.Options, edit func(*server.CIMDConfig)) *azSetup {
	t.Helper()
	configure := opts.Configure
	opts.Configure = func(c *server.Config) {
		if configure != nil {
			configure(c)
		}
		generous(c)
		c.CIMD = server.CIMDConfig{Enabled: true, Policy: cimdPolicy}
		if h != nil {
			c.CIMD.Fetcher = cimdFetcher(h, 2*time.Second)
			// A document's jwks_uri goes through the JWKS fetcher.
			c.ClientAssertions.AllowLoopbackJWKS = true
			pool := x509.NewCertPool()
			pool.AddCert(h.Certificate())
			c.JWKSFetcher = safefetch.New(safefetch.Options{AllowLoopback: true,
				TLSConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}})
		}
		if edit != nil {
			edit(&c.CIMD)
		}
	}
	env := testenv.New(t, opts)
	s := &azSetup{Env: env}
	if _, err := env.Store.GetUserByUsername(context.Background(), azUser); err != nil {
		s.user = env.AddUser(t, azUser, azPassword, nil)
	}
	return s
}

// publicAgent is the document of a public MCP-style agent.
const publicAgent = `"client_name":"Example Agent","redirect_uris":["` + azCB + `"],"client_uri":"https://agent.example/",` +
	`"logo_uri":"https://agent.example/logo.png","contacts":["dev@agent.example"],"software_id":"agent",` +
	`"grant_types":["authorization_code","refresh_token"],"token_endpoint_auth_method":"none","scope":"openid read"`

// cimdCode runs the code flow for client id through the real pages and
// returns the code and its verifier.
func cimdCode(t *testing.T, s *azSetup, id string) (string, string) {
	t.Helper()
	params, verifier := azParamsWith(id, "scope", "openid read", "resource", "https://mcp.example/mcp")
	return s.browser(t).code(params), verifier
}

// cimdRedeem redeems a code as a public client (client_id in the body).
func cimdRedeem(t *testing.T, env *testenv.Env, id, code, verifier string) result {
	t.Helper()
	return post(t, env, "/token", url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {azCB}, "code_verifier": {verifier}, "client_id": {id}, "resource": {"https://mcp.example/mcp"}})
}

// wantErrorPage checks a 400 HTML error page that redirects nowhere
// (RFC 6749 §4.1.2.1, S012) and mentions want.
func wantErrorPage(t *testing.T, r azResp, want string) {
	t.Helper()
	if r.status != http.StatusBadRequest || r.location() != "" {
		t.Errorf("status %d, Location %q; want 400 and no redirect", r.status, r.location())
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("Content-Type = %q, want an HTML page", ct)
	}
	if !strings.Contains(r.body, want) {
		t.Errorf("page does not mention %q:\n%.1500s", want, r.body)
	}
}
