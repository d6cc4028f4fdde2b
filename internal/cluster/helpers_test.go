package cluster

// The process harness: build latchkey once, write a configuration, start
// instances and wait for them, stop them with SIGTERM or kill them with
// SIGKILL, and run the CLI beside them.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/testenv"
	"github.com/latchkey/latchkey/internal/testkit"
)

// binary is the latchkey program, built once per test binary.
var binary testenv.Binary

func TestMain(m *testing.M) {
	code := m.Run()
	binary.Remove()
	os.Exit(code)
}

// Credentials of the clients and users every configuration declares.
const (
	systemSecret = "cluster-test-system-secret-0123456789abcdef"
	svcSecret    = "svc-secret-of-at-least-32-characters-000"
	rsSecret     = "rs-secret-of-at-least-32-characters-0000"
	webSecret    = "web-secret-of-at-least-32-characters-000"
	appSecret    = "app-secret-of-at-least-32-characters-000"
	graceSecret  = "grace-secret-of-at-least-32-characters-0"
	opaqueSecret = "opaque-secret-of-at-least-32-characters-"
	alicePass    = "wonderland"
	bobPass      = "builder-bob"
	redirectURI  = "http://127.0.0.1:9999/cb"
)

// client is a confidential client's credentials.
type client struct{ id, secret string }

var (
	svc    = client{"svc", svcSecret}       // client_credentials, JWT
	rs     = client{"rs", rsSecret}         // a resource server that introspects
	web    = client{"web", webSecret}       // authorization code (+ refresh)
	app    = client{"app", appSecret}       // password (+ refresh)
	grace  = client{"grace", graceSecret}   // password (+ refresh) with refresh_grace 5s
	opaque = client{"opaque", opaqueSecret} // client_credentials, opaque tokens
)

// baseConfig is the configuration of a test cluster on storage whose
// issuer is issuer: the clients and users above, one shared system
// secret, keys reloaded every 200ms, cheap password hashes, JSON logs.
func baseConfig(storage, issuer string) config.Config {
	c := config.Default()
	c.Issuer, c.Listen, c.Storage = issuer, "127.0.0.1:0", config.StorageURL(storage)
	c.Secrets.System = systemSecret
	c.Log = config.Log{Level: "info", Format: "json"}
	c.Keys.ReloadInterval = config.Duration(200 * time.Millisecond)
	// A cache this long means that a change seen on another instance was
	// announced through PostgreSQL, not waited out.
	c.Database.CacheTTL = config.Duration(time.Minute)
	c.Passwords = config.Argon2{MemoryKiB: 8192, Iterations: 1, Parallelism: 1}
	c.Limits.PerClient, c.Limits.PerIP = 100000, 100000
	c.Limits.PerUsername, c.Limits.BaseDelay = 3, config.Duration(30*time.Second)
	cc := []string{"client_credentials"}
	c.Clients = []config.Client{
		{ID: svc.id, Secret: config.Secret(svc.secret), GrantTypes: cc, Scopes: []string{"read", "write"}},
		{ID: rs.id, Secret: config.Secret(rs.secret), GrantTypes: cc, Scopes: []string{"read"}, Introspection: true},
		{ID: web.id, Name: "Web", Secret: config.Secret(web.secret), RedirectURIs: []string{redirectURI},
			GrantTypes: []string{"authorization_code", "refresh_token"}, Scopes: []string{"openid", "read"}},
		{ID: app.id, Secret: config.Secret(app.secret), GrantTypes: []string{"password", "refresh_token"}, Scopes: []string{"read"}},
		{ID: grace.id, Secret: config.Secret(grace.secret), GrantTypes: []string{"password", "refresh_token"}, Scopes: []string{"read"},
			RefreshGrace: config.Duration(5 * time.Second)},
		{ID: opaque.id, Secret: config.Secret(opaque.secret), GrantTypes: cc, Scopes: []string{"read"}, AccessTokenFormat: "opaque"},
	}
	c.Users = []config.User{
		{Username: "alice", Password: alicePass, Claims: map[string]any{"name": "Alice"}},
		{Username: "bob", Password: bobPass},
	}
	return c
}

// writeConfig writes c as YAML into a new file and returns its path.
func writeConfig(t *testing.T, c config.Config) string {
	t.Helper()
	b, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "latchkey.yaml")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// childEnv is the environment of every latchkey process: nothing of the
// caller's LATCHKEY_* variables, and the configuration's directory as HOME.
func childEnv(cfgPath string) []string {
	// No shutdown grace: these tests stop instances by SIGTERM often, and
	// the readiness drain has its own test in cmd/latchkey.
	return []string{"PATH=" + os.Getenv("PATH"), "HOME=" + filepath.Dir(cfgPath), "LATCHKEY_SHUTDOWN_GRACE=0s"}
}

