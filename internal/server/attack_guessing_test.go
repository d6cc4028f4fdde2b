package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/testkit"
)

// guessingFixture has a password client and a user, with limits the test
// chooses and a base delay long enough that nothing expires mid-test.
type guessingFixture struct {
	*fixture
	secret string
}

func newGuessingFixture(t *testing.T, perUser, perClient, perIP int) guessingFixture {
	f := newFixture(t, func(c *server.Config) {
		c.Limits.PerUsername, c.Limits.PerClient, c.Limits.PerIP = perUser, perClient, perIP
		c.Limits.BaseDelay = time.Minute
	})
	secret := f.AddClient(t, store.Client{ID: "app", GrantTypes: []string{"password"}, Scopes: []string{"read"}})
	f.AddUser(t, "alice", "wonderland", nil)
	return guessingFixture{fixture: f, secret: secret}
}

func (f guessingFixture) password(t *testing.T, username, pw string, opts ...reqOpt) result {
	t.Helper()
	opts = append([]reqOpt{basic("app", f.secret)}, opts...)
	return post(t, f.Env, "/token", formOf("grant_type", "password", "username", username, "password", pw), opts...)
}

// wantThrottled checks a throttled attempt: still the RFC invalid_grant
// (no 500, no other code) with a Retry-After of at least one second.
func wantThrottled(t *testing.T, r result, code string) {
	t.Helper()
	status := http.StatusBadRequest
	if code == "invalid_client" {
		status = http.StatusUnauthorized
	}
	wantOAuthError(t, r, status, code)
	secs, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if err != nil || secs < 1 {
		t.Errorf("Retry-After = %q, want a positive number of seconds (A11)", r.Header.Get("Retry-After"))
	}
}

// TestA11PasswordGuessingPerUser: after N wrong passwords for one user,
// further attempts are throttled invalid_grant with Retry-After, and the
// right password is refused until the delay has passed (S025, A11).
func TestA11PasswordGuessingPerUser(t *testing.T) {
	f := newGuessingFixture(t, 3, 1000, 1000)
	for i := range 3 {
		r := f.password(t, "alice", fmt.Sprintf("guess-%d", i))
		wantOAuthError(t, r, http.StatusBadRequest, "invalid_grant")
		if r.Header.Get("Retry-After") != "" {
			t.Errorf("attempt %d under the limit carries Retry-After", i)
		}
	}
	wantThrottled(t, f.password(t, "alice", "guess-4"), "invalid_grant")
	wantThrottled(t, f.password(t, "alice", "wonderland"), "invalid_grant")
	wantThrottled(t, f.password(t, "ALICE", "wonderland"), "invalid_grant") // case variants share the counter

	f.Clock.Advance(61 * time.Second)
	wantToken(t, f.password(t, "alice", "wonderland"))
}

// TestA11GuessingLimitsHoldUnderLoad: 48 wrong guesses for one user sent
// at once must not slip past the limit while the first ones are still
// being hashed. The limit check, the hash and the failure's record share
// one slot of the hash gate, so at most one guess per slot (one per core)
// can pass the limit at the same moment; every other answer is throttled
// with Retry-After, and afterwards the right password waits too (S025,
// A11).
func TestA11GuessingLimitsHoldUnderLoad(t *testing.T) {
	const limit, guesses = 5, 48
	f := newGuessingFixture(t, limit, 100000, 100000)
	answers := testkit.AtOnce(guesses, func(i int) result { return f.password(t, "alice", fmt.Sprintf("guess-%d", i)) })
	checked := 0
	for i, r := range answers {
		if r.Status != http.StatusBadRequest || r.JSON(t)["error"] != "invalid_grant" {
			t.Errorf("guess %d: %d %s, want 400 invalid_grant", i, r.Status, r.Body)
		}
		if r.Header.Get("Retry-After") == "" {
			checked++
		}
	}
	slack := runtime.GOMAXPROCS(0) - 1
	if checked < limit || checked > limit+slack {
		t.Errorf("%d of %d concurrent guesses were checked, want %d to %d (the limit, plus one per extra hash slot)",
			checked, guesses, limit, limit+slack)
	}
	wantThrottled(t, f.password(t, "alice", "wonderland"), "invalid_grant")
}

