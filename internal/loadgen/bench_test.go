package loadgen

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"testing"

	"github.com/latchkey/latchkey/internal/formflow"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/testenv"
)

// The benchmarks measure what one worker of `latchkey bench --grant
// authorization-code` does per request against a real Latchkey on
// loopback, and, apart, the reading and filling in of Latchkey's login and
// consent pages, the part of the walk that runs in the generator. Run with
// -benchmem.

// benchCodeFlowWorker is a worker of an authorization code run against a
// fresh Latchkey with one web client and its user.
func benchCodeFlowWorker(b *testing.B) *worker {
	b.Helper()
	env := testenv.New(b, testenv.Options{})
	secret := env.AddClient(b, store.Client{ID: "web", GrantTypes: []string{"authorization_code", "refresh_token"},
		Scopes: []string{"openid", "read"}, RedirectURIs: []string{"http://127.0.0.1:9999/cb"}})
	env.AddUser(b, "alice", "wonderland", nil)
	cfg := Config{Issuer: env.URL, Grant: AuthorizationCode, ClientID: "web", ClientSecret: secret,
		Username: "alice", Password: "wonderland", Scope: "openid read", RedirectURI: "http://127.0.0.1:9999/cb", Concurrency: 1}
	if err := cfg.Check(); err != nil {
		b.Fatal(err)
	}
	r, err := newRunner(context.Background(), cfg.withDefaults())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(r.close)
	return r.newWorker()
}

// BenchmarkCodeFlowFresh is one flow with a new cookie jar: the
// authorization request, the login page and its POST, the consent page
// and its POST, the redirect with the code, and the code's exchange.
func BenchmarkCodeFlowFresh(b *testing.B) {
	w := benchCodeFlowWorker(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, o := w.codeFlow(ctx, true); !o.ok {
			b.Fatalf("code flow: %v", o)
		}
	}
}

// BenchmarkCodeFlowSession is one flow of a worker whose session and
// consent Latchkey remembers: the authorization request answers with the
// code at once, and the code is exchanged.
func BenchmarkCodeFlowSession(b *testing.B) {
	w := benchCodeFlowWorker(b)
	ctx := context.Background()
	if _, o := w.codeFlow(ctx, false); !o.ok {
		b.Fatalf("first code flow: %v", o)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, o := w.codeFlow(ctx, false); !o.ok {
			b.Fatalf("code flow: %v", o)
		}
	}
}

// latchkeyPages returns Latchkey's login page and consent page as a
// browser gets them, with their URLs.
func latchkeyPages(b *testing.B) (login, consent []byte, loginURL, consentURL *url.URL) {
	b.Helper()
	w := benchCodeFlowWorker(b)
	browser := formflow.NewClient(nil)
	get := func(u *url.URL) []byte {
		resp, err := browser.Get(u.String())
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		page, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("GET %s: %d %v", u, resp.StatusCode, err)
		}
		return page
	}
	loginURL = w.r.authorizationRequest("state", challengeS256("verifier-of-the-benchmark-pages-0123456789"))
	login = get(loginURL)
	resp, err := browser.PostForm(w.r.cfg.Issuer+"/login", loginForm(b, login, loginURL))
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	consentURL, err = resp.Location()
	if err != nil {
		b.Fatalf("the login answered %s without a Location", resp.Status)
	}
	return login, get(consentURL), loginURL, consentURL
}

// loginForm is what the walker submits for Latchkey's login page.
func loginForm(b *testing.B, page []byte, base *url.URL) url.Values {
	b.Helper()
	_, _, body := benchSubmission(b, page, base)
	v, err := url.ParseQuery(body)
	if err != nil {
		b.Fatal(err)
	}
	return v
}

// BenchmarkFormLogin reads Latchkey's login page and fills it in.
func BenchmarkFormLogin(b *testing.B) {
	page, _, base, _ := latchkeyPages(b)
	b.ReportAllocs()
	for b.Loop() {
		benchSubmission(b, page, base)
	}
}

// BenchmarkFormConsent reads Latchkey's consent page and chooses Allow.
func BenchmarkFormConsent(b *testing.B) {
	_, page, _, base := latchkeyPages(b)
	b.ReportAllocs()
	for b.Loop() {
		benchSubmission(b, page, base)
	}
}

// benchSubmission reads page, whose URL is base, and returns what the
// walker sends for it as alice.
func benchSubmission(b *testing.B, page []byte, base *url.URL) (method string, target *url.URL, body string) {
	f, err := formflow.Parse(page, base)
	if err != nil {
		b.Fatal(err)
	}
	return f.Submission("alice", "wonderland")
}
