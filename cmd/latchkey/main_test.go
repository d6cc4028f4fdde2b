package main

// Helpers shared by the command's tests: run latchkey in-process, start
// serve and wait for it, the real binary (built once), and talk to the
// token endpoint.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/testenv"
	"github.com/latchkey/latchkey/internal/testkit"
)

// envOf is a getenv that sees only vars, so the tests never depend on the
// LATCHKEY_* variables of whoever runs them.
func envOf(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// cliResult is what one in-process run of latchkey produced.
type cliResult struct {
	stdout, stderr string
	err            error
}

// runCLI runs "latchkey args..." in-process with the given environment and
// standard input, and returns its output and error.
func runCLI(t *testing.T, vars map[string]string, stdin string, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var stdout, stderr testkit.Buffer
	err := run(ctx, append([]string{"latchkey"}, args...), envOf(vars), strings.NewReader(stdin), &stdout, &stderr)
	return cliResult{stdout: stdout.String(), stderr: stderr.String(), err: err}
}

// mustRun is runCLI that fails the test when the command fails.
func mustRun(t *testing.T, vars map[string]string, stdin string, args ...string) string {
	t.Helper()
	r := runCLI(t, vars, stdin, args...)
	if r.err != nil {
		t.Fatalf("latchkey %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.err, r.stdout, r.stderr)
	}
	return r.stdout
}

// sqliteStorage returns a storage URL for a new database in a test
// directory.
func sqliteStorage(t *testing.T) string {
	return "sqlite://" + filepath.Join(t.TempDir(), "latchkey.db")
}

// served is a latchkey serve running in-process.
type served struct {
	addr, url      string
	stdout, stderr *testkit.Buffer
	cancel         context.CancelFunc
	done           chan error
}

// startServe runs "latchkey serve args..." in-process, waits for its
// "listening" log line and for /healthz to answer 200, and stops it when
// the test ends.
func startServe(t *testing.T, vars map[string]string, args ...string) *served {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &served{stdout: &testkit.Buffer{}, stderr: &testkit.Buffer{}, cancel: cancel, done: make(chan error, 1)}
	go func() {
		s.done <- run(ctx, append([]string{"latchkey", "serve"}, args...), envOf(vars), strings.NewReader(""), s.stdout, s.stderr)
	}()
	t.Cleanup(func() { _ = s.stop() })
	deadline := time.Now().Add(20 * time.Second)
	for s.addr == "" {
		select {
		case err := <-s.done:
			s.done <- err
			t.Fatalf("serve stopped before listening: %v\nstderr:\n%s", err, s.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve logged no \"listening\" line within 20 s; stderr:\n%s", s.stderr.String())
		}
		s.addr = testenv.ListeningAddr(s.stderr.String())
	}
	s.url = "http://" + s.addr
	if err := testkit.WaitHealthy(s.url, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	return s
}

// stop cancels the server's context and returns what run returned.
func (s *served) stop() error {
	s.cancel()
	select {
	case err := <-s.done:
		s.done <- err
		return err
	case <-time.After(15 * time.Second):
		return errors.New("serve did not stop within 15 s")
	}
}

// postForm sends an authenticated form POST (client_secret_basic) and
// returns the status and the JSON body (nil when the body is empty).
func postForm(t *testing.T, endpoint, clientID, secret string, form url.Values) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, &out); err != nil {
			t.Fatalf("POST %s answered %d with a body that is not JSON: %s", endpoint, resp.StatusCode, body)
		}
	}
	return resp.StatusCode, out
}

// clientCredentials asks base's token endpoint for a client credentials
// token.
func clientCredentials(t *testing.T, base, clientID, secret string) (int, map[string]any) {
	t.Helper()
	return postForm(t, base+"/token", clientID, secret, url.Values{"grant_type": {"client_credentials"}})
}

// binary is the latchkey program, built once for the tests that need a
// real process (signals, exit statuses).
var binary testenv.Binary

func TestMain(m *testing.M) {
	code := m.Run()
	binary.Remove()
	os.Exit(code)
}

// exitCode returns the exit status of a finished command.
func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// decodeJSON decodes a JSON object or fails the test.
func decodeJSON(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("not a JSON object (%v):\n%s", err, s)
	}
	return m
}

// readAll reads r or fails the test.
func readAll(t *testing.T, r io.Reader) string {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
