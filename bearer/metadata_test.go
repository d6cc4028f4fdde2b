package bearer_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/latchkey/latchkey/bearer"
	"github.com/latchkey/latchkey/dpop"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/testenv"
)

// RFC 9728 §3.1: the well-known path goes between the host and the
// resource's path, a terminating slash removed; the URL keeps the
// resource's scheme, host and port, and its path stays escaped.
func TestMetadataURL(t *testing.T) {
	for _, tc := range []struct{ resource, want string }{
		{"https://api.example", "https://api.example/.well-known/oauth-protected-resource"},
		{"https://api.example/", "https://api.example/.well-known/oauth-protected-resource"},
		{"https://mcp.example/mcp", "https://mcp.example/.well-known/oauth-protected-resource/mcp"},
		{"https://mcp.example/mcp/", "https://mcp.example/.well-known/oauth-protected-resource/mcp"},
		{"https://example.com:8443/tools/v1/mcp", "https://example.com:8443/.well-known/oauth-protected-resource/tools/v1/mcp"},
		{"https://example.com/a%20b", "https://example.com/.well-known/oauth-protected-resource/a%20b"},
		{"http://127.0.0.1:9091/mcp", "http://127.0.0.1:9091/.well-known/oauth-protected-resource/mcp"},
		{"http://localhost:9091", "http://localhost:9091/.well-known/oauth-protected-resource"},
	} {
		got, err := bearer.MetadataURL(tc.resource)
		if err != nil || got != tc.want {
			t.Errorf("MetadataURL(%q) = %q, %v; want %q", tc.resource, got, err, tc.want)
		}
	}
	// RFC 9728 §1.2 and RFC 8707 §2: an absolute URL without fragment;
	// plain http only where nobody can change it on the way.
	for _, bad := range []string{"", "mcp", "/mcp", "http://mcp.example/mcp", "https://mcp.example/mcp?tenant=1",
		"https://mcp.example/mcp#x", "https://user@mcp.example/mcp", "urn:example:mcp"} {
		if got, err := bearer.MetadataURL(bad); err == nil {
			t.Errorf("MetadataURL(%q) = %q, want an error", bad, got)
		}
	}
}

