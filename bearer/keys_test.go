package bearer_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/bearer"
	"github.com/latchkey/latchkey/internal/testenv"
	"github.com/latchkey/latchkey/internal/testkit"
)

// OIDC Core §10.1.1, S237: a key staged by rotation signs once its
// activation delay has passed, and the validator picks it up on the
// first token that names it — no restart.
func TestKeyRotationOnDemand(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	secret := addClient(t, env, "reports", []string{"read"}, "")
	v, cnt := newValidator(t, env.URL, env.Clock.Now, func(c *bearer.Config) { c.JWKSRefreshInterval = time.Hour })
	old := getToken(t, env, "reports", secret)
	if _, err := v.Validate(context.Background(), old); err != nil {
		t.Fatal(err)
	}

	if _, err := env.Keys.Rotate(context.Background()); err != nil {
		t.Fatal(err)
	}
	env.Clock.Advance(env.Config.KeyActivationDelay + time.Minute)
	fresh := getToken(t, env, "reports", secret)
	if kidOf(t, fresh) == kidOf(t, old) {
		t.Fatal("the new token is still signed by the old key")
	}
	if _, err := v.Validate(context.Background(), fresh); err != nil {
		t.Fatalf("token of the rotated key: %v", err)
	}
	if n := cnt.count("/jwks"); n != 2 {
		t.Errorf("JWKS fetched %d times, want 2", n)
	}
}

// The background refresh learns staged keys before they sign, so no
// request ever waits for a fetch.
func TestKeyRotationInBackground(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	secret := addClient(t, env, "reports", []string{"read"}, "")
	v, cnt := newValidator(t, env.URL, env.Clock.Now, func(c *bearer.Config) {
		c.JWKSRefreshInterval = 20 * time.Millisecond
		c.MinRefreshInterval = 24 * time.Hour // no fetch on demand
	})
	if _, err := env.Keys.Rotate(context.Background()); err != nil {
		t.Fatal(err)
	}
	fetches := cnt.count("/jwks")
	waitFor(t, func() bool { return cnt.count("/jwks") >= fetches+2 })
	env.Clock.Advance(env.Config.KeyActivationDelay + time.Minute)
	if _, err := v.Validate(context.Background(), getToken(t, env, "reports", secret)); err != nil {
		t.Fatalf("token of the rotated key: %v", err)
	}
}

// An issuer that goes down does not take the resource server with it:
// the keys it has keep working, failures are logged (without tokens), and
// a token under an unknown kid is answered 503, not 401.
func TestIssuerDown(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	other := testenv.New(t, testenv.Options{})
	secret := addClient(t, env, "reports", []string{"read"}, "")
	otherSecret := addClient(t, other, "reports", []string{"read"}, "")
	var logs testkit.Buffer
	now, advance := offsetClock(env.Clock.Now)
	v, cnt := newValidator(t, env.URL, now, func(c *bearer.Config) {
		c.JWKSRefreshInterval = 20 * time.Millisecond
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	raw := getToken(t, env, "reports", secret)
	foreign := getToken(t, other, "reports", otherSecret)

	env.Server.Close()
	fetches := cnt.count("/jwks")
	waitFor(t, func() bool { return cnt.count("/jwks") >= fetches+2 })
	if _, err := v.Validate(context.Background(), raw); err != nil {
		t.Fatalf("known key while the issuer is down: %v", err)
	}
	if !strings.Contains(logs.String(), "cannot refresh the issuer's keys") {
		t.Errorf("no warning logged: %q", logs.String())
	}
	if strings.Contains(logs.String(), raw) || strings.Contains(logs.String(), foreign) {
		t.Error("a token was logged")
	}

	advance(time.Minute)
	_, err := v.Validate(context.Background(), foreign)
	wantErr(t, err, bearer.ErrUnavailable)
	r := httptest.NewRequest("GET", "/notes", nil)
	r.Header.Set("Authorization", "Bearer "+foreign)
	w := httptest.NewRecorder()
	notesAPI(v).ServeHTTP(w, r)
	if w.Code != 503 || w.Header().Get("Retry-After") == "" || w.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("unknown kid while down: %d %v", w.Code, w.Header())
	}
}

// After Close, validation goes on with the keys fetched.
func TestClose(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	secret := addClient(t, env, "reports", []string{"read"}, "")
	v, _ := newValidator(t, env.URL, env.Clock.Now, nil)
	v.Close()
	v.Close()
	if _, err := v.Validate(context.Background(), getToken(t, env, "reports", secret)); err != nil {
		t.Fatal(err)
	}
	var be *bearer.Error
	_, err := v.Validate(context.Background(), "")
	if !errors.As(err, &be) || !errors.Is(err, bearer.ErrNoToken) || be.StatusCode() != 401 {
		t.Fatalf("empty token: %v", err)
	}
}

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
