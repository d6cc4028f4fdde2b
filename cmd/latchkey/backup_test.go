package main

// latchkey backup and restore: a backup taken while a server issues
// refresh tokens restores into a server that honours each of them once;
// every way a restore is refused; PostgreSQL pointed to pg_dump.

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	backupSecret   = "backup-test-system-secret-0123456789abcdef"
	backupClient   = "app"
	backupPassword = "correct horse battery staple"
)

// backupConfig writes a configuration file for a SQLite database in dir
// with a client that gets refresh tokens by the password grant, and
// returns its path. The system secret is in the file, so a database
// restored elsewhere can read its signing keys.
func backupConfig(t *testing.T, dir string) string {
	t.Helper()
	yaml := fmt.Sprintf(`storage: sqlite://%s
secrets:
  system: %s
passwords: {memory_kib: 8192, iterations: 1, parallelism: 1}
clients:
  - id: %s
    secret: a-long-random-secret-of-32-or-more-chars-app
    grant_types: [password, refresh_token]
    scopes: [read]
users:
  - username: alice
    password: %s
`, filepath.Join(dir, "latchkey.db"), backupSecret, backupClient, backupPassword)
	path := filepath.Join(dir, "latchkey.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const backupClientSecret = "a-long-random-secret-of-32-or-more-chars-app"

// tokenRequest posts form to base's token endpoint as the backup client
// and returns the status and JSON body; safe from any goroutine.
func tokenRequest(base string, form url.Values) (int, map[string]any, error) {
	req, err := http.NewRequest(http.MethodPost, base+"/token", strings.NewReader(form.Encode()))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(backupClient, backupClientSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	var body map[string]any
	if err := json.Unmarshal(b, &body); err != nil {
		return resp.StatusCode, nil, fmt.Errorf("POST /token answered %d with %q", resp.StatusCode, b)
	}
	return resp.StatusCode, body, nil
}

// issued is a refresh token and when the request that got it was sent
// and answered.
type issued struct {
	token          string
	sent, answered time.Time
}

// TestBackupUnderLoadRestores backs up the database of a running server
// while four clients keep getting refresh tokens from it over HTTP,
// restores the backup into a new location and starts a server there:
// every refresh token whose response had arrived before the backup began
// refreshes once (200, a new refresh token) and is refused the second
// time (400 invalid_grant: STANDARDS S035, S133 rotation); a
// token asked for after the backup ended is unknown there.
func TestBackupUnderLoadRestores(t *testing.T) {
	dir := t.TempDir()
	cfg := backupConfig(t, dir)
	mustRun(t, nil, "", "migrate", "--config", cfg)
	fillUsers(t, filepath.Join(dir, "latchkey.db"), 20000) // a few MiB, so the backup takes a while
	srv := startServe(t, nil, "--config", cfg, "--listen", "127.0.0.1:0")

	var mu sync.Mutex
	var tokens []issued
	var loadErrs []error
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				sent := time.Now()
				status, body, err := tokenRequest(srv.url, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {backupPassword}, "scope": {"read"}})
				rt, _ := body["refresh_token"].(string)
				if err == nil && (status != http.StatusOK || rt == "") {
					err = fmt.Errorf("password grant: %d %v, want 200 with a refresh token", status, body)
				}
				mu.Lock()
				if err != nil {
					loadErrs = append(loadErrs, err)
				} else {
					tokens = append(tokens, issued{token: rt, sent: sent, answered: time.Now()})
				}
				mu.Unlock()
				if err != nil {
					return
				}
			}
		})
	}
	snapshot := func() []issued {
		mu.Lock()
		defer mu.Unlock()
		return append([]issued(nil), tokens...)
	}
	for deadline := time.Now().Add(20 * time.Second); len(snapshot()) < 40; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("only %d tokens in 20 s; load errors: %v", len(snapshot()), loadErrs)
		}
	}

	backup := filepath.Join(t.TempDir(), "latchkey-backup.db")
	began := time.Now()
	r := runCLI(t, nil, "", "backup", "--config", cfg, backup)
	ended := time.Now()
	// Wait for tokens asked for after the backup (or for the load to fail).
	sentAfter := func() (n int, failed bool) {
		mu.Lock()
		defer mu.Unlock()
		for _, tk := range tokens {
			if tk.sent.After(ended) {
				n++
			}
		}
		return n, len(loadErrs) > 0
	}
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if n, failed := sentAfter(); n >= 3 || failed {
			break
		}
	}
	close(stop)
	wg.Wait()
	if r.err != nil {
		t.Fatalf("latchkey backup under load: %v\n%s%s", r.err, r.stdout, r.stderr)
	}
	if len(loadErrs) > 0 {
		t.Fatalf("the load failed: %v", loadErrs)
	}
	if !strings.Contains(r.stdout, "backed up "+filepath.Join(dir, "latchkey.db")+" to "+backup) || !strings.Contains(r.stdout, "secrets.system") {
		t.Errorf("latchkey backup said:\n%s", r.stdout)
	}
	var before, during, after []issued
	for _, tk := range snapshot() {
		switch {
		case tk.answered.Before(began):
			before = append(before, tk)
		case tk.sent.After(ended):
			after = append(after, tk)
		default:
			during = append(during, tk)
		}
	}
	t.Logf("backup took %s; %d tokens issued before it, %d while it ran, %d after", ended.Sub(began).Round(time.Millisecond), len(before), len(during), len(after))
	if len(during) == 0 {
		t.Errorf("no token request overlapped the backup (%s): the server was not under load while it ran", ended.Sub(began))
	}
	if len(after) == 0 {
		t.Fatal("no token was asked for after the backup")
	}
	if r := runCLI(t, nil, "", "backup", "--config", cfg, backup); r.err == nil || !strings.Contains(r.err.Error(), "--force") {
		t.Errorf("a second backup to the same file: %v, want a refusal that mentions --force", r.err)
	}
	if err := srv.stop(); err != nil {
		t.Fatal(err)
	}

	fresh := t.TempDir()
	cfg2 := backupConfig(t, fresh)
	out := mustRun(t, nil, "", "restore", "--config", cfg2, backup)
	if !strings.Contains(out, "restored "+backup+" to "+filepath.Join(fresh, "latchkey.db")) || !strings.Contains(out, "signing keys open with the system secret of secrets.system") {
		t.Errorf("latchkey restore said:\n%s", out)
	}
	srv2 := startServe(t, nil, "--config", cfg2, "--listen", "127.0.0.1:0")
	for i, tk := range before {
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tk.token}}
		status, body, err := tokenRequest(srv2.url, form)
		if err != nil || status != http.StatusOK || body["refresh_token"] == nil || body["refresh_token"] == tk.token {
			t.Fatalf("token %d of %d issued before the backup: first refresh on the restored server: %d %v %v, want 200 with a new refresh token", i+1, len(before), status, body, err)
		}
		status, body, err = tokenRequest(srv2.url, form)
		if err != nil || status != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Fatalf("token %d of %d issued before the backup: second use: %d %v %v, want 400 invalid_grant", i+1, len(before), status, body, err)
		}
	}
	for _, tk := range after[:min(len(after), 5)] {
		status, body, err := tokenRequest(srv2.url, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tk.token}})
		if err != nil || status != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Errorf("a token asked for after the backup ended, on the restored server: %d %v %v, want 400 invalid_grant (it is not in the backup)", status, body, err)
		}
	}
}

