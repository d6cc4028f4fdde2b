package cluster

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/config"
)

// TestPostgresRestart stops the PostgreSQL server under a running
// Latchkey: every request that needs the database answers 503
// temporarily_unavailable with Retry-After (never a 500, never a panic),
// /readyz answers 503; once PostgreSQL is back, Latchkey serves again by
// itself, and a refresh token refused during the outage still works.
func TestPostgresRestart(t *testing.T) {
	pg := startPrivatePostgres(t)
	cfg := singleConfig(t, pg.dsn())
	cfg.Database.ConnectTimeout = config.Duration(2 * time.Second)
	cfg.Database.QueryTimeout = config.Duration(2 * time.Second)
	in := startInstance(t, "latchkey", writeConfig(t, cfg))
	ctx := context.Background()
	hc := newHTTPClient(nil)

	// 1. Serving; a browser has the login page open.
	tok, err := passwordGrant(ctx, hc, in.url, app, "alice", alicePass)
	mustOK(t, "password grant", tok, err)
	waitStatus(t, in.url+"/readyz", http.StatusOK, 5*time.Second)
	br := newBrowser(nil, in.url)
	loginForm := openLoginPage(t, br, in.url, "alice", alicePass)

	// 2. PostgreSQL goes away.
	pg.stop(t)
	requests := map[string]func() (tokenResult, error){
		"client credentials": func() (tokenResult, error) { return clientCredentials(ctx, hc, in.url, svc) },
		"password grant":     func() (tokenResult, error) { return passwordGrant(ctx, hc, in.url, app, "alice", alicePass) },
		"refresh":            func() (tokenResult, error) { return refresh(ctx, hc, in.url, app, tok.RefreshToken) },
		"introspection":      func() (tokenResult, error) { return introspect(ctx, hc, in.url, tok.AccessToken) },
		"revocation":         func() (tokenResult, error) { return revoke(ctx, hc, in.url, app, tok.RefreshToken) },
	}
	for range 3 {
		for what, send := range requests {
			r, err := send()
			if err != nil || !r.is(http.StatusServiceUnavailable, "temporarily_unavailable") || r.RetryAfter == "" {
				t.Errorf("%s while PostgreSQL is down: %v %s (Retry-After %q), want 503 temporarily_unavailable with Retry-After",
					what, err, r, r.RetryAfter)
			}
		}
	}
	pages := []struct {
		what, method, url string
		form              url.Values
		want              []int
	}{
		{"the authorization endpoint", http.MethodGet, in.url + "/authorize?" + loginForm.Get("request"), nil, []int{503}},
		{"the login form", http.MethodPost, in.url + "/login", loginForm, []int{503}},
		{"the JWKS (kept in memory)", http.MethodGet, in.url + "/jwks", nil, []int{200}},
		// The metadata lists the grant types and scopes of the clients
		// in the store; it is rebuilt every 30 s.
		{"the metadata", http.MethodGet, in.url + "/.well-known/openid-configuration", nil, []int{200, 503}},
		{"/healthz", http.MethodGet, in.url + "/healthz", nil, []int{200}},
	}
	for _, p := range pages {
		if resp, _, err := br.do(ctx, p.method, p.url, p.form); err != nil || !slices.Contains(p.want, resp.StatusCode) {
			t.Errorf("%s while PostgreSQL is down: %v %s, want %v", p.what, err, statusOf(resp), p.want)
		}
	}
	if status, err := userinfo(ctx, hc, in.url, tok.AccessToken); err != nil || status != http.StatusServiceUnavailable {
		t.Errorf("userinfo while PostgreSQL is down: %v %d, want 503", err, status)
	}
	waitStatus(t, in.url+"/readyz", http.StatusServiceUnavailable, 5*time.Second)

	// 3. PostgreSQL is back: Latchkey recovers without a restart.
	pg.start(t)
	start := time.Now()
	for {
		r, err := passwordGrant(ctx, hc, in.url, app, "alice", alicePass)
		if err == nil && r.ok() {
			break
		}
		if err != nil || !r.is(http.StatusServiceUnavailable, "temporarily_unavailable") || time.Since(start) > 15*time.Second {
			t.Fatalf("password grant after PostgreSQL came back (%s): %v %s, want 503 and then 200", time.Since(start), err, r)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("token requests succeed again %s after PostgreSQL started", time.Since(start).Round(time.Millisecond))
	waitStatus(t, in.url+"/readyz", http.StatusOK, 5*time.Second)
	r, err := refresh(ctx, hc, in.url, app, tok.RefreshToken)
	mustOK(t, "the refresh token refused with 503 during the outage", r, err)
	r, err = clientCredentials(ctx, hc, in.url, svc)
	mustOK(t, "client credentials", r, err)
	if bad := serverErrors(in); len(bad) > 0 {
		t.Errorf("requests answered with a server error other than 503:\n%s", strings.Join(bad, "\n"))
	}
}
