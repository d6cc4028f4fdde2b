package main

import (
	cryptoRand "crypto/rand"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/password"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/postgres"
	"github.com/latchkey/latchkey/internal/store/postgres/pgtest"
	"github.com/latchkey/latchkey/internal/store/sqlite"
)

// startupConfig is a config file's worth of clients and users with typed
// secrets, the case issue 14 names: 100 of each.
func startupConfig(n int, p config.Argon2) config.Config {
	cfg := config.Default()
	cfg.Passwords = p
	for i := range n {
		cfg.Clients = append(cfg.Clients, config.Client{ID: fmt.Sprintf("app-%03d", i),
			Secret:     config.Secret(fmt.Sprintf("a-long-random-secret-of-32-or-more-chars-%03d", i)),
			GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}})
		cfg.Users = append(cfg.Users, config.User{Username: fmt.Sprintf("user-%03d", i),
			Password: config.Secret(fmt.Sprintf("correct horse battery %03d", i))})
	}
	return cfg
}

// cheapArgon2 keeps the first sync of 200 secrets quick in tests; the
// verifier logic does not depend on the cost.
var cheapArgon2 = config.Argon2{MemoryKiB: 64, Iterations: 1, Parallelism: 1}

var testSystemSecret = []byte("a-system-secret-of-at-least-32-characters")

// TestSyncUnchangedSecretsRunNoArgon2: the second start with the same
// config file runs no argon2id (issue 14 item 5), keeps every stored hash,
// and a changed secret, a changed system secret or a hash changed behind
// the config's back each cost exactly the argon2id they need.
func TestSyncUnchangedSecretsRunNoArgon2(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "latchkey.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		testSyncNoArgon2(t, st)
	})
	t.Run("postgres", func(t *testing.T) {
		st, err := postgres.Open(t.Context(), pgtest.DSN(t), postgres.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		testSyncNoArgon2(t, st)
	})
}

func testSyncNoArgon2(t *testing.T, st store.Store) {
	ctx := t.Context()
	log := slog.New(slog.DiscardHandler)
	cfg := startupConfig(100, cheapArgon2)
	n, err := syncConfig(ctx, st, cfg, testSystemSecret, log)
	if err != nil {
		t.Fatal(err)
	}
	if n != 200 {
		t.Fatalf("first sync ran %d argon2id, want 200 (one hash per secret)", n)
	}
	first, _ := st.GetUserByUsername(ctx, "user-007")
	if n, err = syncConfig(ctx, st, cfg, testSystemSecret, log); err != nil || n != 0 {
		t.Fatalf("second sync of an unchanged file ran %d argon2id (%v), want 0", n, err)
	}
	again, _ := st.GetUserByUsername(ctx, "user-007")
	if again.PasswordHash != first.PasswordHash {
		t.Fatal("an unchanged password was rehashed")
	}
	if ok, err := password.Check("correct horse battery 007", again.PasswordHash); !ok || err != nil {
		t.Fatalf("the kept hash does not check: %v %v", ok, err)
	}

	// One secret changed: its verifier misses, the check against the
	// stored hash fails, a new hash is made: two runs, for that record only.
	cfg.Users[7].Password = "a new password for user 007"
	if n, err = syncConfig(ctx, st, cfg, testSystemSecret, log); err != nil || n != 2 {
		t.Fatalf("sync with one changed password ran %d argon2id (%v), want 2 (check, hash)", n, err)
	}
	changed, _ := st.GetUserByUsername(ctx, "user-007")
	if ok, _ := password.Check("a new password for user 007", changed.PasswordHash); !ok {
		t.Fatal("the changed password was not stored")
	}
	if ok, _ := password.Check("correct horse battery 007", changed.PasswordHash); ok {
		t.Fatal("the old password still checks")
	}

	// A hash changed behind the config's back (the account page, the
	// admin API): its verifier no longer matches; the config wins again.
	u, _ := st.GetUserByUsername(ctx, "user-008")
	h, err := password.Hash("set on the account page", password.Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1}, cryptoRand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetUserPassword(ctx, u.ID, h, u.UpdatedAt); err != nil {
		t.Fatal(err)
	}
	if n, err = syncConfig(ctx, st, cfg, testSystemSecret, log); err != nil || n != 2 {
		t.Fatalf("sync after an outside change ran %d argon2id (%v), want 2", n, err)
	}
	back, _ := st.GetUserByUsername(ctx, "user-008")
	if ok, _ := password.Check("correct horse battery 008", back.PasswordHash); !ok {
		t.Fatal("the config's password was not restored")
	}

	// Another system secret cannot use these verifiers: every secret is
	// checked once (and kept), then the next start is free again.
	other := []byte("another-system-secret-of-32-characters-or-more")
	if n, err = syncConfig(ctx, st, cfg, other, log); err != nil || n != 200 {
		t.Fatalf("sync under another system secret ran %d argon2id (%v), want 200 checks", n, err)
	}
	if n, err = syncConfig(ctx, st, cfg, other, log); err != nil || n != 0 {
		t.Fatalf("the start after ran %d argon2id (%v), want 0", n, err)
	}

	// Stale config records go, found by source.
	cfg.Clients, cfg.Users = cfg.Clients[:50], cfg.Users[:50]
	if _, err = syncConfig(ctx, st, cfg, other, log); err != nil {
		t.Fatal(err)
	}
	ids, names, err := st.(store.ConfigSyncStore).SourcedIDs(ctx, "config")
	if err != nil || len(ids) != 50 || len(names) != 50 {
		t.Fatalf("after dropping half the file: %d clients, %d users (%v), want 50 each", len(ids), len(names), err)
	}
	if _, err := st.GetUserByUsername(ctx, "user-077"); err == nil {
		t.Fatal("user-077, gone from the file, is still stored")
	}
}
