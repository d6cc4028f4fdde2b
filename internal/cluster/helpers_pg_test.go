package cluster

// A private PostgreSQL cluster (initdb, pg_ctl) that a test may stop and
// start at will without disturbing the shared test database that other
// packages use at the same time.

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
)

// pgServer is a PostgreSQL cluster in a temporary directory, listening on
// 127.0.0.1 on a port of its own, with trust authentication.
type pgServer struct {
	bin        string // the directory holding initdb and pg_ctl
	dir        string // data/, the socket and the server log
	port       int
	asPostgres bool // run the commands as the postgres OS user (we are root)
}

// startPrivatePostgres creates and starts a cluster and stops it when the
// test ends. Without PostgreSQL's programs, or as root without a postgres
// user, it skips the test (fails it under CI=true).
func startPrivatePostgres(t *testing.T) *pgServer {
	t.Helper()
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(found) == 0 {
		skipOrFail(t, "no PostgreSQL server programs (/usr/lib/postgresql/*/bin/initdb); install postgresql to run this test")
	}
	slices.Sort(found)
	dir, err := os.MkdirTemp("", "latchkey-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	p := &pgServer{bin: filepath.Dir(found[len(found)-1]), dir: dir, port: freePort(t)}
	if os.Geteuid() == 0 {
		// PostgreSQL refuses to run as root: hand the directory to postgres.
		u, err := user.Lookup("postgres")
		if err != nil {
			skipOrFail(t, "running as root and there is no postgres user to run a private PostgreSQL as: "+err.Error())
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		p.asPostgres = true
	}
	p.run(t, "initdb", "-D", p.data(), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync")
	p.start(t)
	t.Cleanup(func() { _ = p.command("pg_ctl", "-D", p.data(), "-m", "immediate", "-w", "stop").Run() })
	return p
}

// skipOrFail skips the test, or fails it under CI=true, where a missing
// prerequisite is a broken pipeline.
func skipOrFail(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

func (p *pgServer) data() string { return filepath.Join(p.dir, "data") }

// dsn is the URL Latchkey and the tests connect with.
func (p *pgServer) dsn() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.port)
}

// start starts the server and waits until it accepts connections.
func (p *pgServer) start(t *testing.T) {
	t.Helper()
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off", p.port, p.dir)
	p.run(t, "pg_ctl", "-D", p.data(), "-l", filepath.Join(p.dir, "server.log"), "-o", opts, "-w", "-t", "30", "start")
}

// stop shuts the server down (fast: open sessions are ended).
func (p *pgServer) stop(t *testing.T) {
	t.Helper()
	p.run(t, "pg_ctl", "-D", p.data(), "-m", "fast", "-w", "stop")
}

// run runs one of PostgreSQL's programs or fails the test.
func (p *pgServer) run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := p.command(name, args...).CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(p.dir, "server.log"))
		t.Fatalf("%s %v: %v\n%s\nserver log:\n%s", name, args, err, out, log)
	}
}

// command is name from PostgreSQL's bin directory, run as postgres when
// we are root.
func (p *pgServer) command(name string, args ...string) *exec.Cmd {
	path := filepath.Join(p.bin, name)
	if !p.asPostgres {
		return exec.Command(path, args...)
	}
	runuser, err := exec.LookPath("runuser")
	if err != nil {
		runuser = "/usr/sbin/runuser"
	}
	return exec.Command(runuser, append([]string{"-u", "postgres", "--", path}, args...)...)
}
