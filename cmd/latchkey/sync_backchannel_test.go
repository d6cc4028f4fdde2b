package main

import (
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/store/sqlite"
)

// TestSyncBackchannelLogout: a client's back-channel logout registration
// reaches the store from the configuration file.
func TestSyncBackchannelLogout(t *testing.T) {
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "latchkey.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg := config.Default()
	cfg.Clients = []config.Client{{ID: "web", Secret: "a-long-random-secret-of-32-or-more-characters",
		GrantTypes: []string{"authorization_code"}, RedirectURIs: []string{"https://web.example/cb"},
		BackchannelLogoutURI: "https://web.example/backchannel", BackchannelLogoutSessionRequired: true}}
	if _, err := syncConfig(t.Context(), st, cfg, nil, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	got, err := st.GetClient(t.Context(), "web")
	if err != nil {
		t.Fatal(err)
	}
	if got.BackchannelLogoutURI != "https://web.example/backchannel" || !got.BackchannelLogoutSessionRequired {
		t.Fatalf("stored %q %v", got.BackchannelLogoutURI, got.BackchannelLogoutSessionRequired)
	}
}
