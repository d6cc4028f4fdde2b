package bearer_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/bearer"
	"github.com/latchkey/latchkey/internal/testenv"
)

// New refuses configurations that would weaken validation.
func TestNewRefusesBadConfig(t *testing.T) {
	f := newFakeIssuer(t)
	cases := []struct {
		name string
		edit func(*bearer.Config)
		want string
	}{
		{"alg none (RFC 9068 §2.1)", func(c *bearer.Config) { c.Algorithms = []string{"none"} }, `"none" is not allowed`},
		{"HS256 (RFC 8725 §2.1)", func(c *bearer.Config) { c.Algorithms = []string{"ES256", "HS256"} }, `"HS256" is not allowed`},
		{"unknown alg", func(c *bearer.Config) { c.Algorithms = []string{"ES257"} }, `"ES257" is not allowed`},
		{"leeway of an hour", func(c *bearer.Config) { c.Leeway = time.Hour }, "Leeway"},
		{"negative leeway", func(c *bearer.Config) { c.Leeway = -time.Second }, "Leeway"},
		{"no audience", func(c *bearer.Config) { c.Audience = "" }, "Audience is required"},
		{"plain http issuer", func(c *bearer.Config) { c.Issuer = "http://login.example" }, "must use https"},
		{"issuer with query", func(c *bearer.Config) { c.Issuer = "https://login.example?x=1" }, "without query"},
		{"introspection without secret", func(c *bearer.Config) { c.Introspection = &bearer.IntrospectionConfig{ClientID: "x"} }, "ClientSecret"},
		{"introspection not advertised", func(c *bearer.Config) {
			c.Introspection = &bearer.IntrospectionConfig{ClientID: "x", ClientSecret: "y"}
		}, "introspection_endpoint"},
		{"realm with a newline", func(c *bearer.Config) { c.Realm = "a\nb" }, "Realm"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := bearer.Config{Issuer: f.URL, Audience: notesAudience}
			tc.edit(&cfg)
			_, err := bearer.New(context.Background(), cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// S098, RFC 8414 §3.3: metadata naming another issuer is not used.
func TestMetadataIssuerMismatch(t *testing.T) {
	f := newFakeIssuer(t)
	f.metaIssuer = f.URL + "/"
	_, err := bearer.New(context.Background(), bearer.Config{Issuer: f.URL, Audience: notesAudience})
	if err == nil || !strings.Contains(err.Error(), "RFC 8414 §3.3") {
		t.Fatalf("got %v", err)
	}
	if f.count("/jwks") != 0 {
		t.Fatal("keys were fetched from an unchecked issuer")
	}
}

// RFC 8414 §3.1 inserts the well-known segment before the issuer's path;
// OpenID Connect Discovery §4 appends it. The first is tried first.
func TestDiscoveryURLs(t *testing.T) {
	var paths []string
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths = append(paths, r.URL.Path)
		if r.URL.Path != "/tenant/.well-known/openid-configuration" {
			http.NotFound(w, r)
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"issuer": srv.URL + "/tenant", "jwks_uri": srv.URL + "/nowhere"})
	}))
	defer srv.Close()
	_, err := bearer.New(context.Background(), bearer.Config{Issuer: srv.URL + "/tenant", Audience: notesAudience})
	if err == nil {
		t.Fatal("New succeeded without keys")
	}
	want := []string{"/.well-known/oauth-authorization-server/tenant", "/tenant/.well-known/openid-configuration", "/nowhere"}
	if strings.Join(paths, " ") != strings.Join(want, " ") {
		t.Fatalf("requested %v, want %v", paths, want)
	}
}

// Latchkey serves both metadata documents; New uses RFC 8414's.
func TestDiscoveryLatchkey(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	_, cnt := newValidator(t, env.URL, env.Clock.Now, nil)
	if cnt.count("/.well-known/oauth-authorization-server") != 1 || cnt.count("/.well-known/openid-configuration") != 0 {
		t.Fatalf("metadata requests: %v", cnt.hits)
	}
}