// New checks Resource and the metadata it publishes.
func TestNewRefusesBadResource(t *testing.T) {
	f := newFakeIssuer(t)
	for name, tc := range map[string]struct {
		edit func(*bearer.Config)
		want string
	}{
		"plain http resource": {func(c *bearer.Config) { c.Resource = "http://mcp.example/mcp" }, "must use https"},
		"resource with query": {func(c *bearer.Config) { c.Resource = "https://mcp.example/mcp?x=1" }, "without query"},
		"neither":             {func(c *bearer.Config) { c.Resource = "" }, "Audience is required"},
		"scope with a space":  {func(c *bearer.Config) { c.ScopesSupported = []string{"notes:read notes:write"} }, "ScopesSupported"},
		"scope with a quote":  {func(c *bearer.Config) { c.ScopesSupported = []string{`a"b`} }, "ScopesSupported"},
		"name with a newline": {func(c *bearer.Config) { c.ResourceName = "notes\nevil" }, "ResourceName"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := bearer.Config{Issuer: f.URL}
			cfg.Resource = "https://mcp.example/mcp"
			tc.edit(&cfg)
			_, err := bearer.New(context.Background(), cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// The metadata document (RFC 9728 §2, §3.2) as JSON, member by member:
// resource exactly as configured, the issuer, the scopes, header only,
// and the DPoP algorithms, with a resource name.
func TestResourceMetadataJSON(t *testing.T) {
	f := newFakeIssuer(t)
	v, _ := newValidator(t, f.URL, time.Now, func(c *bearer.Config) {
		c.Audience, c.Resource = "", "https://mcp.example/mcp"
		c.ScopesSupported, c.ResourceName = []string{"notes:read", "notes:write"}, "Notes (MCP)"
	})
	w := httptest.NewRecorder()
	v.MetadataHandler().ServeHTTP(w, httptest.NewRequest("GET", v.MetadataPath(), nil))
	var got map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatalf("body %q: %v", w.Body, err)
	}
	want := map[string]any{
		"resource":                          "https://mcp.example/mcp",
		"authorization_servers":             []any{f.URL},
		"scopes_supported":                  []any{"notes:read", "notes:write"},
		"bearer_methods_supported":          []any{"header"},
		"dpop_signing_alg_values_supported": []any{"ES256", "EdDSA", "PS256"},
		"resource_name":                     "Notes (MCP)",
	}
	if g, w := mustJSON(t, got), mustJSON(t, want); g != w {
		t.Errorf("metadata\n got %s\nwant %s", g, w)
	}
	if v.MetadataURL() != "https://mcp.example/.well-known/oauth-protected-resource/mcp" || v.MetadataPath() != "/.well-known/oauth-protected-resource/mcp" {
		t.Errorf("MetadataURL %q, MetadataPath %q", v.MetadataURL(), v.MetadataPath())
	}

	// With DPoP required the document says so; without Resource there is
	// no document, and no resource_metadata in challenges.
	req, _ := newValidator(t, f.URL, time.Now, func(c *bearer.Config) {
		c.Resource, c.DPoP.Require, c.DPoP.Algorithms = "https://mcp.example/mcp", true, []string{"ES256"}
	})
	m := req.ResourceMetadata()
	if !m.DPoPBoundAccessTokensRequired || !slices.Equal(m.DPoPSigningAlgValuesSupported, []string{"ES256"}) {
		t.Errorf("DPoP required: %+v", m)
	}
	plain, _ := newValidator(t, f.URL, time.Now, nil)
	w = httptest.NewRecorder()
	plain.MetadataHandler().ServeHTTP(w, httptest.NewRequest("GET", bearer.WellKnownMetadataPath, nil))
	if w.Code != http.StatusNotFound || plain.MetadataURL() != "" || plain.MetadataPath() != "" {
		t.Errorf("no Resource: %d, %q %q", w.Code, plain.MetadataURL(), plain.MetadataPath())
	}
}

// RFC 9728 §5.1 beside RFC 6750 §3 and RFC 9110 §5.6.4: resource_metadata
// joins realm and the error attributes, and quoted values are escaped.
func TestChallengeWithResourceMetadata(t *testing.T) {
	f := newFakeIssuer(t)
	v, _ := newValidator(t, f.URL, time.Now, func(c *bearer.Config) {
		c.Resource, c.Audience, c.Realm = "https://mcp.example/mcp", "", `notes "prod" \ eu`
	})
	meta := `resource_metadata="https://mcp.example/.well-known/oauth-protected-resource/mcp"`
	w := httptest.NewRecorder()
	v.Middleware(http.NotFoundHandler()).ServeHTTP(w, httptest.NewRequest("GET", "/mcp", nil))
	got := w.Result().Header.Values("WWW-Authenticate")
	want := []string{`Bearer realm="notes \"prod\" \\ eu", ` + meta, `DPoP ` + meta + `, algs="ES256 EdDSA PS256"`}
	if !slices.Equal(got, want) {
		t.Errorf("no token:\n got %q\nwant %q", got, want)
	}

	r := httptest.NewRequest("GET", "/mcp", nil)
	r.Header.Set("Authorization", "Bearer not-a-jwt")
	w = httptest.NewRecorder()
	v.Middleware(http.NotFoundHandler()).ServeHTTP(w, r)
	checkAnswer(t, w, 401, `Bearer realm="notes \"prod\" \\ eu", `+meta+`, error="invalid_token", error_description="the token is not a JWT"`, "invalid_token")

	// Default realm: the audience, which defaults to the resource.
	d, _ := newValidator(t, f.URL, time.Now, func(c *bearer.Config) { c.Resource, c.Audience = "https://mcp.example/mcp", "" })
	w = httptest.NewRecorder()
	d.Middleware(http.NotFoundHandler()).ServeHTTP(w, httptest.NewRequest("GET", "/mcp", nil))
	if got := w.Header().Get("WWW-Authenticate"); got != `Bearer realm="https://mcp.example/mcp", `+meta {
		t.Errorf("default realm: %q", got)
	}
}

// mcpResource and otherResource are two APIs a client may ask Latchkey
// for (RFC 8707); the tests protect the first.
const otherResource = "https://calendar.example"

// TestResourceWithLatchkey protects an API by its resource URL alone, over
// real HTTP, with tokens of a running Latchkey asked for with the resource
// parameter (RFC 8707 §2): the metadata document (RFC 9728 §3), the
// resource_metadata of every challenge (§5.1), the audience and the DPoP
// URL defaulted from Resource (S162, S205), the refusal of a token for
// another resource (S091), and 403 insufficient_scope with scope= for
// step-up (S058). The metadata's resource is the URL called (S061), and
// it is readable cross-origin, never with credentials (A22).
func TestResourceWithLatchkey(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	api := httptest.NewServer(nil)
	t.Cleanup(api.Close)
	resource := api.URL + "/mcp"
	secret := env.AddClient(t, store.Client{ID: "agent", GrantTypes: []string{"client_credentials"},
		Scopes: []string{"notes:read", "notes:write"}, Resources: []string{resource, otherResource}})
	v, _ := newValidator(t, env.URL, env.Clock.Now, func(c *bearer.Config) {
		c.Audience, c.Resource, c.ScopesSupported = "", resource, []string{"notes:read", "notes:write"}
	})
	mux := http.NewServeMux()
	mux.Handle(v.MetadataPath(), v.MetadataHandler())
	mux.Handle("/mcp", v.RequireScope("notes:read")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := bearer.ClaimsFrom(r.Context())
		_, _ = io.WriteString(w, c.Subject)
	})))
	mux.Handle("/mcp/write", v.RequireScope("notes:write")(http.NotFoundHandler()))
	api.Config.Handler = mux
	meta := `resource_metadata="` + api.URL + `/.well-known/oauth-protected-resource/mcp"`

	t.Run("metadata document", func(t *testing.T) {
		resp := do(t, "GET", v.MetadataURL(), "", nil)
		body, _ := io.ReadAll(resp.Body)
		var m bearer.ResourceMetadata
		if err := json.Unmarshal(body, &m); err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET metadata: %d %s %v", resp.StatusCode, body, err)
		}
		if m.Resource != resource || !slices.Equal(m.AuthorizationServers, []string{env.URL}) {
			t.Errorf("metadata %+v: resource must equal the URL called, and name the issuer (RFC 9728 §3.3)", m)
		}
		for h, want := range map[string]string{"Content-Type": "application/json", "Cache-Control": "public, max-age=3600", "Access-Control-Allow-Origin": "*"} {
			if got := resp.Header.Get(h); got != want {
				t.Errorf("%s %q, want %q", h, got, want)
			}
		}
		head := do(t, "HEAD", v.MetadataURL(), "", nil)
		if head.StatusCode != 200 || head.ContentLength != int64(len(body)) {
			t.Errorf("HEAD: %d, length %d, want 200 and %d", head.StatusCode, head.ContentLength, len(body))
		}
		post := do(t, "POST", v.MetadataURL(), "", nil)
		if post.StatusCode != http.StatusMethodNotAllowed || post.Header.Get("Allow") != "GET, HEAD, OPTIONS" {
			t.Errorf("POST: %d, Allow %q", post.StatusCode, post.Header.Get("Allow"))
		}
		pre := do(t, "OPTIONS", v.MetadataURL(), "", map[string]string{"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"})
		if pre.StatusCode != http.StatusNoContent || pre.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("preflight: %d %v", pre.StatusCode, pre.Header)
		}
		for _, r := range []*http.Response{resp, pre} {
			if r.Header.Get("Access-Control-Allow-Credentials") != "" {
				t.Errorf("a wildcard origin with credentials (A22): %v", r.Header)
			}
		}
	})

	t.Run("no token: both challenges point to the metadata", func(t *testing.T) {
		resp := do(t, "GET", resource, "", nil)
		got := resp.Header.Values("WWW-Authenticate")
		want := []string{`Bearer realm="` + resource + `", ` + meta, `DPoP ` + meta + `, algs="ES256 EdDSA PS256"`}
		if resp.StatusCode != 401 || !slices.Equal(got, want) {
			t.Errorf("%d %q, want 401 %q", resp.StatusCode, got, want)
		}
	})

	t.Run("a token for this resource", func(t *testing.T) {
		tok := resourceToken(t, env, secret, resource, "notes:read")
		resp := do(t, "GET", resource, "Bearer "+tok, nil)
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || string(body) != "client:agent" {
			t.Errorf("%d %q, want 200 client:agent", resp.StatusCode, body)
		}
	})

	t.Run("a token for another resource", func(t *testing.T) {
		tok := resourceToken(t, env, secret, otherResource, "notes:read")
		resp := do(t, "GET", resource, "Bearer "+tok, nil)
		got := resp.Header.Get("WWW-Authenticate")
		if resp.StatusCode != 401 || !strings.HasPrefix(got, `Bearer realm="`+resource+`", `+meta+`, error="invalid_token"`) {
			t.Errorf("%d %q, want 401 invalid_token with resource_metadata", resp.StatusCode, got)
		}
	})

	t.Run("insufficient scope names the scope needed", func(t *testing.T) {
		tok := resourceToken(t, env, secret, resource, "notes:read")
		resp := do(t, "GET", resource+"/write", "Bearer "+tok, nil)
		got := resp.Header.Get("WWW-Authenticate")
		want := `Bearer realm="` + resource + `", ` + meta + `, error="insufficient_scope", error_description="the token lacks a scope this resource needs", scope="notes:write"`
		if resp.StatusCode != 403 || got != want {
			t.Errorf("%d %q\nwant 403 %q", resp.StatusCode, got, want)
		}
	})

	t.Run("DPoP: proofs are made for the resource's URL", func(t *testing.T) {
		holder := prover(t)
		tok := dpopResourceToken(t, env, secret, resource, holder)
		proof, err := holder.Proof("GET", resource, tok, "")
		if err != nil {
			t.Fatal(err)
		}
		// PublicURL defaults to the resource's origin, not the Host header.
		resp := do(t, "GET", resource, "DPoP "+tok, map[string]string{"DPoP": proof})
		if body, _ := io.ReadAll(resp.Body); resp.StatusCode != 200 || string(body) != "client:agent" {
			t.Errorf("DPoP with a proof for %s: %d %q", resource, resp.StatusCode, body)
		}
		resp = do(t, "GET", resource, "DPoP "+tok, nil)
		got := resp.Header.Get("WWW-Authenticate")
		if resp.StatusCode != 401 || !strings.HasPrefix(got, `DPoP `+meta+`, error="invalid_dpop_proof"`) {
			t.Errorf("no proof: %d %q, want a DPoP challenge with resource_metadata", resp.StatusCode, got)
		}
	})
}

