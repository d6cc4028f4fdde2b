package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvBouncerPort names the variable that fixes the port of the test
// PgBouncer; unset, each StartBouncer listens on a port that is free at
// the time, so test binaries of several packages may run one each at once.
const EnvBouncerPort = "LATCHKEY_TEST_PGBOUNCER_PORT"

// Bouncer is a PgBouncer in transaction pooling mode in front of the test
// database. Each of its database entries has a fresh schema of its own,
// which its connect_query puts on the search_path: transaction pooling
// passes no search_path from the client.
type Bouncer struct {
	dir  string
	port int
	cmd  *exec.Cmd
	done chan struct{} // closed once PgBouncer has exited
	base *url.URL
	// entries are the database entries made before PgBouncer started (a
	// reload to add one took PgBouncer about 3 s), each used once.
	mu      sync.Mutex
	entries []BouncerEntry
}

// BouncerEntry is one database entry of a Bouncer.
type BouncerEntry struct {
	// Alias is the entry's database name on PgBouncer.
	Alias string
	// Pooled reaches the schema through PgBouncer.
	Pooled string
	// Direct reaches the same schema on PostgreSQL itself (search_path).
	Direct string
}

// StartBouncer starts PgBouncer with n database entries, each on a fresh
// schema dropped when t ends, and stops it when t ends. Without pgbouncer
// installed it skips t (fails it when CI=true); without PostgreSQL, DSN
// does.
func StartBouncer(t testing.TB, n int) *Bouncer {
	t.Helper()
	bin := bouncerBinary()
	if bin == "" {
		msg := "pgbouncer not installed (apt-get install pgbouncer)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	base, err := url.Parse(BaseDSN())
	if err != nil || base.Scheme == "" {
		t.Fatalf("pgtest: PgBouncer needs %s as a postgres:// URL: %v", EnvDSN, err)
	}
	b := &Bouncer{base: base, dir: t.TempDir()}
	host, port, _ := net.SplitHostPort(base.Host)
	var dbs strings.Builder
	for range n {
		direct := DSN(t)
		u, err := url.Parse(direct)
		if err != nil {
			t.Fatal(err)
		}
		alias := "lk" + randomHex(6)
		b.entries = append(b.entries, BouncerEntry{Alias: alias, Direct: direct})
		fmt.Fprintf(&dbs, "%s = host=%s port=%s dbname=%s user=%s connect_query='SET search_path TO %s'\n",
			alias, host, port, strings.TrimPrefix(base.Path, "/"), base.User.Username(), u.Query().Get("search_path"))
	}
	if err := os.WriteFile(b.path("users.txt"), fmt.Appendf(nil, "%q \"\"\n", base.User.Username()), 0o600); err != nil {
		t.Fatal(err)
	}
	fixed := os.Getenv(EnvBouncerPort)
	for attempt := 1; ; attempt++ {
		b.port = freeTCPPort(t)
		if fixed != "" {
			if b.port, err = strconv.Atoi(fixed); err != nil {
				t.Fatalf("pgtest: %s=%q is not a port", EnvBouncerPort, fixed)
			}
		}
		err := b.start(t, bin, dbs.String())
		if err == nil {
			break
		}
		// Another process may have taken the free port between our
		// probe and PgBouncer's bind: try another one.
		if !errors.Is(err, errPortTaken) || fixed != "" || attempt == 3 {
			t.Fatal(err)
		}
	}
	for i := range b.entries {
		b.entries[i].Pooled = fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", base.User.Username(), b.port, b.entries[i].Alias)
	}
	return b
}

// errPortTaken is a start that failed because the port was in use.
var errPortTaken = errors.New("pgbouncer: port taken")

// start writes the configuration for b.port and starts PgBouncer on it,
// waiting until it listens.
func (b *Bouncer) start(t testing.TB, bin, databases string) error {
	addr := fmt.Sprintf("127.0.0.1:%d", b.port)
	// A PgBouncer that a killed test run left behind (a panic or a
	// timeout skips the cleanup) would answer instead of this one.
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		return fmt.Errorf("%w: %s is taken, by a PgBouncer an earlier run left? (see ps -C pgbouncer)", errPortTaken, addr)
	}
	role := b.base.User.Username()
	conf := fmt.Sprintf(`[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = trust
auth_file = %s
admin_users = %s
stats_users = %s
pool_mode = transaction
max_client_conn = 200
default_pool_size = 2
server_idle_timeout = 1
server_check_delay = 0
stats_period = 1
logfile = %s
pidfile = %s
[databases]
%s`, b.port, b.path("users.txt"), role, role, b.path("pgbouncer.log"), b.path("pgbouncer.pid"), databases)
	ini := b.path("pgbouncer.ini")
	if err := os.WriteFile(ini, []byte(conf), 0o600); err != nil {
		return err
	}
	args := []string{ini}
	if os.Geteuid() == 0 {
		// PgBouncer refuses to run as root: drop to an unprivileged user
		// that owns the directory and its files.
		u, err := osUser()
		if err != nil {
			return fmt.Errorf("pgbouncer: no unprivileged user to run as: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chmod(filepath.Dir(b.dir), 0o755); err != nil {
			return err
		}
		for _, p := range []string{b.dir, ini, b.path("users.txt")} {
			if err := os.Chown(p, uid, gid); err != nil {
				return err
			}
		}
		args = append([]string{"-u", u.Username}, args...)
	}
	_ = os.Remove(b.path("pgbouncer.log")) // the log of a failed attempt
	b.cmd = exec.Command(bin, args...)
	// A test binary that dies takes its PgBouncer with it where the signal
	// survives PgBouncer's own privilege drop.
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	// Its own log goes to logfile.
	if err := b.cmd.Start(); err != nil {
		return err
	}
	b.done = make(chan struct{})
	go func() { _ = b.cmd.Wait(); close(b.done) }()
	for i := 0; ; i++ {
		select {
		case <-b.done:
			log := b.Log()
			if strings.Contains(log, "in use") {
				return fmt.Errorf("%w: %s:\n%s", errPortTaken, addr, log)
			}
			return fmt.Errorf("pgbouncer exited at start:\n%s", log)
		default:
		}
		// Listening on our port, by this process: its log says so.
		if strings.Contains(b.Log(), fmt.Sprintf("listening on %s", addr)) {
			break
		}
		if i > 100 {
			b.stop()
			return fmt.Errorf("pgbouncer did not listen on %s within 10 s:\n%s", addr, b.Log())
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Cleanup(b.stop)
	return nil
}

// stop ends PgBouncer with SIGTERM and waits for it.
func (b *Bouncer) stop() {
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.done:
	case <-time.After(10 * time.Second):
		_ = b.cmd.Process.Kill()
		<-b.done
	}
}

// Next returns a database entry nobody used yet, or fails t when every
// entry is used.
func (b *Bouncer) Next(t testing.TB) BouncerEntry {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.entries) == 0 {
		t.Fatal("pgtest: every PgBouncer database entry is used: start the bouncer with more")
	}
	e := b.entries[0]
	b.entries = b.entries[1:]
	return e
}

// Reuse returns a database entry whose schema is empty but may have been
// used and migrated before (see Pool): when t ends, its tables are
// emptied and the entry goes back for the next test. Close what uses it
// in a t.Cleanup registered after Reuse.
func (b *Bouncer) Reuse(t testing.TB) BouncerEntry {
	t.Helper()
	e := b.Next(t)
	t.Cleanup(func() {
		if err := empty(e.Direct); err != nil {
			t.Errorf("pgtest: empty the schema of %s for the next test: %v", e.Alias, err)
			return
		}
		b.mu.Lock()
		b.entries = append(b.entries, e)
		b.mu.Unlock()
	})
	return e
}

// Addr is PgBouncer's host:port.
func (b *Bouncer) Addr() string { return fmt.Sprintf("127.0.0.1:%d", b.port) }

// Log returns PgBouncer's log so far.
func (b *Bouncer) Log() string {
	log, _ := os.ReadFile(b.path("pgbouncer.log"))
	return string(log)
}

// Stats are PgBouncer's counters for one database entry (SHOW STATS).
type Stats struct {
	Transactions int64 // total_xact_count: transactions pooled
	Queries      int64 // total_query_count
}

// Stats asks PgBouncer's admin console for alias's counters, which it
// updates once a second (stats_period); zero before anyone connected.
func (b *Bouncer) Stats(ctx context.Context, alias string) (Stats, error) {
	// The admin console speaks the simple query protocol only.
	dsn := fmt.Sprintf("postgres://%s@%s/pgbouncer?sslmode=disable&default_query_exec_mode=simple_protocol", b.base.User.Username(), b.Addr())
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return Stats{}, fmt.Errorf("pgbouncer admin console: %w", err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, "SHOW STATS")
	if err != nil {
		return Stats{}, fmt.Errorf("SHOW STATS: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		// The simple protocol sends every value as text.
		raw := rows.RawValues()
		rec := map[string]string{}
		for i, f := range rows.FieldDescriptions() {
			rec[f.Name] = string(raw[i])
		}
		if rec["database"] != alias {
			continue
		}
		var s Stats
		if s.Transactions, err = strconv.ParseInt(rec["total_xact_count"], 10, 64); err != nil {
			return Stats{}, fmt.Errorf("SHOW STATS: total_xact_count %q", rec["total_xact_count"])
		}
		if s.Queries, err = strconv.ParseInt(rec["total_query_count"], 10, 64); err != nil {
			return Stats{}, fmt.Errorf("SHOW STATS: total_query_count %q", rec["total_query_count"])
		}
		return s, nil
	}
	if err := rows.Err(); err != nil {
		return Stats{}, fmt.Errorf("SHOW STATS: %w", err)
	}
	return Stats{}, nil // no row: nobody connected to alias yet
}

func (b *Bouncer) path(name string) string { return filepath.Join(b.dir, name) }

// bouncerBinary is the pgbouncer program, or "" when it is not installed
// (Debian puts it in /usr/sbin, which a user's PATH may lack).
func bouncerBinary() string {
	if bin, err := exec.LookPath("pgbouncer"); err == nil {
		return bin
	}
	for _, p := range []string{"/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// osUser is the unprivileged user PgBouncer runs as when we are root.
func osUser() (*user.User, error) {
	if u, err := user.Lookup("postgres"); err == nil {
		return u, nil
	}
	return user.Lookup("nobody")
}

// freeTCPPort returns a loopback port nobody listens on right now.
func freeTCPPort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
