package main

import (
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/sqlite"
)

// TestSyncTokenExchangePolicy: a client's token_exchange block reaches the
// store, and a client without one has the zero policy.
func TestSyncTokenExchangePolicy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "latchkey.db")
	st, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg := config.Default()
	cfg.Clients = []config.Client{
		{ID: "web", Secret: "a-long-random-secret-of-32-or-more-characters", GrantTypes: []string{"client_credentials"}},
		{ID: "notes-api", Secret: "another-long-random-secret-of-32-or-more-chars",
			GrantTypes: []string{"urn:ietf:params:oauth:grant-type:token-exchange", "refresh_token"},
			TokenExchange: &config.TokenExchange{AllowedSubjectClients: []string{"web"}, Impersonation: true,
				RefreshTokens: true, BeyondSubjectLifetime: true}},
	}
	if _, err := syncConfig(t.Context(), st, cfg, nil, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	got, err := st.GetClient(t.Context(), "notes-api")
	if err != nil {
		t.Fatal(err)
	}
	want := store.ExchangePolicy{AllowedSubjectClients: []string{"web"}, Impersonation: true, RefreshTokens: true, BeyondSubjectLifetime: true}
	if p := got.TokenExchange; !slices.Equal(p.AllowedSubjectClients, want.AllowedSubjectClients) || p.Impersonation != want.Impersonation ||
		p.RefreshTokens != want.RefreshTokens || p.BeyondSubjectLifetime != want.BeyondSubjectLifetime {
		t.Errorf("stored policy = %+v, want %+v", p, want)
	}
	web, err := st.GetClient(t.Context(), "web")
	if err != nil {
		t.Fatal(err)
	}
	if p := web.TokenExchange; len(p.AllowedSubjectClients) != 0 || p.Impersonation || p.RefreshTokens || p.BeyondSubjectLifetime {
		t.Errorf("a client without token_exchange has policy %+v", p)
	}

	// client show prints the policy of a client with the grant, and none for one without.
	show := decodeJSON(t, mustRun(t, nil, "", "client", "show", "notes-api", "--storage", "sqlite://"+path))
	x, _ := show["token_exchange"].(map[string]any)
	if subs, _ := x["allowed_subject_clients"].([]any); len(subs) != 1 || subs[0] != "web" || x["impersonation"] != true ||
		x["refresh_tokens"] != true || x["beyond_subject_lifetime"] != true {
		t.Errorf("client show: token_exchange = %v", show["token_exchange"])
	}
	if show := decodeJSON(t, mustRun(t, nil, "", "client", "show", "web", "--storage", "sqlite://"+path)); show["token_exchange"] != nil {
		t.Errorf("client show of a client without the grant: token_exchange = %v", show["token_exchange"])
	}
}
