package main

// The MCP server of this example, a running Latchkey (internal/testenv)
// and a real MCP client: the official Go SDK's streamable client with its
// own OAuth handler (auth.AuthorizationCodeHandler), which behaves as the
// MCP authorization spec says a client does. The user signs in and
// consents on Latchkey's real pages in a headless Chromium
// (internal/browsertest: skipped without it, failed under CI=true).

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/internal/browsertest"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/testenv"
	"github.com/latchkey/latchkey/internal/testkit"
)

const (
	aliceName     = "alice"
	alicePassword = "wonderland"
	// otherResource is another API that clients may ask Latchkey for.
	otherResource = "https://calendar.example"
)

// stack is a running Latchkey and the MCP server in front of it.
type stack struct {
	env      *testenv.Env
	resource string // the MCP endpoint, as clients call it
	alice    store.User
	logs     *testkit.Buffer
}

// newStack starts Latchkey, its configuration edited by configure (when
// not nil) knowing the MCP endpoint, and the MCP server on a loopback
// listener (with --resource naming it); both stop when the test ends.
func newStack(t *testing.T, configure func(c *server.Config, resource string)) *stack {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	resource := "http://" + ln.Addr().String() + "/mcp"
	var opts testenv.Options
	if configure != nil {
		opts.Configure = func(c *server.Config) { configure(c, resource) }
	}
	env := testenv.New(t, opts)
	s := &stack{env: env, resource: resource, logs: &testkit.Buffer{}}
	s.alice = env.AddUser(t, aliceName, alicePassword, map[string]any{"name": "Alice Liddell"})

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	o := options{issuer: env.URL, resource: s.resource, scopes: []string{scopeRead, scopeWrite}}
	go func() { done <- serve(ctx, ln, o, io.Discard, slog.New(slog.NewTextHandler(s.logs, nil))) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("the MCP server did not stop")
		}
	})
	healthz := "http://" + ln.Addr().String() + "/healthz"
	for i := 0; ; i++ {
		resp, err := http.Get(healthz)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s
			}
		}
		if i == 100 {
			t.Fatalf("the MCP server never answered %s: %v (logs: %s)", healthz, err, s.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// exchange is one HTTP round trip the client made, as recorded.
type exchange struct {
	method, url string
	status      int
	challenge   []string // WWW-Authenticate
	auth        string   // the Authorization header sent
}

// recorder is the client's HTTP transport: it records every exchange.
type recorder struct {
	mu   sync.Mutex
	log  []exchange
	base http.RoundTripper
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.log = append(r.log, exchange{method: req.Method, url: req.URL.String(), status: resp.StatusCode,
		challenge: resp.Header.Values("WWW-Authenticate"), auth: req.Header.Get("Authorization")})
	r.mu.Unlock()
	return resp, nil
}

func (r *recorder) exchanges() []exchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.log)
}

func newRecorder() (*recorder, *http.Client) {
	rec := &recorder{base: http.DefaultTransport.(*http.Transport).Clone()}
	return rec, &http.Client{Transport: rec, Timeout: 30 * time.Second}
}

// callback is the agent's redirect URI: a loopback listener (RFC 8252
// §7.3) that hands what it receives to the authorization code fetcher.
type callback struct {
	*httptest.Server
	hits chan url.Values
}

