package server_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/cimd"
	"github.com/latchkey/latchkey/internal/protocol"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/testenv"
)

// cimdTokenTry is a token request naming id as a public client.
func cimdTokenTry(id string) url.Values {
	return url.Values{"grant_type": {"authorization_code"}, "code": {"lk_ac_nothing"}, "redirect_uri": {azCB},
		"code_verifier": {strings.Repeat("v", 43)}, "client_id": {id}}
}

// wantClientRefused: /authorize shows an error page and redirects
// nowhere (the redirect URIs are unknown), and the token endpoint answers
// 401 invalid_client.
func wantClientRefused(t *testing.T, s *azSetup, id, page string) {
	t.Helper()
	wantErrorPage(t, s.browser(t).authorize(azReq(id)), page)
	r := post(t, s.Env, "/token", cimdTokenTry(id))
	wantOAuthError(t, r, http.StatusUnauthorized, protocol.ErrInvalidClient)
	if desc, _ := r.JSON(t)["error_description"].(string); page != "Unknown application" && !strings.Contains(desc, page) {
		t.Errorf("error_description %q does not say %q", desc, page)
	}
	if _, err := s.Store.GetClient(context.Background(), id); err == nil {
		t.Errorf("a refused client_id %s has a client row", id)
	}
}

// TestCIMDRefusedDocuments: documents and client_id URLs the draft rules
// out, each refused at both endpoints without a row in the store: a
// client_id that is not the document's URL, a shared-secret method, a
// body over the size cap, a body that never ends (timeout), a redirect
// (never followed: the other host receives nothing), http, a fragment,
// userinfo, a missing document.
func TestCIMDRefusedDocuments(t *testing.T) {
	h, elsewhere := newCIMDHost(t), newCIMDHost(t)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	doc := `"redirect_uris":["` + azCB + `"]`
	h.publish("/agent.json", publicAgent, "")
	h.handle("/wrong.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"client_id":%q,%s}`, h.URL+"/agent.json", doc)
	})
	h.publish("/secret.json", doc+`,"token_endpoint_auth_method":"client_secret_basic"`, "")
	h.publish("/huge.json", doc+`,"pad":"`+strings.Repeat("x", 64<<10)+`"`, "")
	h.handle("/slow.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"client_id":`)
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	elsewhere.publish("/agent.json", publicAgent, "")
	h.handle("/moved.json", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+"/agent.json", http.StatusFound)
	})
	s := newCIMD(t, h, func(c *server.CIMDConfig) { c.Fetcher = cimdFetcher(h, 400*time.Millisecond) })
	hostport := strings.TrimPrefix(h.URL, "https://")

	for name, tc := range map[string]struct{ id, page string }{
		"client_id is not the URL": {h.URL + "/wrong.json", "is not the URL it was fetched from"},
		"client_secret_basic":      {h.URL + "/secret.json", "no shared secrets"},
		"oversized":                {h.URL + "/huge.json", "could not be fetched"},
		"slow":                     {h.URL + "/slow.json", "could not be fetched"},
		"redirect":                 {h.URL + "/moved.json", "could not be fetched"},
		"missing":                  {h.URL + "/nothing.json", "could not be fetched"},
		"http":                     {"http://" + hostport + "/agent.json", "the scheme must be https"},
		"fragment":                 {h.URL + "/agent.json#x", "must not contain a fragment"},
		"userinfo":                 {"https://user:pw@" + hostport + "/agent.json", "user name or password"},
		"dot segment":              {h.URL + "/x/../agent.json", "segments"},
		"no path":                  {h.URL, "must have a path"},
	} {
		t.Run(name, func(t *testing.T) { wantClientRefused(t, s, tc.id, tc.page) })
	}
	if n := elsewhere.requests.Load(); n != 0 {
		t.Errorf("the redirect target received %d requests: redirects must not be followed", n)
	}
	for _, path := range []string{"/agent.json"} {
		if n := h.fetches(path); n != 0 {
			t.Errorf("%s fetched %d times for refused URLs", path, n)
		}
	}
}

// TestCIMDRedirectURINotInDocument: a redirect_uri the document does not
// list is an error page, never a redirect (S012, S099).
func TestCIMDRedirectURINotInDocument(t *testing.T) {
	h := newCIMDHost(t)
	id := h.publish("/agent.json", publicAgent, "")
	s := newCIMD(t, h, nil)
	p, _ := azParamsWith(id, "redirect_uri", "https://attacker.example/cb")
	wantErrorPage(t, s.browser(t).authorize(p), "Redirect address not allowed")
	p, _ = azParamsWith(id, "redirect_uri", azCB+"/x")
	wantErrorPage(t, s.browser(t).authorize(p), "Redirect address not allowed")
}

