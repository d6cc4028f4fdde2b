package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/sqlite"
)

// TestBackupWhileWriting backs a database up while a writer goes on
// creating users: the copy passes Check and holds every user whose
// creation had returned before the backup began; the destination is
// refused when it exists, replaced with overwrite, and no temporary file
// is left beside it.
func TestBackupWhileWriting(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "latchkey.db")
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	var mu sync.Mutex
	var committed []string
	created := func(id string) {
		mu.Lock()
		committed = append(committed, id)
		mu.Unlock()
	}
	for i := range 200 {
		id := fmt.Sprintf("u%05d", i)
		must(t, s.CreateUser(ctx, store.User{ID: id, Username: id}))
		created(id)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 200; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			id := fmt.Sprintf("u%05d", i)
			if err := s.CreateUser(ctx, store.User{ID: id, Username: id}); err != nil {
				t.Errorf("create user during the backup: %v", err)
				return
			}
			created(id)
		}
	})
	time.Sleep(20 * time.Millisecond) // let the writer run
	mu.Lock()
	before := append([]string(nil), committed...)
	mu.Unlock()
	backupDir := t.TempDir()
	dest := filepath.Join(backupDir, "backup.db")
	info, err := sqlite.Backup(ctx, path, dest, false)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("Backup: %v", err)
	}
	mu.Lock()
	after := len(committed)
	mu.Unlock()
	if after <= len(before) {
		t.Errorf("the writer created no user during the backup (%d before, %d after): the test did not write concurrently", len(before), after)
	}
	checked, err := sqlite.Check(ctx, dest)
	if err != nil {
		t.Fatalf("Check of the backup: %v", err)
	}
	if checked.Migration == "" || checked.Migration != info.Migration || checked.Bytes != info.Bytes {
		t.Errorf("Backup said %+v, Check says %+v", info, checked)
	}
	db, err := sql.Open("sqlite", dest)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, id := range before {
		var n int
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM users WHERE id = ?", id).Scan(&n); err != nil || n != 1 {
			t.Fatalf("user %s, created before the backup began, is not in it (%d, %v)", id, n, err)
		}
	}
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "delete" {
		t.Errorf("the backup's journal mode is %q (%v), want delete: one self-contained file", mode, err)
	}

	if _, err := sqlite.Backup(ctx, path, dest, false); !errors.Is(err, sqlite.ErrExists) {
		t.Errorf("Backup over an existing file without overwrite = %v, want ErrExists", err)
	}
	if _, err := sqlite.Backup(ctx, path, dest, true); err != nil {
		t.Errorf("Backup with overwrite: %v", err)
	}
	entries, _ := os.ReadDir(backupDir)
	if len(entries) != 1 || entries[0].Name() != "backup.db" {
		t.Errorf("beside the backup: %v, want only backup.db", entries)
	}
	if _, err := sqlite.Backup(ctx, path, path, true); err == nil || !strings.Contains(err.Error(), "the database itself") {
		t.Errorf("Backup onto the database itself with overwrite = %v, want a refusal", err)
	}
	if u, err := s.GetUserByUsername(ctx, "u00000"); err != nil || u.ID != "u00000" {
		t.Errorf("after the refused backup onto itself, u00000 = %+v, %v", u, err)
	}
	if _, err := sqlite.Backup(ctx, filepath.Join(dir, "missing.db"), filepath.Join(backupDir, "x.db"), false); err == nil {
		t.Error("Backup of a missing database succeeded")
	}
	if _, err := os.Stat(filepath.Join(dir, "missing.db")); err == nil {
		t.Error("Backup created the missing source database")
	}
}