func newCallback(t *testing.T) *callback {
	cb := &callback{hits: make(chan url.Values, 4)}
	cb.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/cb" {
			select {
			case cb.hits <- r.URL.Query():
			default:
			}
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><title>agent</title><p id="agent-callback">You can close this window.</p>`)
	}))
	t.Cleanup(cb.Close)
	return cb
}

// browserFetcher is the AuthorizationCodeFetcher of an agent whose user
// signs in as alice and allows, in a Chromium tab; it also records the
// authorization URLs it was given.
func browserFetcher(t *testing.T, cb *callback, urls *[]string) auth.AuthorizationCodeFetcher {
	browser := browsertest.Browser(t)
	return func(ctx context.Context, args *auth.AuthorizationArgs) (*auth.AuthorizationResult, error) {
		*urls = append(*urls, args.URL)
		tab := browsertest.Tab(t, browser, 60*time.Second)
		err := chromedp.Do(tab,
			chromedp.Navigate(args.URL),
			chromedp.WaitVisible(chromedp.ID("username")),
			chromedp.SendKeys(chromedp.ID("username"), aliceName),
			chromedp.SendKeys(chromedp.ID("password"), alicePassword),
			chromedp.Click(chromedp.CSS(`button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(`button[name=decision][value=allow]`)),
			chromedp.Click(chromedp.CSS(`button[name=decision][value=allow]`)),
		)
		if err != nil {
			return nil, fmt.Errorf("login and consent pages: %w", err)
		}
		select {
		case q := <-cb.hits:
			if err := chromedp.Do(tab, chromedp.WaitVisible(chromedp.ID("agent-callback"))); err != nil {
				return nil, fmt.Errorf("callback page: %w", err)
			}
			if e := q.Get("error"); e != "" {
				return nil, fmt.Errorf("authorization error %s: %s", e, q.Get("error_description"))
			}
			return &auth.AuthorizationResult{Code: q.Get("code"), State: q.Get("state"), Iss: q.Get("iss")}, nil
		case <-time.After(30 * time.Second):
			return nil, fmt.Errorf("the browser never reached the redirect URI")
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// expiringSource is the agent's token store: it hands out the token the
// SDK obtained and refreshes it with x/oauth2, through the SDK's own
// oauth2.Config, once expired; expire lets the test make it so.
type expiringSource struct {
	mu   sync.Mutex
	ctx  context.Context
	cfg  *oauth2.Config
	tok  *oauth2.Token
	seen []*oauth2.Token
}

func (s *expiringSource) Token() (*oauth2.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.tok.Valid() {
		tok, err := s.cfg.TokenSource(s.ctx, s.tok).Token()
		if err != nil {
			return nil, fmt.Errorf("refresh: %w", err)
		}
		s.tok = tok
		s.seen = append(s.seen, tok)
	}
	return s.tok, nil
}

func (s *expiringSource) expire() {
	s.mu.Lock()
	defer s.mu.Unlock()
	cp := *s.tok
	cp.Expiry = time.Now().Add(-time.Minute)
	s.tok = &cp
}

func (s *expiringSource) tokens() []*oauth2.Token {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.seen)
}

// agent is an MCP client of the SDK with its OAuth handler.
type agent struct {
	rec     *recorder
	source  *expiringSource
	session *mcp.ClientSession
	authURL []string
}

// connect runs the SDK's client against the MCP server: the first
// request's 401 starts the OAuth handler, configured by configure, and
// the connection is made with the token it obtains.
func connect(t *testing.T, s *stack, cb *callback, configure func(*auth.AuthorizationCodeHandlerConfig)) *agent {
	t.Helper()
	a := &agent{source: &expiringSource{}}
	rec, client := newRecorder()
	a.rec = rec
	cfg := &auth.AuthorizationCodeHandlerConfig{
		RedirectURL:              cb.URL + "/cb",
		AuthorizationCodeFetcher: browserFetcher(t, cb, &a.authURL),
		Client:                   client,
		NewTokenSource: func(ctx context.Context, c *oauth2.Config, tok *oauth2.Token) (oauth2.TokenSource, error) {
			a.source.ctx, a.source.cfg, a.source.tok = ctx, c, tok
			a.source.seen = []*oauth2.Token{tok}
			return a.source, nil
		},
	}
	configure(cfg)
	h, err := auth.NewAuthorizationCodeHandler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	c := mcp.NewClient(&mcp.Implementation{Name: "latchkey-e2e-agent", Version: "1.0.0"}, nil)
	a.session, err = c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: s.resource, OAuthHandler: h, HTTPClient: client}, nil)
	if err != nil {
		t.Fatalf("connect: %v\nexchanges: %v\nMCP server logs: %s\nLatchkey logs: %s", err, rec.exchanges(), s.logs, s.env.Logs)
	}
	t.Cleanup(func() { a.session.Close() })
	return a
}

// call calls a tool and decodes its structured result into out; it fails
// the test on a protocol or tool error.
func (a *agent) call(t *testing.T, tool string, args map[string]any, out any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := a.session.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", tool, err)
	}
	if res.IsError {
		t.Fatalf("%s: tool error %v", tool, res.Content)
	}
	b, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("%s: %s: %v", tool, b, err)
	}
}

// challengeParam returns a parameter of the first challenge of scheme in
// WWW-Authenticate values, as the SDK's parser reads it.
func challengeParam(values []string, scheme, param string) string {
	for _, v := range values {
		if s, rest, _ := strings.Cut(v, " "); strings.EqualFold(s, scheme) {
			for _, p := range splitParams(rest) {
				if k, val, ok := strings.Cut(p, "="); ok && strings.TrimSpace(k) == param {
					return strings.Trim(val, `"`)
				}
			}
		}
	}
	return ""
}

// splitParams splits auth-params at the commas outside quoted strings.
func splitParams(s string) []string {
	var out []string
	quoted, start := false, 0
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && quoted:
			i++
		case s[i] == '"':
			quoted = !quoted
		case s[i] == ',' && !quoted:
			out = append(out, strings.TrimSpace(s[start:i]))
			start = i + 1
		}
	}
	return append(out, strings.TrimSpace(s[start:]))
}
