package loadgen

import (
	"context"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/testenv"
)

func TestBenchConfigCheck(t *testing.T) {
	t.Parallel()
	ok := Config{Issuer: "http://127.0.0.1:8080", ClientID: "c", ClientSecret: "s"}
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string // "" for no error
	}{
		{"client credentials", func(*Config) {}, ""},
		{"no issuer", func(c *Config) { c.Issuer = "" }, "issuer URL is required"},
		{"issuer not http", func(c *Config) { c.Issuer = "ftp://x" }, "not an http or https URL"},
		{"no secret", func(c *Config) { c.ClientSecret = "" }, "needs the client secret"},
		{"password without password", func(c *Config) { c.Grant, c.Username = Password, "u" }, "username and password"},
		{"code without redirect", func(c *Config) { c.Grant, c.Username, c.Password = AuthorizationCode, "u", "p" }, "redirect URI"},
		{"code with a relative redirect", func(c *Config) {
			c.Grant, c.Username, c.Password, c.RedirectURI = AuthorizationCode, "u", "p", "/cb"
		}, "not an absolute URI"},
		{"refresh by the password grant", func(c *Config) { c.Grant, c.Username, c.Password = Refresh, "u", "p" }, ""},
		{"refresh without a login", func(c *Config) { c.Grant, c.RedirectURI = Refresh, "http://x/cb" }, "username and password"},
		{"token for another grant", func(c *Config) { c.Token = "t" }, "only for the introspect and token-exchange grants"},
		{"token exchange of a given token", func(c *Config) { c.Grant, c.Token = TokenExchange, "t" }, ""},
		{"token exchange without a secret", func(c *Config) { c.Grant, c.ClientSecret = TokenExchange, "" }, "needs the client secret"},
		{"unknown grant", func(c *Config) { c.Grant = "implicit" }, `unknown grant "implicit"`},
		{"DPoP for a token request", func(c *Config) { c.DPoP = true }, ""},
		{"DPoP for introspection", func(c *Config) { c.Grant, c.DPoP = Introspect, true }, "not for the introspect grant"},
		{"no workers", func(c *Config) { c.Concurrency = -1 }, "concurrency"},
		{"negative warm-up", func(c *Config) { c.Warmup = -time.Second }, "warm-up"},
	} {
		c := ok
		tc.edit(&c)
		err := c.Check()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v, want no error", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.want)
		}
	}
}

// A window of N requests admits exactly N, however many workers race for
// the last ones.
func TestBenchWindowAdmitsExactlyN(t *testing.T) {
	t.Parallel()
	start := time.Now()
	win := &window{start: start, limit: 1000, full: make(chan struct{})}
	var counted atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				count, more := win.admit(time.Now())
				if count {
					counted.Add(1)
				}
				if !more {
					return
				}
			}
		})
	}
	wg.Wait()
	<-win.full
	if n := counted.Load(); n != 1000 {
		t.Fatalf("%d requests counted, want 1000", n)
	}
	if count, _ := win.admit(start.Add(-time.Second)); count {
		t.Error("a request completed before the window (warm-up) was counted")
	}
}

// Transport failures get a short class: real refused and unanswered connections.
func TestBenchErrorClass(t *testing.T) {
	t.Parallel()
	silent, err := net.Listen("tcp", "127.0.0.1:0") // accepts, never answers
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()
	hc := &http.Client{Timeout: 200 * time.Millisecond}
	for addr, want := range map[string]string{silent.Addr().String(): "timeout", closedAddr: "connection refused"} {
		_, err := hc.Get("http://" + addr + "/token")
		if err == nil {
			t.Fatalf("GET %s succeeded", addr)
		}
		if got := errorClass(err); got != want {
			t.Errorf("errorClass(%v) = %q, want %q", err, got, want)
		}
	}
}

// benchEnv is a Latchkey with a client credentials client (svc), a
// password client (app) and its user; it returns the config of a run of
// app's refresh tokens and svc's secret.
func benchEnv(t *testing.T) (*testenv.Env, Config, string) {
	env := testenv.New(t, testenv.Options{})
	svc := env.AddClient(t, store.Client{ID: "svc", GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}})
	app := env.AddClient(t, store.Client{ID: "app", GrantTypes: []string{"password", "refresh_token"}, Scopes: []string{"read"}})
	env.AddUser(t, "alice", "correct horse", nil)
	return env, Config{Issuer: env.URL, Grant: Refresh, ClientID: "app", ClientSecret: app,
		Username: "alice", Password: "correct horse", Concurrency: 2}, svc
}

// When every chain dies at once (the refresh tokens expire), each failed
// refresh is counted once, and the workers start new chains and go on.
func TestBenchRefreshWorkersRenewTheirChains(t *testing.T) {
	t.Parallel()
	env, cfg, _ := benchEnv(t)
	cfg.Duration = time.Second
	time.AfterFunc(400*time.Millisecond, func() {
		env.Clock.Advance(env.Config.RefreshTokenAbsoluteTTL + time.Hour)
	})
	res, err := Run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Failures < 1 || res.Failures > 2 || len(res.Errors) != 1 || res.Errors[0].Status != 400 || res.Errors[0].Error != "invalid_grant" {
		t.Errorf("failures %d %+v, want one or two 400 invalid_grant (one per worker)", res.Failures, res.Errors)
	}
	if res.Renewals != res.Failures || res.RenewalFailures != 0 {
		t.Errorf("%d renewals (%d failed) after %d failures, want one successful renewal per failure", res.Renewals, res.RenewalFailures, res.Failures)
	}
	if res.OK < 10 {
		t.Errorf("%d refreshes succeeded, want the workers to go on after renewing", res.OK)
	}
}

// An interrupted run returns what it measured, and reports progress
// while it runs.
func TestBenchRunInterrupted(t *testing.T) {
	t.Parallel()
	env, _, svc := benchEnv(t)
	cfg := Config{Issuer: env.URL, Grant: ClientCredentials, ClientID: "svc", ClientSecret: svc, Concurrency: 2}
	cfg.Duration = time.Minute
	var reports atomic.Int64
	cfg.Progress = func(p Progress) {
		if !p.Warmup && p.Completed > 0 {
			reports.Add(1)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 1300*time.Millisecond)
	defer cancel()
	res, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Interrupted || res.Elapsed < time.Second || res.Elapsed > 2*time.Second {
		t.Errorf("interrupted %v after %v, want interrupted after about 1.3 s", res.Interrupted, res.Elapsed)
	}
	if res.OK == 0 || res.Failures != 0 || reports.Load() == 0 {
		t.Errorf("%d ok, %d failed, %d progress reports; want successes, no failures, a report", res.OK, res.Failures, reports.Load())
	}
}

// A paced run sends no more than Rate requests a second, whatever the
// server could take; a negative rate is refused.
func TestBenchRate(t *testing.T) {
	t.Parallel()
	env, _, svc := benchEnv(t)
	cfg := Config{Issuer: env.URL, Grant: ClientCredentials, ClientID: "svc", ClientSecret: svc, Concurrency: 4,
		Duration: 1500 * time.Millisecond, Rate: 20}
	res, err := Run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	// 1.5 s at 20/s, and the limiter's burst of one.
	if res.OK+res.Failures > 31 || res.OK == 0 || res.Failures != 0 {
		t.Errorf("%d ok and %d failed at 20 requests/s for 1.5 s, want at most 31 and no failure", res.OK, res.Failures)
	}
	cfg.Rate = -1
	if err := cfg.Check(); err == nil || !strings.Contains(err.Error(), "rate") {
		t.Errorf("Check of a negative rate = %v", err)
	}
}
