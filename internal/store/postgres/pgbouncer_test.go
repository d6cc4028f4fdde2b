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
	mu   sync.Mutex
	ini  string
	cmd  *exec.Cmd
	base *url.URL
}

func startBouncer(t *testing.T) *bouncer {
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
	b := &bouncer{ini: filepath.Join(dir, "pgbouncer.ini"), base: base}
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
	if err := os.WriteFile(b.ini, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{b.ini}
	if os.Geteuid() == 0 {
		// PgBouncer refuses to run as root: drop to an unprivileged user
		// that owns the directory, and the file the test appends to.
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
		for _, p := range []string{dir, b.ini, filepath.Join(dir, "users.txt")} {
			if err := os.Chown(p, uid, gid); err != nil {
				t.Fatal(err)
			}
		}
		args = append([]string{"-u", u.Username}, args...)
	}
	b.cmd = exec.Command(bin, args...)
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
	direct := pgtest.DSN(t)
	u, err := url.Parse(direct)
	if err != nil {
		t.Fatal(err)
	}
	schema := u.Query().Get("search_path")
	raw := make([]byte, 6)
	rand.Read(raw)
	alias := "lk" + hex.EncodeToString(raw)
	host, port, _ := net.SplitHostPort(b.base.Host)
	b.mu.Lock()
	f, err := os.OpenFile(b.ini, os.O_APPEND|os.O_WRONLY, 0)
	if err == nil {
		_, err = fmt.Fprintf(f, "%s = host=%s port=%s dbname=%s user=%s connect_query='SET search_path TO %s'\n",
			alias, host, port, b.base.Path[1:], b.base.User.Username(), schema)
		f.Close()
	}
	if err == nil {
		err = b.cmd.Process.Signal(syscall.SIGHUP)
	}
	b.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	pooled := fmt.Sprintf("postgres://%s@127.0.0.1:%s/%s?sslmode=disable", b.base.User.Username(), pgbouncerPort, alias)
	opts := testOptions()
	opts.DirectURL = direct
	var s *postgres.Store
	for i := 0; ; i++ {
		if s, err = postgres.Open(t.Context(), pooled, opts); err == nil {
			break
		}
		if i > 30 {
			t.Fatalf("open through pgbouncer: %v", err)
		}
		time.Sleep(100 * time.Millisecond) // the reload is asynchronous
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestConformanceThroughPgBouncer runs the whole store conformance suite
// through PgBouncer in transaction pooling mode: no named prepared
// statement and no session state may cross a transaction.
func TestConformanceThroughPgBouncer(t *testing.T) {
	b := startBouncer(t)
	storetest.Run(t, b.open)
}
