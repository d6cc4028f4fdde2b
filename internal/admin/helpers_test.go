package admin_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/latchkey/latchkey/internal/admin"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/testenv"
)

// fixture is a running Latchkey with the admin API on its listener.
type fixture struct {
	env     *testenv.Env
	clients atomic.Int64
}

func start(t *testing.T) *fixture {
	t.Helper()
	env := testenv.New(t, testenv.Options{Mount: func(e *testenv.Env, served server.Store, srv *server.Server, h http.Handler) http.Handler {
		st, ok := served.(admin.Store)
		if !ok {
			t.Fatalf("%T is not an admin.Store", served)
		}
		// A real audit Writer into the store, flushed quickly.
		rec, err := audit.NewWriter(audit.Options{Sink: e.Store, FlushEvery: 5 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		go rec.Run(context.Background())
		t.Cleanup(func() { _ = rec.Close(context.Background()) })
		api, err := admin.New(context.Background(), admin.Deps{
			Issuer: e.URL, OAuth: h, Store: st, Keys: e.Keys, Sessions: srv, Audit: rec, Passwords: testenv.FastHashing(),
			Now: e.Clock.Now, Rand: rand.Reader,
		})
		if err != nil {
			t.Fatalf("admin API: %v", err)
		}
		t.Cleanup(api.Close)
		return admin.Mount(h, api)
	}})
	return &fixture{env: env}
}

// token returns an access token that a new client with scopes obtained
// by client credentials at the running server.
func (f *fixture) token(t *testing.T, scopes ...string) string {
	t.Helper()
	id := fmt.Sprintf("admin-%d", f.clients.Add(1))
	secret := f.env.AddClient(t, store.Client{ID: id, GrantTypes: []string{"client_credentials"}, Scopes: scopes})
	cc := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: f.env.URL + "/token", Scopes: scopes}
	tok, err := cc.Token(t.Context())
	if err != nil {
		t.Fatalf("client credentials for %v: %v", scopes, err)
	}
	return tok.AccessToken
}

// reply is what the admin API answered.
type reply struct {
	Status int
	Header http.Header
	Body   []byte
}

// json decodes the body into a map.
func (r reply) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("body %q: %v", r.Body, err)
	}
	return m
}

// call sends a request to the admin API; headers are name, value pairs.
func (f *fixture) call(t *testing.T, method, path, token, body string, headers ...string) reply {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, f.env.URL+admin.Prefix+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// wantStatus fails unless r has status.
func wantStatus(t *testing.T, what string, r reply, status int) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("%s: status %d, want %d; body %s", what, r.Status, status, r.Body)
	}
}

// wantProblem fails unless r is an RFC 9457 problem with status and, when
// fields are given, field errors naming each of them.
func wantProblem(t *testing.T, what string, r reply, status int, fields ...string) map[string]any {
	t.Helper()
	wantStatus(t, what, r, status)
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("%s: Content-Type %q, want application/problem+json", what, ct)
	}
	p := r.json(t)
	if p["status"] != float64(status) || p["title"] == "" || p["type"] == "" {
		t.Fatalf("%s: problem %v lacks type, title or the status %d", what, p, status)
	}
	errs, _ := p["errors"].([]any)
	for _, field := range fields {
		found := false
		for _, e := range errs {
			if m, _ := e.(map[string]any); strings.HasPrefix(fmt.Sprint(m["field"]), field) && m["detail"] != "" {
				found = true
			}
		}
		if !found {
			t.Fatalf("%s: no field error for %q in %v", what, field, p)
		}
	}
	return p
}

// clientToken gets a token by client credentials for id and secret, and
// reports the server's error when it refuses.
func (f *fixture) clientToken(t *testing.T, id, secret string, scopes ...string) error {
	t.Helper()
	cc := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: f.env.URL + "/token", Scopes: scopes}
	_, err := cc.Token(t.Context())
	return err
}

// storeClient is a client-credentials client with scopes.
func storeClient(id string, scopes ...string) store.Client {
	return store.Client{ID: id, GrantTypes: []string{"client_credentials"}, Scopes: scopes}
}

// fetch gets an access token by client credentials, failing the test
// when the server refuses.
func (f *fixture) fetch(t *testing.T, id, secret string, scopes ...string) string {
	t.Helper()
	cc := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: f.env.URL + "/token", Scopes: scopes}
	tok, err := cc.Token(t.Context())
	if err != nil {
		t.Fatalf("client credentials for %s: %v", id, err)
	}
	return tok.AccessToken
}
