package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMigrateCheck: --check lists every migration of a fresh database as
// safe while the previous release serves, creates nothing, and after
// migrate says nothing would run.
func TestMigrateCheck(t *testing.T) {
	db := filepath.Join(t.TempDir(), "lk.db")
	st := "sqlite://" + db
	out := mustRun(t, nil, "", "migrate", "--check", "--storage", st)
	if !strings.Contains(out, "would apply 0001_init.sql: expand, safe while the previous release serves") {
		t.Fatalf("migrate --check on a fresh database:\n%s", out)
	}
	if strings.Contains(out, "NOT safe") {
		t.Errorf("a committed migration is reported unsafe:\n%s", out)
	}
	if _, err := os.Stat(db); err == nil {
		t.Errorf("migrate --check created %s", db)
	}
	mustRun(t, nil, "", "migrate", "--storage", st)
	if out := mustRun(t, nil, "", "migrate", "--check", "--storage", st); strings.TrimSpace(out) != "the schema is up to date: nothing would run" {
		t.Errorf("migrate --check after migrate: %q", out)
	}
}