// latchkeyCLI runs "latchkey args..." with the configuration file and
// returns its standard output, failing the test when it fails.
func latchkeyCLI(t *testing.T, cfgPath string, args ...string) string {
	t.Helper()
	stdout, stderr, err := runLatchkey(t, cfgPath, args...)
	if err != nil {
		t.Fatalf("latchkey %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout, stderr)
	}
	return stdout
}

// runLatchkey runs "latchkey args... --config cfgPath" to its end (within
// 30 seconds) and returns its output and error.
func runLatchkey(t *testing.T, cfgPath string, args ...string) (stdout, stderr string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary.Path(t), append(args, "--config", cfgPath)...)
	cmd.Env = childEnv(cfgPath)
	var out, errs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errs
	err = cmd.Run()
	return out.String(), errs.String(), err
}

// instance is one running latchkey serve.
type instance struct {
	name string
	url  string // http://127.0.0.1:PORT, where this process listens
	cmd  *exec.Cmd
	logs *testkit.Buffer
	done chan struct{} // closed once the process has exited
}

// startInstance runs "latchkey serve --config cfgPath", waits for its
// "listening" log line and for /healthz, and stops it with SIGTERM when
// the test ends (failing the test if its log shows a panic).
func startInstance(t *testing.T, name, cfgPath string) *instance {
	t.Helper()
	in, err := launch(t, binary.Path(t), name, cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// startInstances starts one instance per name at the same time, as a
// deployment would.
func startInstances(t *testing.T, cfgPath string, names ...string) []*instance {
	t.Helper()
	bin := binary.Path(t) // may fail the test: only on this goroutine
	ins := make([]*instance, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() { ins[i], errs[i] = launch(t, bin, name, cfgPath) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	return ins
}

// launch is startInstance returning its error; it may run on any goroutine.
func launch(t *testing.T, bin, name, cfgPath string) (*instance, error) {
	in := &instance{name: name, logs: &testkit.Buffer{}, done: make(chan struct{})}
	in.cmd = exec.Command(bin, "serve", "--config", cfgPath)
	in.cmd.Env = childEnv(cfgPath)
	in.cmd.Stderr = in.logs
	if err := in.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = in.cmd.Wait(); close(in.done) }()
	t.Cleanup(func() {
		in.stop(t)
		if strings.Contains(in.logs.String(), "panic") {
			t.Errorf("%s logged a panic:\n%s", name, tail(in.logs.String(), 40))
		}
		if t.Failed() {
			t.Logf("%s's warnings and errors:\n%s", name, tail(warnings(in.logs.String()), 30))
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for in.url == "" {
		select {
		case <-in.done:
			return nil, fmt.Errorf("%s exited before listening:\n%s", name, in.logs.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%s logged no \"listening\" line within 30 s:\n%s", name, in.logs.String())
		}
		if addr := testenv.ListeningAddr(in.logs.String()); addr != "" {
			in.url = "http://" + addr
		}
	}
	if err := testkit.WaitHealthy(in.url, 10*time.Second); err != nil {
		return nil, err
	}
	return in, nil
}

// warnings keeps the log lines at WARN or ERROR, which say why a request
// was refused or failed.
func warnings(logs string) string {
	var b strings.Builder
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, `"level":"WARN"`) || strings.Contains(line, `"level":"ERROR"`) {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// stop sends SIGTERM and waits up to 15 s for the process to exit (then
// kills it). Stopping an exited instance does nothing.
func (in *instance) stop(t *testing.T) {
	select {
	case <-in.done:
		return
	default:
	}
	_ = in.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-in.done:
	case <-time.After(15 * time.Second):
		t.Errorf("%s did not exit within 15 s of SIGTERM", in.name)
		in.kill()
	}
}

// kill sends SIGKILL and waits until the process is gone.
func (in *instance) kill() {
	_ = in.cmd.Process.Kill()
	<-in.done
}

// waitStatus polls url until it answers want, or fails the test after
// timeout. It returns how long that took.
func waitStatus(t *testing.T, url string, want int, timeout time.Duration) time.Duration {
	t.Helper()
	d, err := testkit.PollStatus(url, want, timeout)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// freePort returns a loopback TCP port nobody listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// singleConfig is a configuration for one instance on a fixed free port,
// so that a restart keeps the issuer.
func singleConfig(t *testing.T, storage string) config.Config {
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	c := baseConfig(storage, "http://"+addr)
	c.Listen = addr
	return c
}

// waitOrFail waits for wait to return, or fails the test after timeout.
func waitOrFail(t *testing.T, wait func(), timeout time.Duration, msg string) {
	t.Helper()
	done := make(chan struct{})
	go func() { wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(timeout):
		t.Fatal(msg)
	}
}

// parallel runs fn for each of n items on four goroutines.
func parallel(n int, fn func(i int)) {
	var wg sync.WaitGroup
	next := make(chan int)
	for range 4 {
		wg.Go(func() {
			for i := range next {
				fn(i)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}