// TestCheckRefuses: Check refuses a file that is not SQLite, a damaged
// one, one without Latchkey's schema and one a newer Latchkey wrote.
func TestCheckRefuses(t *testing.T) {
	ctx := t.Context()
	good := backupOf(t)
	for _, tc := range []struct {
		name string
		make func(t *testing.T, path string)
		want error
	}{
		{"empty file", func(t *testing.T, p string) { write(t, p, nil) }, sqlite.ErrNotDatabase},
		{"text", func(t *testing.T, p string) { write(t, p, []byte("not a database at all, just some text\n")) }, sqlite.ErrNotDatabase},
		{"truncated", func(t *testing.T, p string) { b := read(t, good); write(t, p, b[:len(b)/2]) }, sqlite.ErrCorrupt},
		{"a page overwritten", func(t *testing.T, p string) {
			b := read(t, good)
			for i := 4096 * 3; i < 4096*4 && i < len(b); i++ {
				b[i] = byte(i * 7)
			}
			write(t, p, b)
		}, sqlite.ErrCorrupt},
		{"dangling foreign key", func(t *testing.T, p string) {
			write(t, p, read(t, good))
			exec(t, p, "INSERT INTO grants (id, client_id, user_id, scopes, nonce, created_at) VALUES ('g', 'nobody', 'nobody', '[]', '', 0)")
		}, sqlite.ErrCorrupt},
		{"another application's database", func(t *testing.T, p string) {
			exec(t, p, "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
		}, sqlite.ErrNotLatchkey},
		{"newer schema", func(t *testing.T, p string) {
			write(t, p, read(t, good))
			exec(t, p, "INSERT INTO schema_migrations (name, applied_at) VALUES ('9999_future.sql', 0)")
		}, sqlite.ErrNewerSchema},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "bad.db")
			tc.make(t, p)
			if _, err := sqlite.Check(ctx, p); !errors.Is(err, tc.want) {
				t.Fatalf("Check = %v, want %v", err, tc.want)
			} else if !strings.Contains(err.Error(), p) {
				t.Errorf("the error %q does not name the file", err)
			}
			target := filepath.Join(t.TempDir(), "latchkey.db")
			if _, err := sqlite.Restore(ctx, p, target, sqlite.RestoreOptions{}); !errors.Is(err, tc.want) {
				t.Errorf("Restore = %v, want %v", err, tc.want)
			} else if !strings.Contains(err.Error(), p) || strings.Contains(err.Error(), ".tmp-") {
				t.Errorf("the error %q does not name the backup (or names the temporary copy)", err)
			}
			if entries, _ := os.ReadDir(filepath.Dir(target)); len(entries) != 0 {
				t.Errorf("a refused restore left %v", entries)
			}
		})
	}
}

// TestRestore puts a backup in place: into a new location, not over an
// existing database without overwrite, never under a running Store, and
// with the stale -wal and -shm files of the old database removed.
func TestRestore(t *testing.T) {
	ctx := t.Context()
	backup := backupOf(t)
	dir := t.TempDir()
	target := filepath.Join(dir, "latchkey.db")
	info, err := sqlite.Restore(ctx, backup, target, sqlite.RestoreOptions{})
	if err != nil {
		t.Fatalf("Restore into a new location: %v", err)
	}
	if info.Migration == "" {
		t.Errorf("Restore returned %+v, want the migration level", info)
	}
	s, err := sqlite.Open(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	if u, err := s.GetUserByUsername(ctx, "alice"); err != nil || u.ID != "u-alice" {
		t.Errorf("the restored database has alice = %+v, %v", u, err)
	}
	must(t, s.CreateUser(ctx, store.User{ID: "u-bob", Username: "bob"})) // not in the backup

	if _, err := sqlite.Restore(ctx, backup, target, sqlite.RestoreOptions{}); !errors.Is(err, sqlite.ErrExists) {
		t.Errorf("Restore over an existing database without overwrite = %v, want ErrExists", err)
	}
	if _, err := sqlite.Restore(ctx, backup, target, sqlite.RestoreOptions{Overwrite: true}); !errors.Is(err, sqlite.ErrInUse) {
		t.Errorf("Restore under an open Store = %v, want ErrInUse", err)
	}
	if u, err := s.GetUserByUsername(ctx, "bob"); err != nil || u.ID != "u-bob" {
		t.Errorf("after the refused restore, bob = %+v, %v: the database in use was changed", u, err)
	}
	s.Close()

	// A crashed server leaves its -wal and -shm behind; the restored file
	// must not meet them.
	write(t, target+"-wal", []byte("stale wal frames"))
	write(t, target+"-shm", []byte("stale shm"))
	if _, err := sqlite.Restore(ctx, backup, target, sqlite.RestoreOptions{Overwrite: true}); err != nil {
		t.Fatalf("Restore over a stopped database with overwrite: %v", err)
	}
	for _, f := range []string{target + "-wal", target + "-shm"} {
		if _, err := os.Stat(f); err == nil {
			t.Errorf("%s is still there after the restore", f)
		}
	}
	s, err = sqlite.Open(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.GetUserByUsername(ctx, "bob"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("bob after restoring the backup: %v, want ErrNotFound", err)
	}
	if _, err := s.GetUserByUsername(ctx, "alice"); err != nil {
		t.Errorf("alice after restoring the backup: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("a temporary file is left: %s", e.Name())
		}
	}
	if b := read(t, backup); len(b) == 0 {
		t.Error("the backup is gone")
	}
}

// TestRestorePlainCopy restores a plain copy of a stopped database, which
// is in WAL mode (no -wal file): it is accepted like a backup.
func TestRestorePlainCopy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "latchkey.db")
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	must(t, s.CreateUser(t.Context(), store.User{ID: "u-alice", Username: "alice"}))
	must(t, s.Close())
	cp := filepath.Join(t.TempDir(), "copy.db")
	write(t, cp, read(t, path))
	target := filepath.Join(t.TempDir(), "latchkey.db")
	if _, err := sqlite.Restore(t.Context(), cp, target, sqlite.RestoreOptions{}); err != nil {
		t.Fatalf("Restore of a plain copy: %v", err)
	}
	if b := read(t, cp); b[18] != 2 {
		t.Errorf("Restore changed the backup's header (byte 18 = %d, want 2: WAL)", b[18])
	}
}