// fillUsers adds n users with some claims to the database at path, so
// that it has a size worth copying.
func fillUsers(t *testing.T, path string, n int) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_, err = db.Exec(`WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < ?)
		INSERT INTO users (id, username, password_hash, claims, source, created_at, updated_at)
		SELECT 'fill-' || n, 'fill-' || n, '!', json_object('note', hex(randomblob(100))), 'cli', 0, 0 FROM i`, n)
	if err != nil {
		t.Fatalf("fill %s: %v", path, err)
	}
}

// TestRestoreRefuses: restore refuses, with exit status 1, a message that
// says why and the database unchanged: over an existing database without
// --force, under a running server even with --force, and a backup that
// is corrupt, not a database, or from a newer Latchkey.
func TestRestoreRefuses(t *testing.T) {
	dir := t.TempDir()
	cfg := backupConfig(t, dir)
	db := filepath.Join(dir, "latchkey.db")
	mustRun(t, nil, "", "migrate", "--config", cfg)
	mustRun(t, nil, "", "user", "create", "carol", "--config", cfg, "--password", "carol's password of some length")
	mustRun(t, nil, "", "keys", "list", "--config", cfg) // creates the signing keys
	bdir := t.TempDir()
	good := filepath.Join(bdir, "good.db")
	mustRun(t, nil, "", "backup", "--config", cfg, good)
	goodBytes, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	variant := func(name string, b []byte, query string) string {
		p := filepath.Join(bdir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if query != "" {
			sdb, err := sql.Open("sqlite", p)
			if err != nil {
				t.Fatal(err)
			}
			defer sdb.Close()
			if _, err := sdb.Exec(query); err != nil {
				t.Fatal(err)
			}
		}
		return p
	}
	corrupt := bytes.Clone(goodBytes)
	for i := 4096 * 2; i < 4096*3; i++ {
		corrupt[i] = byte(i * 13)
	}
	bad := map[string]string{
		"corrupt": variant("corrupt.db", corrupt, ""),
		"text":    variant("notes.txt", []byte("these are not the bytes of a database\n"), ""),
		"newer":   variant("newer.db", goodBytes, "INSERT INTO schema_migrations (name, applied_at) VALUES ('9999_future.sql', 0)"),
	}
	mustRun(t, nil, "", "user", "create", "bob", "--config", cfg, "--password", "another password of some length")
	unchanged := func(what string) {
		t.Helper()
		out := mustRun(t, nil, "", "user", "list", "--config", cfg)
		if !strings.Contains(out, "bob") {
			t.Errorf("after %s, the database lost bob (created after the backup):\n%s", what, out)
		}
	}

	refused := func(what string, r cliResult, want ...string) {
		t.Helper()
		if r.err == nil || exitStatus(r.err) != 1 {
			t.Errorf("%s: exit status %d (%v), want 1", what, exitStatus(r.err), r.err)
			return
		}
		for _, w := range want {
			if !strings.Contains(r.err.Error(), w) {
				t.Errorf("%s: %q, want it to say %q", what, r.err, w)
			}
		}
		unchanged(what)
	}
	refused("restore over an existing database without --force",
		runCLI(t, nil, "", "restore", "--config", cfg, good), "exists", "--force")

	srv := startServe(t, nil, "--config", cfg, "--listen", "127.0.0.1:0")
	refused("restore --force under a running server",
		runCLI(t, nil, "", "restore", "--config", cfg, "--force", good), "in use", "stop the server")
	if status, body, err := tokenRequest(srv.url, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {backupPassword}}); err != nil || status != http.StatusOK {
		t.Errorf("the server after the refused restore: %d %v %v", status, body, err)
	}
	if err := srv.stop(); err != nil {
		t.Fatal(err)
	}

	refused("restore --force of a corrupt backup",
		runCLI(t, nil, "", "restore", "--config", cfg, "--force", bad["corrupt"]), bad["corrupt"], "is corrupt", "nothing was changed")
	refused("restore --force of a text file",
		runCLI(t, nil, "", "restore", "--config", cfg, "--force", bad["text"]), bad["text"], "not a SQLite database")
	refused("restore --force of a backup from a newer latchkey",
		runCLI(t, nil, "", "restore", "--config", cfg, "--force", bad["newer"]), "9999_future.sql", "unknown to this binary")
	refused("restore --force with another system secret",
		runCLI(t, map[string]string{"LATCHKEY_SECRETS_SYSTEM": "another-system-secret-0123456789abcdef"}, "", "restore", "--config", cfg, "--force", good),
		"cannot be decrypted with the system secret of secrets.system", "nothing was changed")
	refused("restore of a missing file",
		runCLI(t, nil, "", "restore", "--config", cfg, "--force", filepath.Join(bdir, "missing.db")), "missing.db")

	out := mustRun(t, nil, "", "restore", "--config", cfg, "--force", good)
	if !strings.Contains(out, "restored "+good+" to "+db) {
		t.Errorf("restore --force with the server stopped said:\n%s", out)
	}
	if out := mustRun(t, nil, "", "user", "list", "--config", cfg); strings.Contains(out, "bob") || !strings.Contains(out, "carol") {
		t.Errorf("after restoring the backup, the users are:\n%s\nwant carol and not bob", out)
	}
}

