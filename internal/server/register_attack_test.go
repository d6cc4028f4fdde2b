package server_test

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/clientmeta"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/token"
)

// wantRegError checks a registration error: status, code, JSON body, no
// caching; and that no client was stored.
func wantRegError(t testing.TB, f *fixture, r result, status int, code string) {
	t.Helper()
	if r.Status != status {
		t.Errorf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	if r.Header.Get("Cache-Control") != "no-store" || r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("headers %v", r.Header)
	}
	if got := r.JSON(t)["error"]; got != code {
		t.Errorf("error %v, want %s: %s", got, code, r.Body)
	}
	if n := f.countRows(t)["clients"]; n != 0 {
		t.Errorf("%d clients stored after a refused registration", n)
	}
}

// TestRegisterRefusesMetadata sends every bad registration of RFC 7591
// §3.2.2 and STANDARDS S197-S203 over HTTP: 400 with the RFC code, nothing
// stored.
func TestRegisterRefusesMetadata(t *testing.T) {
	f := newFixture(t, regOpen)
	const uri, md = "invalid_redirect_uri", "invalid_client_metadata"
	cases := []struct{ name, body, code string }{
		{"S198 fragment", `{"redirect_uris":["https://a.example/cb#f"]}`, uri},
		{"S198 wildcard", `{"redirect_uris":["https://*.a.example/cb"]}`, uri},
		{"S198 http not loopback", `{"redirect_uris":["http://a.example/cb"]}`, uri},
		{"S198 javascript", `{"redirect_uris":["javascript:alert(document.domain)"]}`, uri},
		{"S198 data", `{"redirect_uris":["data:text/html;base64,PHNjcmlwdD4="]}`, uri},
		{"S198 missing for the code grant", `{"token_endpoint_auth_method":"none"}`, uri},
		{"implicit", `{"redirect_uris":["https://a.example/cb"],"grant_types":["implicit"],"response_types":["token"]}`, md},
		{"S203 public client credentials", `{"grant_types":["client_credentials"],"token_endpoint_auth_method":"none"}`, md},
		{"S203 public password", `{"grant_types":["password"],"token_endpoint_auth_method":"none"}`, md},
		{"password not in the policy", `{"grant_types":["password"]}`, md},
		{"token exchange not in the policy", `{"grant_types":["urn:ietf:params:oauth:grant-type:token-exchange"]}`, md},
		{"S197 jwks and jwks_uri", `{"grant_types":["client_credentials"],"token_endpoint_auth_method":"private_key_jwt",
			"jwks_uri":"https://keys.example/jwks","jwks":{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}}`, md},
		{"scope beyond policy", `{"redirect_uris":["https://a.example/cb"],"scope":"read admin"}`, md},
		{"repeated member", `{"redirect_uris":["https://a.example/cb"],"redirect_uris":["https://evil.example/cb"]}`, md},
		{"not an object", `["https://a.example/cb"]`, md},
		{"wrong type", `{"redirect_uris":"https://a.example/cb"}`, md},
		{"A25 jwks_uri metadata service", `{"grant_types":["client_credentials"],"token_endpoint_auth_method":"private_key_jwt","jwks_uri":"https://169.254.169.254/latest/meta-data"}`, md},
		{"A25 jwks_uri file", `{"grant_types":["client_credentials"],"token_endpoint_auth_method":"private_key_jwt","jwks_uri":"file:///etc/passwd"}`, md},
		{"A25 jwks_uri private address", `{"grant_types":["client_credentials"],"token_endpoint_auth_method":"private_key_jwt","jwks_uri":"https://192.168.1.1/jwks"}`, md},
		{"A25 logo javascript", `{"redirect_uris":["https://a.example/cb"],"logo_uri":"javascript:alert(1)"}`, md},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantRegError(t, f, register(t, f.Env, tc.body), http.StatusBadRequest, tc.code)
		})
	}
}

