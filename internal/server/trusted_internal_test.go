package server

import (
	"crypto/rand"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/keys"
	"github.com/latchkey/latchkey/internal/password"
	"github.com/latchkey/latchkey/internal/store/sqlite"
)

// newTestServer builds a Server on a fresh SQLite file with cfg.
func newTestServer(t *testing.T, cfg Config) (*Server, error) {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "latchkey.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	secret := []byte("test-system-secret-of-32-bytes!!")
	km, err := keys.NewManager(st, secret, keys.Options{ActivationDelay: time.Hour, Retention: time.Hour, Now: time.Now, Rand: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	if err := km.Init(t.Context()); err != nil {
		t.Fatal(err)
	}
	cfg.Issuer = "http://127.0.0.1:1"
	cfg.Passwords = password.Params{MemoryKiB: 8 * 1024, Iterations: 1, Parallelism: 1}
	return newServer(Deps{Config: cfg, Store: st, Keys: km, SystemSecret: secret, Now: time.Now, Rand: rand.Reader})
}

// TestTrustedIssuersCheckedAtNew: the server refuses to start with a
// trusted issuer that could break its subject namespace or its checks,
// whoever built the configuration (internal/config explains the same
// rules to people).
func TestTrustedIssuersCheckedAtNew(t *testing.T) {
	good := TrustedIssuer{Name: "k8s", Issuer: "https://k8s.example", JWKSURI: "https://k8s.example/jwks", AllowedClients: []string{"c"}}
	with := func(edit func(*TrustedIssuer)) TrustedIssuer { ti := good; edit(&ti); return ti }
	for name, list := range map[string][]TrustedIssuer{
		"name client (client:… is a client's subject)": {with(func(ti *TrustedIssuer) { ti.Name = "client" })},
		"name with a colon":  {with(func(ti *TrustedIssuer) { ti.Name = "k8s:prod" })},
		"no name":            {with(func(ti *TrustedIssuer) { ti.Name = "" })},
		"no issuer":          {with(func(ti *TrustedIssuer) { ti.Issuer = "" })},
		"no keys":            {with(func(ti *TrustedIssuer) { ti.JWKSURI = "" })},
		"both key sources":   {with(func(ti *TrustedIssuer) { ti.JWKS = `{"keys":[]}` })},
		"no allowed clients": {with(func(ti *TrustedIssuer) { ti.AllowedClients = nil })},
		"HS256 (A13)":        {with(func(ti *TrustedIssuer) { ti.Algorithms = []string{"HS256"} })},
		"none (A13)":         {with(func(ti *TrustedIssuer) { ti.Algorithms = []string{"none"} })},
		"duplicate name":     {good, with(func(ti *TrustedIssuer) { ti.Issuer = "https://other.example" })},
		"duplicate issuer":   {good, with(func(ti *TrustedIssuer) { ti.Name = "k8s-b" })},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := newTestServer(t, Config{TrustedIssuers: list}); err == nil || !strings.Contains(err.Error(), "trusted issuer") {
				t.Errorf("newServer = %v, want a trusted issuer error", err)
			}
		})
	}
	s, err := newTestServer(t, Config{TrustedIssuers: []TrustedIssuer{good}})
	if err != nil {
		t.Fatalf("a good trusted issuer: %v", err)
	}
	if ti := s.issuers.byIssuer[good.Issuer]; ti == nil || ti.spec.Audience != "http://127.0.0.1:1" {
		t.Errorf("the audience defaults to the server's issuer: %+v", ti)
	}
}

func TestSubjectAllowed(t *testing.T) {
	patterns := []string{"system:serviceaccount:payments:*", "repo:org/app:ref:refs/heads/main"}
	for sub, want := range map[string]bool{
		"system:serviceaccount:payments:api":     true,
		"system:serviceaccount:payments:":        true,
		"system:serviceaccount:payments":         false,
		"system:serviceaccount:payments-x:api":   false,
		"repo:org/app:ref:refs/heads/main":       true,
		"repo:org/app:ref:refs/heads/main-evil":  false,
		"repo:org/app:ref:refs/heads/mai":        false,
		"system:serviceaccount:kube-system:root": false,
	} {
		if got := subjectAllowed(sub, patterns); got != want {
			t.Errorf("subjectAllowed(%q) = %v, want %v", sub, got, want)
		}
	}
	if !subjectAllowed("anything", nil) {
		t.Error("no patterns must allow every subject")
	}
}
