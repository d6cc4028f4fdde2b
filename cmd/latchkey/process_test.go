package main

// The real binary, where the process matters: signals and exit statuses.

import (
	"bufio"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/testenv"
	"github.com/latchkey/latchkey/internal/testkit"
)

// TestBinarySIGTERMShutsDownGracefully starts the built binary, checks
// that a second serve on the same address fails clearly, then sends
// SIGTERM and expects exit status 0 and a "shutting down" log line.
func TestBinarySIGTERMShutsDownGracefully(t *testing.T) {
	t.Parallel()
	bin := binary.Path(t)
	dir := t.TempDir()
	storage := "sqlite://" + filepath.Join(dir, "latchkey.db")
	cmd := exec.Command(bin, "serve", "--listen", "127.0.0.1:0", "--storage", storage)
	// No grace: TestBinarySIGTERMDrainsThenExits covers it.
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + dir, "LATCHKEY_SHUTDOWN_GRACE=0s"}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	// Read the log until the listening line; keep the rest for later.
	logs := &testkit.Buffer{}
	addrc := make(chan string, 1)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logs.Write(append(sc.Bytes(), '\n'))
			if a := testenv.ListeningAddr(sc.Text()); a != "" {
				addrc <- a
			}
		}
		_, _ = io.Copy(logs, stderr)
	}()
	var addr string
	select {
	case addr = <-addrc:
	case <-time.After(20 * time.Second):
		t.Fatalf("no listening line within 20 s:\n%s", logs.String())
	}
	if err := testkit.WaitHealthy("http://"+addr, 10*time.Second); err != nil {
		t.Fatal(err)
	}

	second := exec.Command(bin, "serve", "--listen", addr, "--storage", "sqlite://"+filepath.Join(t.TempDir(), "other.db"))
	second.Env = cmd.Env
	out, err := second.CombinedOutput()
	if code := exitCode(err); code != 1 {
		t.Errorf("a second serve on %s exited %d, want 1; output:\n%s", addr, code, out)
	}
	if want := "listen on " + addr; !strings.Contains(string(out), want) || !strings.Contains(string(out), "address already in use") {
		t.Errorf("a second serve on %s said:\n%s\nwant an error with %q and \"address already in use\"", addr, out, want)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { <-readDone; waited <- cmd.Wait() }()
	select {
	case err := <-waited:
		if code := exitCode(err); code != 0 {
			t.Fatalf("after SIGTERM serve exited %d (%v), want 0; log:\n%s", code, err, logs.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("serve did not exit within 15 s of SIGTERM; log:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), `"msg":"shutting down"`) {
		t.Errorf("no \"shutting down\" line in the log:\n%s", logs.String())
	}
}

// TestBinaryExitStatus checks the statuses main picks: 2 for a mistake on
// the command line, 1 for a command that fails, 0 for help.
func TestBinaryExitStatus(t *testing.T) {
	t.Parallel()
	bin := binary.Path(t)
	bad := filepath.Join("..", "..", "internal", "config", "testdata", "five_problems.yaml")
	for _, tc := range []struct {
		args   []string
		status int
		stderr string
	}{
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"serve", "--no-such-flag"}, 2, "flag provided but not defined: -no-such-flag"},
		{[]string{"keys", "spin"}, 2, "expected: latchkey keys list|rotate"},
		{[]string{"config", "validate", bad}, 1, "is not valid"},
		{[]string{"--help"}, 0, ""},
		{[]string{"version"}, 0, ""},
	} {
		cmd := exec.Command(bin, tc.args...)
		cmd.Env = []string{"PATH=/usr/bin:/bin"}
		var stderr testkit.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		if code := exitCode(err); code != tc.status {
			t.Errorf("latchkey %s: exit status %d, want %d; stderr:\n%s", strings.Join(tc.args, " "), code, tc.status, stderr.String())
		}
		if !strings.Contains(stderr.String(), tc.stderr) {
			t.Errorf("latchkey %s: stderr\n%s\nwant it to contain %q", strings.Join(tc.args, " "), stderr.String(), tc.stderr)
		}
	}
}