// TestBackupPostgresRefused: for PostgreSQL, backup and restore copy
// nothing and point to pg_dump and pg_restore.
func TestBackupPostgresRefused(t *testing.T) {
	vars := map[string]string{"LATCHKEY_SECRETS_SYSTEM": backupSecret}
	storage := "postgres://postgres@127.0.0.1:5432/test"
	file := filepath.Join(t.TempDir(), "latchkey.db")
	r := runCLI(t, vars, "", "backup", "--storage", storage, file)
	if exitStatus(r.err) != 1 || !strings.Contains(fmt.Sprint(r.err), "pg_dump") || !strings.Contains(fmt.Sprint(r.err), "secrets.system") {
		t.Errorf("backup of PostgreSQL: exit %d, %v; want 1 and a pointer to pg_dump and secrets.system", exitStatus(r.err), r.err)
	}
	if _, err := os.Stat(file); err == nil {
		t.Errorf("backup of PostgreSQL created %s", file)
	}
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = runCLI(t, vars, "", "restore", "--storage", storage, file)
	if exitStatus(r.err) != 1 || !strings.Contains(fmt.Sprint(r.err), "pg_restore") {
		t.Errorf("restore to PostgreSQL: exit %d, %v; want 1 and a pointer to pg_restore", exitStatus(r.err), r.err)
	}
}

// TestRestoreRefusesUnderServeProcess: a latchkey serve in another
// process (SQLite's file locks, not its in-process bookkeeping) makes
// restore refuse; once it has exited, the same restore goes through.
func TestRestoreRefusesUnderServeProcess(t *testing.T) {
	t.Parallel()
	bin := binary.Path(t)
	dir := t.TempDir()
	cfg := backupConfig(t, dir)
	mustRun(t, nil, "", "migrate", "--config", cfg)
	backup := filepath.Join(t.TempDir(), "backup.db")
	mustRun(t, nil, "", "backup", "--config", cfg, backup)

	cmd := exec.Command(bin, "serve", "--config", cfg, "--listen", "127.0.0.1:0")
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + dir, "LATCHKEY_SHUTDOWN_GRACE=0s"}
	logs, _, exited := startBinary(t, cmd)

	r := runCLI(t, nil, "", "restore", "--config", cfg, "--force", backup)
	if r.err == nil || !strings.Contains(r.err.Error(), "in use") {
		t.Errorf("restore --force while another process serves the database: %v, want a refusal saying it is in use", r.err)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("serve after SIGTERM: %v\n%s", err, logs.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("serve still runs 20 s after SIGTERM:\n%s", logs.String())
	}
	mustRun(t, nil, "", "restore", "--config", cfg, "--force", backup)
}
