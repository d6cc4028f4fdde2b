package main

// latchkey demo: every part succeeds, nothing is left behind, and a
// failing step makes the demo fail.

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/testkit"
)

// tempWatcher is the demo's standard output; on every write it notes
// whether a latchkey-demo-* directory exists in dir.
type tempWatcher struct {
	testkit.Buffer
	dir  string
	seen atomic.Bool
}

func (w *tempWatcher) Write(p []byte) (int, error) {
	if m, _ := filepath.Glob(filepath.Join(w.dir, "latchkey-demo-*")); len(m) > 0 {
		w.seen.Store(true)
	}
	return w.Buffer.Write(p)
}

// TestDemo is not parallel: it points TMPDIR at a directory of its own,
// so that leftovers of other programs cannot hide or fake its own.
func TestDemo(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	if os.TempDir() != tmp {
		t.Fatalf("os.TempDir() = %s after setting TMPDIR=%s", os.TempDir(), tmp)
	}
	out := &tempWatcher{dir: tmp}
	var stderr testkit.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := run(ctx, []string{"latchkey", "demo"}, envOf(nil), strings.NewReader(""), out, &stderr); err != nil {
		t.Fatalf("latchkey demo: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), stderr.String())
	}
	got := out.String()
	for _, part := range []string{"Authorization code grant", "Password grant", "Client credentials grant", "Sender-constrained token (DPoP)",
		"Device authorization grant", "Token exchange: an API calling another API for the user", "Implicit grant: refused"} {
		if !strings.Contains(got, "════════ "+part) {
			t.Errorf("the demo has no %q part", part)
		}
	}
	// One ✓ line for every call of the notes API, with the status wanted.
	var statuses []string
	for _, m := range regexp.MustCompile(`(?m)^✓ the resource server answered (\d{3}) `).FindAllStringSubmatch(got, -1) {
		statuses = append(statuses, m[1])
	}
	// The DPoP act: the key's holder is served (200), the stolen token as
	// Bearer and with the thief's own proof are not (401, 401). The device
	// act: the TV reads the notes (200). The token exchange act: the user's
	// token is refused by the calendar API (401, not its audience), the
	// exchanged one is served (200).
	if want := []string{"200", "201", "200", "200", "403", "200", "401", "401", "200", "401", "200"}; !slices.Equal(statuses, want) {
		t.Errorf("the notes API calls answered %v, want %v", statuses, want)
	}
	for _, line := range []string{
		"✓ the client has an access token, a refresh token and an ID token.",
		"✓ refused: the redirect carries error=unsupported_response_type and no token.",
		"✓ the notes API has a token for the calendar API (issued_token_type access_token).",
		"✓ every step succeeded.",
	} {
		if !strings.Contains(got, line) {
			t.Errorf("the demo does not say %q", line)
		}
	}
	checkDeviceAct(t, got)
	checkExchangeAct(t, got)
	if strings.Contains(got, "✗") {
		t.Errorf("a step failed")
	}
	if t.Failed() {
		t.Logf("stdout:\n%s", got)
	}
	if !out.seen.Load() {
		t.Errorf("no latchkey-demo-* directory appeared in %s while the demo ran", tmp)
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, "latchkey-demo-*")); len(left) > 0 {
		t.Errorf("the demo left %v behind", left)
	}
}

// exchangeActRE reads the token exchange act: the exchange request with
// its subject token masked, the answer's issued_token_type, and the
// calendar API's view of the exchanged token.
var exchangeActRE = regexp.MustCompile(`(?s)grant_type=urn:ietf:params:oauth:grant-type:token-exchange&resource=(\S+?)&scope=read` +
	`&subject_token=([^&\n]+)&subject_token_type=urn:ietf:params:oauth:token-type:access_token\n` +
	`.*?"issued_token_type": "urn:ietf:params:oauth:token-type:access_token".*?` +
	`"act": \{\n\s+"client_id": "notes-api",\n\s+"sub": "client:notes-api"\n\s+\}.*?"subject": "(\S+)"\n.*?` +
	`✓ the calendar API served Alice's events \(sub (\S+)\) and sees who acts for her: act\.sub client:notes-api\.`)

// checkExchangeAct checks the token exchange act (RFC 8693 §2.1, §4.1):
// the subject token never shows in full, the exchanged token is for the
// calendar API, and the calendar API sees the user as sub and the notes
// API as act.
func checkExchangeAct(t *testing.T, out string) {
	t.Helper()
	m := exchangeActRE.FindStringSubmatch(out)
	if m == nil {
		t.Errorf("the token exchange act is not in the order expected")
		return
	}
	if !strings.Contains(m[2], "…(") {
		t.Errorf("the trace shows the subject token %q unmasked", m[2])
	}
	if m[3] != m[4] || m[3] == "" || strings.Contains(m[3], ":") {
		t.Errorf("the calendar API saw sub %q, the demo says %q: want the same user", m[3], m[4])
	}
}

