package main

import (
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/sqlite"
)

// TestUserMFACommands: user require-mfa and user reset-mfa, local and
// through the admin API, change what the store holds and print the same.
func TestUserMFACommands(t *testing.T) {
	t.Parallel()
	st := sqliteStorage(t)
	srv := startServe(t, map[string]string{"LATCHKEY_ADMIN_ENABLED": "true"}, "--listen", "127.0.0.1:0", "--storage", st)
	out := mustRun(t, nil, "", "client", "create", "--id", "ops", "--grant-types", "client_credentials", "--scopes", "latchkey:admin", "--storage", st)
	vars := map[string]string{"LATCHKEY_CLIENT_SECRET": printedSecret(t, out), "LATCHKEY_CLIENT_ID": "ops"}
	remote := func(args ...string) string {
		t.Helper()
		return mustRun(t, vars, "", append(args, "--server", srv.url)...)
	}
	local := func(args ...string) string {
		t.Helper()
		return mustRun(t, nil, "", append(args, "--storage", st)...)
	}
	local("user", "create", "alice", "--password", "correct horse", "--mfa-required")
	remote("user", "create", "bob", "--password", "correct horse")
	db, err := sqlite.Open(t.Context(), strings.TrimPrefix(st, "sqlite://"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	required := func(name string) bool {
		t.Helper()
		u, err := db.GetUserByUsername(t.Context(), name)
		if err != nil {
			t.Fatal(err)
		}
		return u.MFARequired
	}
	if !required("alice") || required("bob") {
		t.Fatalf("after create: alice %v, bob %v", required("alice"), required("bob"))
	}
	if l, r := local("user", "require-mfa", "bob"), remote("user", "require-mfa", "alice", "--off"); !required("bob") || required("alice") ||
		!strings.Contains(l, "bob must sign in with a second factor") || !strings.Contains(r, "alice may sign in with a password alone") {
		t.Fatalf("require-mfa: bob %v %q, alice %v %q", required("bob"), l, required("alice"), r)
	}

	enrol := func(name string) string {
		t.Helper()
		u, _ := db.GetUserByUsername(t.Context(), name)
		now := time.Now()
		if err := db.CreateFactor(t.Context(), store.Factor{ID: "f-" + name, UserID: u.ID, Kind: store.FactorTOTP, Data: []byte("x"), CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
		if err := db.ConfirmFactor(t.Context(), u.ID, "f-"+name, 1, now, []string{"d1", "d2"}); err != nil {
			t.Fatal(err)
		}
		return u.ID
	}
	for _, c := range []struct {
		name string
		run  func(...string) string
	}{{"alice", local}, {"bob", remote}} {
		id := enrol(c.name)
		if out := c.run("user", "reset-mfa", c.name); out != "removed 1 second factor(s) and the recovery codes of "+c.name+"\n" {
			t.Errorf("reset-mfa %s printed %q", c.name, out)
		}
		if fs, _ := db.ListFactors(t.Context(), id); len(fs) != 0 {
			t.Errorf("%s keeps factors: %+v", c.name, fs)
		}
		if n, _ := db.CountRecoveryCodes(t.Context(), id); n != 0 {
			t.Errorf("%s keeps %d recovery codes", c.name, n)
		}
	}
	if r := runCLI(t, nil, "", "user", "reset-mfa", "nobody", "--storage", st); r.err == nil || !strings.Contains(r.err.Error(), `no user "nobody"`) {
		t.Errorf("reset-mfa of an unknown user: %v", r.err)
	}
}