// TestRegisterRefusesRequests checks the envelope: media type, size,
// method; each with the RFC error and nothing stored.
func TestRegisterRefusesRequests(t *testing.T) {
	f := newFixture(t, regOpen)
	good := `{"redirect_uris":["https://a.example/cb"]}`
	wantRegError(t, f, send(t, f.Env, http.MethodPost, "/register", "application/x-www-form-urlencoded", "redirect_uris=https://a.example/cb"),
		http.StatusUnsupportedMediaType, "invalid_client_metadata")
	wantRegError(t, f, send(t, f.Env, http.MethodPost, "/register", "", good), http.StatusUnsupportedMediaType, "invalid_client_metadata")
	huge := `{"redirect_uris":["https://a.example/cb"],"client_name":"` + strings.Repeat("x", clientmeta.MaxSize) + `"}`
	wantRegError(t, f, register(t, f.Env, huge), http.StatusRequestEntityTooLarge, "invalid_client_metadata")
	r := send(t, f.Env, http.MethodGet, "/register", "", "")
	wantRegError(t, f, r, http.StatusMethodNotAllowed, "invalid_request")
	if r.Header.Get("Allow") != http.MethodPost {
		t.Errorf("Allow = %q", r.Header.Get("Allow"))
	}
	// With charset, application/json is still JSON.
	wantRegistered(t, send(t, f.Env, http.MethodPost, "/register", "application/json; charset=utf-8", good))
}

// TestRegisterInitialAccessToken checks S196: without open registration a
// token is required; missing, wrong, expired and used-up ones get 401
// invalid_token with a Bearer challenge (RFC 6750 §3), and spend nothing.
func TestRegisterInitialAccessToken(t *testing.T) {
	f := newFixture(t, regTokens)
	ctx := t.Context()
	now := f.Clock.Now()
	mint := func(id string, uses int, exp time.Time) string {
		raw, _, err := token.New(token.PrefixInitialToken, strings.NewReader(strings.Repeat(id, 32)))
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Store.CreateInitialToken(ctx, store.InitialToken{ID: id, Digest: token.HashSecret(raw), UsesLeft: uses, CreatedAt: now, ExpiresAt: exp}); err != nil {
			t.Fatal(err)
		}
		return raw
	}
	once := mint("a", 1, now.Add(time.Hour))
	expired := mint("b", 5, now.Add(time.Minute))
	body := `{"redirect_uris":["https://a.example/cb"]}`
	refused := func(name string, r result, challenge string) {
		t.Helper()
		if r.Status != http.StatusUnauthorized || r.JSON(t)["error"] != "invalid_token" || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), challenge) {
			t.Errorf("%s: %d %v %s", name, r.Status, r.Header.Get("WWW-Authenticate"), r.Body)
		}
	}
	refused("missing", register(t, f.Env, body), `Bearer realm="latchkey"`)
	refused("wrong", register(t, f.Env, body, withBearer(regConfigToken+"x")), `Bearer realm="latchkey", error="invalid_token"`)
	refused("basic scheme", register(t, f.Env, body, basic("a", "b")), `Bearer realm="latchkey", error="invalid_token"`)
	f.Clock.Advance(2 * time.Minute)
	refused("expired", register(t, f.Env, body, withBearer(expired)), `Bearer realm="latchkey", error="invalid_token"`)
	if n := f.countRows(t)["clients"]; n != 0 {
		t.Fatalf("%d clients after refusals", n)
	}
	wantRegistered(t, register(t, f.Env, body, withBearer(once)))
	refused("used up", register(t, f.Env, body, withBearer(once)), `Bearer realm="latchkey", error="invalid_token"`)
	// The configuration file's token is not spent.
	for range 3 {
		wantRegistered(t, register(t, f.Env, body, withBearer(regConfigToken)))
	}
	if n := f.countRows(t)["clients"]; n != 4 {
		t.Errorf("%d clients, want 4", n)
	}
}

// TestRegisterFloodLimited checks open registration is rate-limited per IP
// (S196): past the limit 429 with Retry-After, and nothing more stored.
func TestRegisterFloodLimited(t *testing.T) {
	f := newFixture(t, func(c *server.Config) { regOpen(c); c.Registration.PerIP = 3 })
	body := `{"redirect_uris":["http://127.0.0.1/cb"],"token_endpoint_auth_method":"none"}`
	for range 3 {
		wantRegistered(t, register(t, f.Env, body))
	}
	for range 5 {
		r := register(t, f.Env, body)
		if r.Status != http.StatusTooManyRequests || r.JSON(t)["error"] != "invalid_request" || r.Header.Get("Retry-After") == "" {
			t.Fatalf("flood: %d %v %s", r.Status, r.Header, r.Body)
		}
	}
	if n := f.countRows(t)["clients"]; n != 3 {
		t.Errorf("%d clients after the flood, want 3", n)
	}
	// A holder of an initial access token is not limited by the flood.
	f2 := newFixture(t, func(c *server.Config) { regTokens(c); c.Registration.Open = true; c.Registration.PerIP = 1 })
	for range 3 {
		wantRegistered(t, register(t, f2.Env, body, withBearer(regConfigToken)))
	}
}