// resourceToken gets a client credentials token for resource with
// golang.org/x/oauth2.
func resourceToken(t *testing.T, env *testenv.Env, secret, resource string, scopes ...string) string {
	t.Helper()
	cc := clientcredentials.Config{ClientID: "agent", ClientSecret: secret, TokenURL: env.URL + "/token", Scopes: scopes,
		AuthStyle: oauth2.AuthStyleInHeader, EndpointParams: url.Values{"resource": {resource}}}
	tok, err := cc.Token(context.Background())
	if err != nil {
		t.Fatalf("token for %s: %v", resource, err)
	}
	return tok.AccessToken
}

// do sends a request with an Authorization header (when not "") and
// other headers, and closes the body when the test ends.
func do(t *testing.T, method, u, authorization string, headers map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// dpopResourceToken gets a DPoP-bound client credentials token for
// resource from Latchkey.
func dpopResourceToken(t *testing.T, env *testenv.Env, secret, resource string, p *dpop.Prover) string {
	t.Helper()
	pr, err := p.Proof(http.MethodPost, env.URL+"/token", "", "")
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{"grant_type": {"client_credentials"}, "resource": {resource}, "scope": {"notes:read"}}
	req, _ := http.NewRequest(http.MethodPost, env.URL+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("agent", secret)
	req.Header.Set("DPoP", pr)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != http.StatusOK || tok.TokenType != "DPoP" {
		t.Fatalf("token: %d %v %+v", resp.StatusCode, err, tok)
	}
	return tok.AccessToken
}