// TestCIMDHostPolicy: a host on the denylist, or missing from the
// allowlist, is refused before any fetch.
func TestCIMDHostPolicy(t *testing.T) {
	h := newCIMDHost(t)
	id := h.publish("/agent.json", publicAgent, "")
	for name, hosts := range map[string]cimd.Hosts{
		"denied":      {Deny: []string{"127.0.0.1"}},
		"not allowed": {Allow: []string{"*.example.com", "tools.example.org"}},
	} {
		t.Run(name, func(t *testing.T) {
			s := newCIMD(t, h, func(c *server.CIMDConfig) { c.Hosts = hosts })
			wantClientRefused(t, s, id, "does not accept clients from 127.0.0.1")
		})
	}
	if n := h.requests.Load(); n != 0 {
		t.Errorf("the host received %d requests, want none", n)
	}
}

// TestCIMDDisabled: with CIMD off a URL client_id is an unknown client,
// nothing is fetched, and a client once resolved from a document (a row
// left from when CIMD was on) cannot be used; discovery does not claim
// support.
func TestCIMDDisabled(t *testing.T) {
	h := newCIMDHost(t)
	id := h.publish("/agent.json", publicAgent, "")
	env := testenv.New(t, testenv.Options{Configure: generous})
	s := &azSetup{Env: env}
	wantClientRefused(t, s, id, "Unknown application")

	now := env.Clock.Now()
	stale := store.Client{ID: id, Name: "Agent", Public: true, TokenEndpointAuthMethod: "none", RedirectURIs: []string{azCB},
		GrantTypes: []string{"authorization_code"}, Scopes: []string{"openid"}, Source: cimd.Source, CreatedAt: now, UpdatedAt: now}
	if err := env.Store.UpsertClient(context.Background(), stale); err != nil {
		t.Fatal(err)
	}
	wantErrorPage(t, s.browser(t).authorize(azReq(id)), "Unknown application")
	wantOAuthError(t, post(t, env, "/token", cimdTokenTry(id)), http.StatusUnauthorized, protocol.ErrInvalidClient)
	if n := h.requests.Load(); n != 0 {
		t.Errorf("the host received %d requests with CIMD off", n)
	}
	if _, ok := discovery(t, env)["client_id_metadata_document_supported"]; ok {
		t.Error("discovery claims CIMD support while it is off")
	}
	on := newCIMD(t, h, nil)
	if discovery(t, on.Env)["client_id_metadata_document_supported"] != true {
		t.Error("discovery does not advertise client_id_metadata_document_supported with CIMD on")
	}
}

func discovery(t *testing.T, env *testenv.Env) map[string]any {
	t.Helper()
	r := send(t, env, http.MethodGet, "/.well-known/oauth-authorization-server", "", "")
	if r.Status != http.StatusOK {
		t.Fatalf("metadata: %d", r.Status)
	}
	return r.JSON(t)
}

// TestCIMDSSRF: with the production fetch policy, client_id URLs aimed at
// the cloud metadata service, at a listener of the machine itself (by
// address and by names that resolve to it, checked at dial time), or at
// a database port over http are refused, and the loopback listener
// receives nothing: no request, no connection (A25).
func TestCIMDSSRF(t *testing.T) {
	h := newCIMDHost(t)
	h.publish("/agent.json", publicAgent, "")
	_, port, _ := net.SplitHostPort(h.Listener.Addr().String())
	s := newCIMD(t, nil, nil) // production fetcher: no loopback, public addresses only
	ids := map[string]string{
		"metadata service": "https://169.254.169.254/latest/meta-data/client.json",
		"loopback address": h.URL + "/agent.json",
		"localhost":        "https://localhost:" + port + "/agent.json",
		"ipv6 loopback":    "https://[::1]:" + port + "/agent.json",
		"postgres http":    "http://127.0.0.1:5432/",
		"private address":  "https://10.0.0.1/agent.json",
		"mapped metadata":  "https://[::ffff:169.254.169.254]/agent.json",
	}
	if name, err := os.Hostname(); err == nil {
		if addrs, err := net.LookupHost(name); err == nil && len(addrs) > 0 && net.ParseIP(addrs[0]).IsLoopback() {
			ids["machine name"] = "https://" + name + ":" + port + "/agent.json" // a name resolving to loopback
		}
	}
	for name, id := range ids {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			wantOAuthError(t, post(t, s.Env, "/token", cimdTokenTry(id)), http.StatusUnauthorized, protocol.ErrInvalidClient)
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("refusing took %v: the address was dialled, not refused by policy", d)
			}
		})
	}
	if c, r := h.conns.Load(), h.requests.Load(); c != 0 || r != 0 {
		t.Errorf("the loopback listener received %d connections and %d requests, want none (A25)", c, r)
	}
	if !strings.Contains(s.Logs.String(), "address not allowed") {
		t.Error("the refusals' reasons are not in the log")
	}
}
