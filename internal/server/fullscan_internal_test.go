package server

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/keys"
	"github.com/latchkey/latchkey/internal/password"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/sqlite"
)

// listCounting is the SQLite store with a count of the calls that read
// every client or user.
type listCounting struct {
	*sqlite.Store
	full atomic.Int64
}

func (l *listCounting) ListClients(ctx context.Context) ([]store.Client, error) {
	l.full.Add(1)
	return l.Store.ListClients(ctx)
}

func (l *listCounting) ListUsers(ctx context.Context) ([]store.User, error) {
	l.full.Add(1)
	return l.Store.ListUsers(ctx)
}

// TestNoRequestReadsEveryClient: the metadata document and the CORS check
// never list every client (issue 14: dynamic registration makes that
// table large); the metadata still names the operator's clients' scopes
// and the registration policy's, and CORS still allows a self-registered
// SPA's origin, found by the redirect URI index.
func TestNoRequestReadsEveryClient(t *testing.T) {
	ctx := t.Context()
	raw, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "latchkey.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	st := &listCounting{Store: raw}
	secret := []byte("test-system-secret-of-32-bytes!!")
	km, err := keys.NewManager(st, secret, keys.Options{ActivationDelay: time.Hour, Retention: time.Hour, Now: time.Now, Rand: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	if err := km.Init(ctx); err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st.CreateClient(ctx, store.Client{ID: "svc", Source: "config", GrantTypes: []string{"client_credentials"}, Scopes: []string{"billing:read"}}))
	for i := range 200 {
		must(st.CreateClient(ctx, store.Client{ID: fmt.Sprintf("reg-%03d", i), Source: "registration", Public: true,
			RedirectURIs: []string{fmt.Sprintf("https://spa%03d.example/cb", i)},
			GrantTypes:   []string{"authorization_code"}, Scopes: []string{"mcp:tools"}}))
	}
	cfg := DefaultConfig()
	cfg.Issuer = "http://127.0.0.1:1"
	cfg.Passwords = password.Params{MemoryKiB: 8 * 1024, Iterations: 1, Parallelism: 1}
	cfg.Registration.Enabled = true
	cfg.Registration.Policy.Scopes = []string{"mcp:tools"}
	cfg.Registration.Policy.GrantTypes = []string{"authorization_code"}
	_, h, err := NewServer(Deps{Config: cfg, Store: st, Keys: km, SystemSecret: secret, Now: time.Now, Rand: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	res, err := http.Get(srv.URL + "/.well-known/openid-configuration")
	must(err)
	var doc struct {
		Scopes []string `json:"scopes_supported"`
		Grants []string `json:"grant_types_supported"`
	}
	must(json.NewDecoder(res.Body).Decode(&doc))
	res.Body.Close()
	for _, want := range []string{"billing:read", "mcp:tools", "openid"} {
		if !slices.Contains(doc.Scopes, want) {
			t.Errorf("scopes_supported %v lacks %s", doc.Scopes, want)
		}
	}
	if slices.Contains(doc.Grants, "password") {
		t.Errorf("grant_types_supported %v names password, which no client may use", doc.Grants)
	}
	preflight := func(origin string) string {
		req, _ := http.NewRequest(http.MethodOptions, srv.URL+"/token", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		res, err := http.DefaultClient.Do(req)
		must(err)
		res.Body.Close()
		return res.Header.Get("Access-Control-Allow-Origin")
	}
	if got := preflight("https://spa123.example"); got != "https://spa123.example" {
		t.Errorf("a registered SPA's origin got Access-Control-Allow-Origin %q", got)
	}
	for _, o := range []string{"https://spa123.example.evil", "https://evil.example", "https://spa123.exampl"} {
		if got := preflight(o); got != "" {
			t.Errorf("origin %s got Access-Control-Allow-Origin %q", o, got)
		}
	}
	if n := st.full.Load(); n != 0 {
		t.Fatalf("requests read every client or user %d times, want 0", n)
	}
}