// TestA11PasswordGuessingPerIP: spreading guesses over many usernames from
// one address hits the per-IP limit, and then even a real user with the
// right password waits (S025, A11).
func TestA11PasswordGuessingPerIP(t *testing.T) {
	f := newGuessingFixture(t, 1000, 1000, 4)
	for i := range 4 {
		wantOAuthError(t, f.password(t, fmt.Sprintf("user-%d", i), "guess"), http.StatusBadRequest, "invalid_grant")
	}
	wantThrottled(t, f.password(t, "alice", "wonderland"), "invalid_grant")
}

// TestA11PasswordGuessingPerClient: one client's password attempts are
// limited as a whole, whatever the usernames (S025).
func TestA11PasswordGuessingPerClient(t *testing.T) {
	f := newGuessingFixture(t, 1000, 4, 1000)
	for i := range 4 {
		wantOAuthError(t, f.password(t, fmt.Sprintf("user-%d", i), "guess"), http.StatusBadRequest, "invalid_grant")
	}
	wantThrottled(t, f.password(t, "alice", "wonderland"), "invalid_grant")
}

// TestA11NoUserEnumeration: an unknown user and a wrong password get the
// same status, headers and body, byte for byte (A11).
func TestA11NoUserEnumeration(t *testing.T) {
	f := newGuessingFixture(t, 1000, 1000, 1000)
	unknown := f.password(t, "mallory", "wonderland")
	wrong := f.password(t, "alice", "not-wonderland")
	if unknown.Status != wrong.Status || !bytes.Equal(unknown.Body, wrong.Body) {
		t.Errorf("unknown user: %d %s; wrong password: %d %s", unknown.Status, unknown.Body, wrong.Status, wrong.Body)
	}
	for _, h := range []string{"Content-Type", "Cache-Control", "Pragma", "WWW-Authenticate", "Retry-After", "Content-Length"} {
		if unknown.Header.Get(h) != wrong.Header.Get(h) {
			t.Errorf("%s differs: %q vs %q", h, unknown.Header.Get(h), wrong.Header.Get(h))
		}
	}
}

// TestA11ClientSecretGuessing: wrong secrets for one client_id lead to a
// throttled invalid_client with Retry-After, which refuses the right
// secret too until the delay passes (S005, A11).
func TestA11ClientSecretGuessing(t *testing.T) {
	f := newGuessingFixture(t, 1000, 3, 1000)
	cc := formOf("grant_type", "client_credentials")
	ccClient := f.AddClient(t, store.Client{ID: "svc", GrantTypes: []string{"client_credentials"}})
	for i := range 3 {
		wantOAuthError(t, post(t, f.Env, "/token", cc, basic("svc", fmt.Sprintf("lk_cs_guess%d", i))),
			http.StatusUnauthorized, "invalid_client")
	}
	wantThrottled(t, post(t, f.Env, "/token", cc, basic("svc", "lk_cs_guess")), "invalid_client")
	wantThrottled(t, post(t, f.Env, "/token", creds("svc", ccClient, formOf("grant_type", "client_credentials"))), "invalid_client")
	// Another client is not affected by the guesses against svc.
	wantOAuthError(t, f.password(t, "alice", "x"), http.StatusBadRequest, "invalid_grant")

	f.Clock.Advance(61 * time.Second)
	wantToken(t, post(t, f.Env, "/token", cc, basic("svc", ccClient)))
}

// TestA11FailuresAudited: each failed password check and each throttled
// attempt leaves a warning with the username, client and IP, and never the
// password (A11, S128).
func TestA11FailuresAudited(t *testing.T) {
	f := newGuessingFixture(t, 2, 1000, 1000)
	guesses := []string{"hunter2-first-guess", "hunter2-second-guess", "hunter2-third-guess"}
	for _, g := range guesses {
		f.password(t, "alice", g)
	}
	f.password(t, "alice", "wonderland")
	var failed, throttled int
	for _, line := range strings.Split(strings.TrimSpace(f.Logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %s", line)
		}
		switch rec["msg"] {
		case "password check failed":
			failed++
		case "password attempt throttled":
			throttled++
		default:
			continue
		}
		if rec["level"] != "WARN" || rec["username"] != "alice" || rec["client_id"] != "app" || rec["ip"] != "127.0.0.1" {
			t.Errorf("audit record %s lacks level, username, client or ip", line)
		}
	}
	if failed != 2 || throttled != 2 {
		t.Errorf("audited %d failures and %d throttled attempts, want 2 and 2", failed, throttled)
	}
	for _, secret := range append(guesses, "wonderland", f.secret) {
		if strings.Contains(f.Logs.String(), secret) {
			t.Errorf("the log contains the secret %q (A11, S128)", secret)
		}
	}
}
