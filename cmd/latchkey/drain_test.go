package main

import (
	"bufio"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/testenv"
	"github.com/latchkey/latchkey/internal/testkit"
)

// TestBinarySIGTERMDrainsThenExits is the shutdown a load balancer needs:
// on SIGTERM the real binary answers /readyz with 503 at once, goes on
// answering /token (on new connections too) for shutdown_grace, and only
// then shuts down and exits 0.
func TestBinarySIGTERMDrainsThenExits(t *testing.T) {
	t.Parallel()
	const grace = 3 * time.Second
	bin := binary.Path(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "latchkey.yaml")
	const secret = "a-long-random-secret-of-32-or-more-characters"
	cfgYAML := "shutdown_grace: " + grace.String() + "\nclients:\n  - id: reports\n    secret: " + secret +
		"\n    grant_types: [client_credentials]\n    scopes: [read]\n"
	if err := os.WriteFile(cfgPath, []byte(cfgYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "--config", cfgPath, "--listen", "127.0.0.1:0",
		"--storage", "sqlite://"+filepath.Join(dir, "latchkey.db"))
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + dir}
	logs, addr, exited := startBinary(t, cmd)
	base := "http://" + addr
	if err := testkit.WaitHealthy(base, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	// A fresh connection per request: after SIGTERM the listener must
	// still accept new ones, not only finish kept-alive ones.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	if code := statusOf(t, client, base+"/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz before SIGTERM = %d, want 200", code)
	}
	if code := ccStatus(t, client, base, secret); code != http.StatusOK {
		t.Fatalf("/token before SIGTERM = %d, want 200", code)
	}

	signalled := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// The signal is handled asynchronously: poll /readyz until it turns.
	code := 0
	for deadline := time.Now().Add(grace / 2); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if code = statusOf(t, client, base+"/readyz"); code == http.StatusServiceUnavailable {
			break
		}
	}
	if code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz after SIGTERM = %d, want 503; log:\n%s", code, logs.String())
	}
	if code := ccStatus(t, client, base, secret); code != http.StatusOK {
		t.Fatalf("/token during the grace = %d, want 200; log:\n%s", code, logs.String())
	}
	if code := statusOf(t, client, base+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz during the grace = %d, want 200 (the process is alive)", code)
	}
	select {
	case err := <-exited:
		t.Fatalf("serve exited during the grace: %v; log:\n%s", err, logs.String())
	default:
	}

	select {
	case err := <-exited:
		if code := exitCode(err); code != 0 {
			t.Fatalf("serve exited %d (%v), want 0; log:\n%s", code, err, logs.String())
		}
	case <-time.After(grace + 15*time.Second):
		t.Fatalf("serve did not exit within the grace and 15 s; log:\n%s", logs.String())
	}
	// A timer cannot fire early: the exit comes after the whole grace.
	if waited := time.Since(signalled); waited < grace {
		t.Errorf("serve exited %v after SIGTERM, before the %v grace ended", waited, grace)
	}
	log := logs.String()
	drain, shut := strings.Index(log, `"msg":"draining`), strings.Index(log, `"msg":"shutting down"`)
	if drain < 0 || shut < drain {
		t.Errorf("want a draining line and then a shutting down line; log:\n%s", log)
	}
	if _, err := client.Get(base + "/healthz"); err == nil {
		t.Errorf("the listener still answers after exit")
	}
}

// startBinary starts cmd, copies its standard error into logs, and waits
// for its listening line; exited receives what Wait returns.
func startBinary(t *testing.T, cmd *exec.Cmd) (logs *testkit.Buffer, addr string, exited <-chan error) {
	t.Helper()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	logs = &testkit.Buffer{}
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logs.Write(append(sc.Bytes(), '\n'))
			if a := testenv.ListeningAddr(sc.Text()); a != "" {
				addrc <- a
			}
		}
		_, _ = io.Copy(logs, stderr)
		done <- cmd.Wait()
	}()
	select {
	case addr = <-addrc:
	case err := <-done:
		t.Fatalf("serve exited before listening: %v\n%s", err, logs.String())
	case <-time.After(20 * time.Second):
		t.Fatalf("no listening line within 20 s:\n%s", logs.String())
	}
	return logs, addr, done
}

func statusOf(t *testing.T, c *http.Client, u string) int {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// ccStatus asks for a client credentials token as reports and returns the
// status.
func ccStatus(t *testing.T, c *http.Client, base, secret string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/token", strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("reports", secret)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("POST /token: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestBinarySecondSignalEndsGrace: a second signal during a long grace
// (an operator who will not wait) shuts down at once, still exiting 0.
func TestBinarySecondSignalEndsGrace(t *testing.T) {
	t.Parallel()
	bin := binary.Path(t)
	dir := t.TempDir()
	cmd := exec.Command(bin, "serve", "--listen", "127.0.0.1:0", "--storage", "sqlite://"+filepath.Join(dir, "latchkey.db"))
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + dir, "LATCHKEY_SHUTDOWN_GRACE=5m"}
	logs, addr, exited := startBinary(t, cmd)
	base := "http://" + addr
	if err := testkit.WaitHealthy(base, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	code := 0
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if code = statusOf(t, client, base+"/readyz"); code == http.StatusServiceUnavailable {
			break
		}
	}
	if code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz after SIGTERM = %d, want 503; log:\n%s", code, logs.String())
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if code := exitCode(err); code != 0 {
			t.Fatalf("serve exited %d (%v), want 0; log:\n%s", code, err, logs.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("serve still runs 15 s after a second signal in a 5m grace; log:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), `"msg":"a second signal: ending the grace"`) {
		t.Errorf("no line saying the grace was cut short:\n%s", logs.String())
	}
}
