package server

import (
	"crypto/rand"
	"path/filepath"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/keys"
	"github.com/latchkey/latchkey/internal/password"
	"github.com/latchkey/latchkey/internal/protocol"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/sqlite"
)

// TestRegistryUserFlagIsEnforced: a grant whose code issues tokens with or
// without a user against what its registry entry declares gets an error
// (answered server_error), never tokens; the registry is what metadata,
// validation and the CLI trust.
func TestRegistryUserFlagIsEnforced(t *testing.T) {
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
	s, err := newServer(Deps{Config: Config{Issuer: "http://127.0.0.1:1", Passwords: password.Params{MemoryKiB: 8 * 1024, Iterations: 1, Parallelism: 1}},
		Store: st, Keys: km, SystemSecret: secret, Now: time.Now, Rand: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	client := store.Client{ID: "app", GrantTypes: []string{protocol.GrantRefreshToken}}
	user := store.User{ID: "u1"}
	for _, tc := range []struct {
		name     string
		declared bool
		user     *store.User
		wantErr  bool
	}{
		{"declared a user, issued with one", true, &user, false},
		{"declared a user, issued without", true, nil, true},
		{"declared none, issued with a user", false, &user, true},
		{"declared none, issued without", false, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := tokenRequest{client: client, grant: grantDef{GrantInfo: protocol.GrantInfo{Type: "urn:test", User: tc.declared, Refresh: true}}}
			_, _, err := s.grantTokens(req, &issuance{client: client, user: tc.user, scopes: []string{"read"}}, time.Now())
			if (err != nil) != tc.wantErr {
				t.Errorf("grantTokens: %v, want an error: %v", err, tc.wantErr)
			}
		})
	}
	for _, g := range grantRegistry() {
		if g.run == nil || g.Type == "" || g.Summary == "" {
			t.Errorf("registry entry %+v is incomplete", g.GrantInfo)
		}
	}
}
