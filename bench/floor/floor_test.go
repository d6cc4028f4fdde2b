package main

import (
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2/clientcredentials"
)

// secret needs escaping inside Basic (RFC 6749 §2.3.1).
const secret = "s3cret:with+special/chars%"

func newTestFloor(t testing.TB) (*floor, *httptest.Server) {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	f, err := newFloor(config{Issuer: "http://" + ts.Listener.Addr().String(), ClientID: "bench",
		ClientSecret: secret, Scopes: []string{"read", "write"}}, rand.Reader, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler = f.routes()
	ts.Start()
	t.Cleanup(ts.Close)
	return f, ts
}

func post(t *testing.T, ts *httptest.Server, path string, basic bool, form url.Values) (*http.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, ts.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic {
		req.SetBasicAuth("bench", url.QueryEscape(secret))
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("%s: %d, body is not JSON: %v", path, resp.StatusCode, err)
	}
	return resp, body
}

// TestClientCredentials drives the floor with x/oauth2 (which sends the
// credentials escaped inside Basic) and verifies the RFC 9068 token.
func TestClientCredentials(t *testing.T) {
	f, ts := newTestFloor(t)
	cc := clientcredentials.Config{ClientID: "bench", ClientSecret: secret, TokenURL: ts.URL + "/token", Scopes: []string{"read"}}
	tok, err := cc.Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if tok.TokenType != "Bearer" || tok.Expiry.IsZero() {
		t.Errorf("token_type %q, expiry %v", tok.TokenType, tok.Expiry)
	}
	parsed, err := jwt.ParseSigned(tok.AccessToken, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	if h := parsed.Headers[0]; h.ExtraHeaders[jose.HeaderType] != "at+jwt" || h.KeyID == "" {
		t.Errorf("header typ %v, kid %q: want at+jwt and a kid (RFC 9068 §2.1)", h.ExtraHeaders[jose.HeaderType], h.KeyID)
	}
	var c accessClaims
	if err := parsed.Claims(f.pub, &c); err != nil {
		t.Fatalf("the token does not verify against the floor's key: %v", err)
	}
	if c.Issuer != f.cfg.Issuer || c.Subject != "bench" || c.ClientID != "bench" || c.Scope != "read" ||
		c.Audience == "" || c.ID == "" || c.Expiry-c.IssuedAt != 300 {
		t.Errorf("claims %+v", c)
	}
}

func TestErrors(t *testing.T) {
	_, ts := newTestFloor(t)
	for _, tc := range []struct {
		name, rule string
		form       url.Values
		basic      bool
		status     int
		code       string
	}{
		{"wrong secret", "RFC 6749 §5.2 invalid_client is 401", url.Values{"grant_type": {"client_credentials"},
			"client_id": {"bench"}, "client_secret": {"wrong"}}, false, 401, "invalid_client"},
		{"unknown client", "RFC 6749 §5.2", url.Values{"grant_type": {"client_credentials"},
			"client_id": {"other"}, "client_secret": {secret}}, false, 401, "invalid_client"},
		{"two methods", "RFC 6749 §2.3 one method only", url.Values{"grant_type": {"client_credentials"},
			"client_secret": {secret}}, true, 400, "invalid_request"},
		{"wrong grant", "RFC 6749 §5.2 unsupported_grant_type", url.Values{"grant_type": {"password"}}, true, 400, "unsupported_grant_type"},
		{"no grant", "RFC 6749 §4.4.2 grant_type required", url.Values{}, true, 400, "invalid_request"},
		{"repeated parameter", "RFC 6749 §3.2", url.Values{"grant_type": {"client_credentials", "client_credentials"}}, true, 400, "invalid_request"},
		{"foreign scope", "RFC 6749 §5.2 invalid_scope", url.Values{"grant_type": {"client_credentials"}, "scope": {"admin"}}, true, 400, "invalid_scope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := post(t, ts, "/token", tc.basic, tc.form)
			if resp.StatusCode != tc.status || body["error"] != tc.code {
				t.Fatalf("%s: got %d %v, want %d %s", tc.rule, resp.StatusCode, body, tc.status, tc.code)
			}
			if got := resp.Header.Get("WWW-Authenticate"); (tc.status == 401) != (got != "") {
				t.Errorf("WWW-Authenticate %q with status %d", got, tc.status)
			}
			if resp.Header.Get("Cache-Control") != "no-store" {
				t.Error("error responses must not be cached (RFC 6749 §5.1)")
			}
		})
	}
}

func TestFormRequired(t *testing.T) {
	_, ts := newTestFloor(t)
	resp, err := ts.Client().Post(ts.URL+"/token", "application/json", strings.NewReader(`{"grant_type":"client_credentials"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a JSON body: %d, want 400 (RFC 6749 §4.4.2 form-encoded)", resp.StatusCode)
	}
	if resp, err = ts.Client().Get(ts.URL + "/token"); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /token: %d, want 405 (RFC 6749 §3.2 POST only)", resp.StatusCode)
	}
}

func TestIntrospect(t *testing.T) {
	_, ts := newTestFloor(t)
	_, tok := post(t, ts, "/token", true, url.Values{"grant_type": {"client_credentials"}})
	access, _ := tok["access_token"].(string)
	for _, tc := range []struct {
		name, token string
		active      bool
	}{
		{"its own token", access, true},
		{"garbage", "not-a-token", false},
		{"a tampered token", access[:len(access)-4] + "AAAA", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := post(t, ts, "/introspect", true, url.Values{"token": {tc.token}})
			if resp.StatusCode != http.StatusOK || body["active"] != tc.active {
				t.Fatalf("got %d %v, want active %v (RFC 7662 §2.2)", resp.StatusCode, body, tc.active)
			}
			if tc.active && (body["client_id"] != "bench" || body["sub"] != "bench" || body["token_type"] != "Bearer" || body["exp"] == nil) {
				t.Errorf("active token described as %v", body)
			}
			if !tc.active && len(body) != 1 {
				t.Errorf("an inactive token must say nothing else (RFC 7662 §2.2): %v", body)
			}
		})
	}
	if resp, body := post(t, ts, "/introspect", false, url.Values{"token": {access}}); resp.StatusCode != 401 {
		t.Errorf("introspection without credentials: %d %v, want 401", resp.StatusCode, body)
	}
}

func TestMetadata(t *testing.T) {
	f, ts := newTestFloor(t)
	resp, err := ts.Client().Get(ts.URL + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	if m["issuer"] != f.cfg.Issuer || m["token_endpoint"] != ts.URL+"/token" || m["introspection_endpoint"] != ts.URL+"/introspect" {
		t.Errorf("RFC 8414 metadata %v", m)
	}
}

// The benchmarks run the handler without the network, like
// internal/server's BenchmarkClientCredentialsJWT.

func benchPost(b *testing.B, h http.Handler, path, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("bench", url.QueryEscape(secret))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		b.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
	}
	return rec
}

func BenchmarkToken(b *testing.B) {
	f, _ := newTestFloor(b)
	h := f.routes()
	b.ReportAllocs()
	for b.Loop() {
		benchPost(b, h, "/token", "grant_type=client_credentials")
	}
}

func BenchmarkIntrospect(b *testing.B) {
	f, _ := newTestFloor(b)
	h := f.routes()
	var tok tokenResponse
	json.Unmarshal(benchPost(b, h, "/token", "grant_type=client_credentials").Body.Bytes(), &tok)
	body := url.Values{"token": {tok.AccessToken}}.Encode()
	b.ReportAllocs()
	for b.Loop() {
		rec := benchPost(b, h, "/introspect", body)
		if !strings.Contains(rec.Body.String(), `"active":true`) {
			b.Fatal(rec.Body)
		}
	}
}