// TestBackupOfStoppedDatabase leaves nothing beside a database no
// server has open: no -wal or -shm file.
func TestBackupOfStoppedDatabase(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "latchkey.db")
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	must(t, s.Close())
	if _, err := sqlite.Backup(t.Context(), path, filepath.Join(t.TempDir(), "backup.db"), false); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("beside the database after the backup: %v, want only latchkey.db", entries)
	}
}

// TestRestoreVerify: Verify sees the checked copy (ReadKeys reads its
// keys) before it is put in place, and its error refuses the restore.
func TestRestoreVerify(t *testing.T) {
	backup := backupOf(t)
	target := filepath.Join(t.TempDir(), "latchkey.db")
	refuse := errors.New("the keys do not open")
	var seen []store.Key
	_, err := sqlite.Restore(t.Context(), backup, target, sqlite.RestoreOptions{Verify: func(ctx context.Context, copy string) error {
		ks, err := sqlite.ReadKeys(ctx, copy)
		seen = ks
		if err != nil {
			return err
		}
		return refuse
	}})
	if !errors.Is(err, refuse) {
		t.Fatalf("Restore with a Verify that refuses = %v", err)
	}
	if len(seen) != 1 || seen[0].KID != "k1" || string(seen[0].Private) != "sealed" {
		t.Errorf("ReadKeys of the copy = %+v, want the backup's key k1", seen)
	}
	if entries, _ := os.ReadDir(filepath.Dir(target)); len(entries) != 0 {
		t.Errorf("a refused restore left %v", entries)
	}
}

// backupOf returns a backup of a database with one user, alice, and one
// signing key, k1.
func backupOf(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "latchkey.db")
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	must(t, s.CreateUser(t.Context(), store.User{ID: "u-alice", Username: "alice"}))
	now := time.Now()
	if _, err := s.AddKey(t.Context(), store.Key{KID: "k1", Alg: "ES256", Private: []byte("sealed"), Public: []byte("{}"), CreatedAt: now, ActiveAt: now}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(t.TempDir(), "backup.db")
	if _, err := sqlite.Backup(t.Context(), path, dest, false); err != nil {
		t.Fatal(err)
	}
	return dest
}

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func write(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// exec runs one statement on the file at path with foreign keys off, as
// a careless tool would.
func exec(t *testing.T, path, query string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(context.Background(), query); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// TestTakeOverHoldsTheFile: while Restore has taken a stopped database
// over, another connection cannot read it (a server starting then waits
// instead of opening the file being replaced); after unlock it can.
func TestTakeOverHoldsTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "latchkey.db")
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	must(t, s.Close())
	unlock, err := sqlite.TakeOver(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	other, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(100)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	var n int
	if err := other.QueryRow("SELECT count(*) FROM users").Scan(&n); err == nil || !strings.Contains(err.Error(), "SQLITE_BUSY") {
		t.Errorf("a read while taken over = %v, want SQLITE_BUSY", err)
	}
	unlock()
	if err := other.QueryRow("SELECT count(*) FROM users").Scan(&n); err != nil {
		t.Errorf("a read after unlock: %v", err)
	}
}
