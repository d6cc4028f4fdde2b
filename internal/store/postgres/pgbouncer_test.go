package postgres_test

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/postgres"
	"github.com/latchkey/latchkey/internal/store/postgres/pgtest"
	"github.com/latchkey/latchkey/internal/store/storetest"
)

// pgbouncerPort is where the test's PgBouncer listens.
const pgbouncerPort = "19332"

// bouncer is a PgBouncer in transaction pooling mode in front of the test
// database. Each store gets a database entry of its own whose
// connect_query sets the search_path to its schema: transaction pooling
// passes no search_path from the client.
type bouncer struct {
	dir  string
	cmd  *exec.Cmd
	base *url.URL
	// entries are the database entries made before PgBouncer started (a
	// reload to add one took PgBouncer about 3 s), each used once.
	mu      sync.Mutex
	entries []bouncerEntry
}

// bouncerEntry is a database entry of PgBouncer and its schema's DSN.
type bouncerEntry struct{ alias, direct string }

// startBouncer starts PgBouncer with n database entries, each on a fresh
// schema dropped when t ends.
func startBouncer(t *testing.T, n int) *bouncer {
	t.Helper()
	bin, err := exec.LookPath("pgbouncer")
	if err != nil {
		for _, p := range []string{"/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"} {
			if _, e := os.Stat(p); e == nil {
				bin, err = p, nil
			}
		}
	}
	if err != nil {
		msg := "pgbouncer not installed (apt-get install pgbouncer)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	base, err := url.Parse(pgtest.BaseDSN())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "users.txt"), fmt.Appendf(nil, "%q \"\"\n", base.User.Username()), 0o600); err != nil {
		t.Fatal(err)
	}
	b := &bouncer{base: base, dir: dir}
	ini := filepath.Join(dir, "pgbouncer.ini")
	conf := fmt.Sprintf(`[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %s
unix_socket_dir =
auth_type = trust
auth_file = %s
pool_mode = transaction
max_client_conn = 200
default_pool_size = 2
server_idle_timeout = 1
server_check_delay = 0
logfile = %s
pidfile = %s
[databases]
`, pgbouncerPort, filepath.Join(dir, "users.txt"), filepath.Join(dir, "pgbouncer.log"), filepath.Join(dir, "pgbouncer.pid"))
	host, port, _ := net.SplitHostPort(base.Host)
	for range n {
		direct := pgtest.DSN(t)
		u, err := url.Parse(direct)
		if err != nil {
			t.Fatal(err)
		}
		raw := make([]byte, 6)
		rand.Read(raw)
		e := bouncerEntry{alias: "lk" + hex.EncodeToString(raw), direct: direct}
		b.entries = append(b.entries, e)
		conf += fmt.Sprintf("%s = host=%s port=%s dbname=%s user=%s connect_query='SET search_path TO %s'\n",
			e.alias, host, port, base.Path[1:], base.User.Username(), u.Query().Get("search_path"))
	}
	if err := os.WriteFile(ini, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{ini}
	if os.Geteuid() == 0 {
		// PgBouncer refuses to run as root: drop to an unprivileged user
		// that owns the directory and its files.
		u, err := user.Lookup("postgres")
		if err != nil {
			u, err = user.Lookup("nobody")
		}
		if err != nil {
			t.Fatalf("pgbouncer: no unprivileged user to run as: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chmod(filepath.Dir(dir), 0o755); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{dir, ini, filepath.Join(dir, "users.txt")} {
			if err := os.Chown(p, uid, gid); err != nil {
				t.Fatal(err)
			}
		}
		args = append([]string{"-u", u.Username}, args...)
	}
	// A PgBouncer that a killed test run left behind (a panic or a
	// timeout skips the cleanup) would answer instead of this one.
	if c, err := net.DialTimeout("tcp", "127.0.0.1:"+pgbouncerPort, time.Second); err == nil {
		c.Close()
		t.Fatalf("127.0.0.1:%s is taken, by a PgBouncer an earlier run left? (pkill pgbouncer)", pgbouncerPort)
	}
	b.cmd = exec.Command(bin, args...)
	// A test binary that dies takes its PgBouncer with it where the signal
	// survives PgBouncer's own privilege drop.
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	// Its log goes to logfile, printed when it fails to start.
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		b.cmd.Process.Signal(syscall.SIGTERM)
		b.cmd.Wait()
	})
	for i := 0; ; i++ {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+pgbouncerPort, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if i > 50 {
			log, _ := os.ReadFile(filepath.Join(dir, "pgbouncer.log"))
			t.Fatalf("pgbouncer did not start: %v\n%s", err, log)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return b
}

// open gives t a store on a fresh schema reached through PgBouncer, with
// the direct connection for migrations and LISTEN.
func (b *bouncer) open(t *testing.T) store.Store {
	t.Helper()
	b.mu.Lock()
	if len(b.entries) == 0 {
		b.mu.Unlock()
		t.Fatal("pgbouncer: every database entry is used: start the bouncer with more")
	}
	e := b.entries[0]
	b.entries = b.entries[1:]
	b.mu.Unlock()
	pooled := fmt.Sprintf("postgres://%s@127.0.0.1:%s/%s?sslmode=disable", b.base.User.Username(), pgbouncerPort, e.alias)
	opts := testOptions()
	opts.DirectURL = e.direct
	s, err := postgres.Open(t.Context(), pooled, opts)
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(b.dir, "pgbouncer.log"))
		t.Fatalf("open through pgbouncer: %v\n%s", err, log)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestConformanceThroughPgBouncer runs the whole store conformance suite
// through PgBouncer in transaction pooling mode: no named prepared
// statement and no session state may cross a transaction.
func TestConformanceThroughPgBouncer(t *testing.T) {
	b := startBouncer(t, 250)
	storetest.Run(t, b.open)
}