// TestRegisterMaxClients checks policy.max_clients caps registrations:
// 403 access_denied beyond it.
func TestRegisterMaxClients(t *testing.T) {
	f := newFixture(t, func(c *server.Config) { regOpen(c); c.Registration.Policy.MaxClients = 2 })
	f.AddClient(t, azWebClient("web")) // a configured client does not count
	body := `{"redirect_uris":["http://127.0.0.1/cb"],"token_endpoint_auth_method":"none"}`
	wantRegistered(t, register(t, f.Env, body))
	wantRegistered(t, register(t, f.Env, body))
	r := register(t, f.Env, body)
	if r.Status != http.StatusForbidden || r.JSON(t)["error"] != "access_denied" {
		t.Fatalf("past max_clients: %d %s", r.Status, r.Body)
	}
}

// TestA25RegistrationFetchesNothing registers jwks_uri and logo_uri at a
// loopback listener: the jwks_uri is refused (loopback is never fetched
// in production), the logo is stored but never fetched, and the listener
// receives nothing. A name that resolves to a private address is accepted
// at registration and refused when dialed (safefetch's own tests).
func TestA25RegistrationFetchesNothing(t *testing.T) {
	var hits atomic.Int32
	lis := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer lis.Close()
	_, port, _ := net.SplitHostPort(lis.Listener.Addr().String())
	f := newFixture(t, regOpen)
	for _, u := range []string{"https://127.0.0.1:" + port + "/jwks", "http://127.0.0.1:" + port + "/jwks", "https://[::1]:" + port + "/jwks", "https://localhost:" + port + "/jwks"} {
		body := fmt.Sprintf(`{"grant_types":["client_credentials"],"token_endpoint_auth_method":"private_key_jwt","jwks_uri":%q}`, u)
		wantRegError(t, f, register(t, f.Env, body), http.StatusBadRequest, "invalid_client_metadata")
	}
	logo := "http://127.0.0.1:" + port + "/logo.png"
	got := wantRegistered(t, register(t, f.Env, fmt.Sprintf(`{"redirect_uris":[%q],"logo_uri":%q,"client_uri":%q}`, azCB, logo, lis.URL)))
	if got.LogoURI != logo {
		t.Errorf("logo_uri %q", got.LogoURI)
	}
	// The consent page of the client shows the host as text, no fetch.
	s := &azSetup{Env: f.Env}
	s.user = f.AddUser(t, azUser, azPassword, nil)
	b := s.browser(t)
	page := b.follow(b.login(b.authorize(azReq(got.ClientID)), azUser, azPassword))
	if !page.isConsent() {
		t.Fatalf("no consent page: %d %.500s", page.status, page.body)
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the loopback listener received %d requests", n)
	}
}

// TestRegisterDevPolicy checks the policy of latchkey serve --dev: only
// public clients with loopback redirect URIs.
func TestRegisterDevPolicy(t *testing.T) {
	f := newFixture(t, func(c *server.Config) {
		regOpen(c)
		c.Registration.Policy = server.RegistrationPolicy{
			GrantTypes: []string{"authorization_code", "refresh_token"}, AuthMethods: []string{"none"}, DefaultAuthMethod: "none",
			Redirects: server.RedirectRules{Loopback: true},
		}
	})
	for _, body := range []string{
		`{"redirect_uris":["https://a.example/cb"]}`,
		`{"redirect_uris":["com.example.app:/cb"]}`,
		`{"redirect_uris":["http://127.0.0.1/cb"],"token_endpoint_auth_method":"client_secret_basic"}`,
		`{"grant_types":["client_credentials"]}`,
	} {
		if r := register(t, f.Env, body); r.Status != http.StatusBadRequest {
			t.Errorf("%s: %d %s", body, r.Status, r.Body)
		}
	}
	got := wantRegistered(t, register(t, f.Env, `{"redirect_uris":["http://localhost:8976/cb"]}`))
	if got.AuthMethod != "none" || got.ClientSecret != "" {
		t.Errorf("dev registration %+v", got)
	}
}