// deviceActRE reads the device act: what the TV shows, its first poll's
// answer, the user's part on the phone, then the poll that gets the token.
var deviceActRE = regexp.MustCompile(`(?s)The TV shows:  Open (\S+) and enter the code ([BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4})\n` +
	`.*?, poll 1\n.*?"error": "authorization_pending".*?✓ authorization_pending: the user has not approved yet, so the TV asks again every 1s\.\n` +
	`── Step \d+: on a phone, the user opens the verification URI the TV shows.*?-> GET (\S+)\n` +
	`.*?user_code=([A-Z-]+)\n.*?password=\*\*\*\*.*?decision=approve&user_code=([A-Z-]+)\n` +
	`.*?✓ the phone shows Device connected; the TV's next poll gets the tokens\.\n` +
	`.*?, poll 2\n.*?<- 200 OK\n.*?"access_token": .*?✓ the TV has an access token for the user`)

// checkDeviceAct checks the device act's order (RFC 8628 §3.3-§3.5):
// the TV shows a code of the BCDF-GHJK shape (S193) and the URI, polls
// and is told authorization_pending (S190), the user opens that URI,
// types that code, signs in and approves, and the next poll gets tokens.
func checkDeviceAct(t *testing.T, out string) {
	t.Helper()
	m := deviceActRE.FindStringSubmatch(out)
	if m == nil {
		t.Errorf("the device act is not: the TV shows the code, poll 1 is authorization_pending, the user approves on the phone, poll 2 gets a token")
		return
	}
	uri, code := m[1], m[2]
	if m[3] != uri || m[4] != code || m[5] != code {
		t.Errorf("the phone opened %s with code %s and approved %s; the TV showed %s and %s", m[3], m[4], m[5], uri, code)
	}
}

// TestDemoDeviceActEndsWhenTheUserCannot: when the user's part fails
// (here a wrong password), the act fails at once with the reason, rather
// than polling until the code expires.
func TestDemoDeviceActEndsWhenTheUserCannot(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e := env{getenv: envOf(nil), stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard}
	d, err := startDemo(ctx, t.TempDir(), e)
	if err != nil {
		t.Fatal(err)
	}
	d.password = "not-alice-s-password"
	var out testkit.Buffer
	p := &player{d: d, out: &out, e: e}
	start := time.Now()
	err = p.device(ctx)
	if err == nil || !strings.Contains(err.Error(), "the scripted browser: ") || !strings.Contains(err.Error(), "login failed") {
		t.Fatalf("the device act with a wrong password: %v, want the scripted browser's login failed\n%s", err, out.String())
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("the act took %s to fail, want it to stop polling at once", took)
	}
	if strings.Contains(out.String(), "poll 2") {
		t.Errorf("the TV polled again after the user's part failed:\n%s", out.String())
	}
}

// TestDemoFailsWhenAStepFails breaks one client's secret: its part fails
// with the server's answer, the others still run, and play fails.
func TestDemoFailsWhenAStepFails(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e := env{getenv: envOf(nil), stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard}
	d, err := startDemo(ctx, t.TempDir(), e)
	if err != nil {
		t.Fatal(err)
	}
	d.secrets["notes-sync"] = "not-the-secret-of-notes-sync"
	var out testkit.Buffer
	p := &player{d: d, out: &out, e: e}
	err = p.play(ctx)
	if err == nil || err.Error() != "demo failed in: client credentials" {
		t.Fatalf("play with a wrong secret: %v, want \"demo failed in: client credentials\"", err)
	}
	got := out.String()
	if !strings.Contains(got, "✗ the client credentials part failed: invalid_client") {
		t.Errorf("the demo does not say which part failed and why:\n%s", got)
	}
	if strings.Contains(got, "every step succeeded") || !strings.Contains(got, "✓ refused") {
		t.Errorf("want the other parts played and no success message:\n%s", got)
	}

	// A call that answers another status than the one expected is a failure.
	c, err := newDemoClient(ctx, d, "notes-sync", nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	err = p.callNotes(ctx, c, http.MethodGet, "not-a-token", http.StatusOK, "a call without a valid token")
	if err == nil || !strings.Contains(err.Error(), "401 Unauthorized, want 200") {
		t.Errorf("callNotes with a bad token: %v, want an error saying 401, want 200", err)
	}
}
