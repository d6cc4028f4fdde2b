package server_test

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey/internal/clientjwt"
	"github.com/latchkey/latchkey/internal/protocol"
	"github.com/latchkey/latchkey/internal/safefetch"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/testenv"
)

// jwksHost is a client's server, publishing its JWK Set on a loopback
// listener; it counts the connections and requests it receives.
type jwksHost struct {
	*httptest.Server
	body     atomic.Pointer[string]
	conns    atomic.Int64
	requests atomic.Int64
}

// newJWKSHost starts a host serving body at /jwks (over TLS unless
// plain); handler, when set, answers instead.
func newJWKSHost(t testing.TB, body string, plain bool, handler http.HandlerFunc) *jwksHost {
	t.Helper()
	h := &jwksHost{}
	h.body.Store(&body)
	if handler == nil {
		handler = func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(*h.body.Load()))
		}
	}
	h.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.requests.Add(1)
		handler(w, r)
	}))
	h.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			h.conns.Add(1)
		}
	}
	if plain {
		h.Start()
	} else {
		h.StartTLS()
	}
	t.Cleanup(h.Close)
	return h
}

// trustingFetcher is safefetch for the tests: loopback allowed, and the
// host's test certificate trusted; the rest of the policy as in production.
func trustingFetcher(h *jwksHost, o safefetch.Options) *safefetch.Client {
	pool := x509.NewCertPool()
	pool.AddCert(h.Certificate())
	o.AllowLoopback = true
	o.TLSConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return safefetch.New(o)
}

// uriClient registers a private_key_jwt client whose keys are at uri.
func uriClient(t *testing.T, env *testenv.Env, id, uri string) {
	t.Helper()
	if s := env.AddClient(t, store.Client{ID: id, TokenEndpointAuthMethod: string(protocol.AuthPrivateKeyJWT),
		GrantTypes: []string{"client_credentials"}, JWKSURI: uri}); s != "" {
		t.Fatalf("AddClient gave %s a secret", id)
	}
}

// TestJWKSURIKeysAndRotation: keys published at a jwks_uri authenticate
// the client; the set is cached, and a new kid is fetched again once the
// refetch interval has passed, so a rotation is picked up (RFC 7591 §2,
// OIDC Core §10.1.1) without letting assertions hammer the client's host.
func TestJWKSURIKeysAndRotation(t *testing.T) {
	k1, k2 := newPKKey(t, jose.ES256, "k1"), newPKKey(t, jose.PS256, "k2")
	host := newJWKSHost(t, pkJWKS(t, k1), false, nil)
	f := newFixture(t, func(c *server.Config) { generous(c); c.JWKSFetcher = trustingFetcher(host, safefetch.Options{}) })
	uriClient(t, f.Env, "svc", host.URL+"/jwks")

	wantToken(t, post(t, f.Env, "/token", ccWithAssertion(k1.sign(t, pkClaims(f.Env, "svc"), nil))))
	wantToken(t, post(t, f.Env, "/token", ccWithAssertion(k1.sign(t, pkClaims(f.Env, "svc"), nil))))
	if n := host.requests.Load(); n != 1 {
		t.Errorf("jwks_uri fetched %d times for two assertions, want 1 (cached)", n)
	}

	rotated := pkJWKS(t, k2)
	host.body.Store(&rotated)
	// Within the refetch interval the new kid is not fetched for.
	wantOAuthError(t, post(t, f.Env, "/token", ccWithAssertion(k2.sign(t, pkClaims(f.Env, "svc"), nil))),
		http.StatusUnauthorized, "invalid_client")
	if n := host.requests.Load(); n != 1 {
		t.Errorf("jwks_uri fetched %d times, want 1 within the refetch interval", n)
	}
	f.Clock.Advance(clientjwt.DefaultMinRefetch + time.Second)
	wantToken(t, post(t, f.Env, "/token", ccWithAssertion(k2.sign(t, pkClaims(f.Env, "svc"), nil))))
	if n := host.requests.Load(); n != 2 {
		t.Errorf("jwks_uri fetched %d times, want 2 after the rotation", n)
	}
	// The retired key no longer works.
	wantOAuthError(t, post(t, f.Env, "/token", ccWithAssertion(k1.sign(t, pkClaims(f.Env, "svc"), nil))),
		http.StatusUnauthorized, "invalid_client")
}

// TestJWKSURISSRF: with the production fetch policy (no loopback, https
// only), a jwks_uri aimed at the metadata service or at a listener of the
// machine itself fails invalid_client, and the listener receives nothing:
// not a request, not even a connection (A25).
func TestJWKSURISSRF(t *testing.T) {
	k := newPKKey(t, jose.ES256, "k1")
	tlsHost := newJWKSHost(t, pkJWKS(t, k), false, nil)
	plainHost := newJWKSHost(t, pkJWKS(t, k), true, nil)
	f := newFixture(t, generous)
	_, port, _ := net.SplitHostPort(tlsHost.Listener.Addr().String())
	uris := map[string]string{
		"metadata-http":  "http://169.254.169.254/latest/meta-data/jwks",
		"metadata-https": "https://169.254.169.254/jwks",
		"loopback-https": tlsHost.URL + "/jwks",
		"localhost":      "https://localhost:" + port + "/jwks",
		"loopback-http":  plainHost.URL + "/jwks",
		"file":           "file:///etc/passwd",
	}
	for id, uri := range uris {
		t.Run(id, func(t *testing.T) {
			uriClient(t, f.Env, id, uri)
			start := time.Now()
			wantOAuthError(t, post(t, f.Env, "/token", ccWithAssertion(k.sign(t, pkClaims(f.Env, id), nil))),
				http.StatusUnauthorized, "invalid_client")
			wantRefusedFor(t, f.Env, "jwks_uri")
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("refusing took %v: the URL was dialled, not refused by policy", d)
			}
		})
	}
	for name, h := range map[string]*jwksHost{"https": tlsHost, "http": plainHost} {
		if c, r := h.conns.Load(), h.requests.Load(); c != 0 || r != 0 {
			t.Errorf("the loopback %s listener received %d connections and %d requests, want none (A25)", name, c, r)
		}
	}
}

// TestJWKSURIBodyTooLarge: a jwks_uri answering 10 MiB fails
// invalid_client; the body is capped, not read to its end (A25, A15).
func TestJWKSURIBodyTooLarge(t *testing.T) {
	k := newPKKey(t, jose.ES256, "k1")
	huge := `{"keys":[` + strings.Repeat(" ", 10<<20) + pkJWKS(t, k)[len(`{"keys":[`):]
	host := newJWKSHost(t, huge, false, nil)
	f := newFixture(t, func(c *server.Config) { generous(c); c.JWKSFetcher = trustingFetcher(host, safefetch.Options{}) })
	uriClient(t, f.Env, "svc", host.URL+"/jwks")
	wantOAuthError(t, post(t, f.Env, "/token", ccWithAssertion(k.sign(t, pkClaims(f.Env, "svc"), nil))),
		http.StatusUnauthorized, "invalid_client")
	wantRefusedFor(t, f.Env, "could not be fetched")
}

// TestJWKSURISlow: a jwks_uri that never answers fails invalid_client
// within the fetch timeout, not the client's patience (A25).
func TestJWKSURISlow(t *testing.T) {
	k := newPKKey(t, jose.ES256, "k1")
	release := make(chan struct{})
	host := newJWKSHost(t, "", false, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) }) // before host.Close, which waits for the handler
	const timeout = 300 * time.Millisecond
	f := newFixture(t, func(c *server.Config) {
		generous(c)
		c.JWKSFetcher = trustingFetcher(host, safefetch.Options{Timeout: timeout})
	})
	uriClient(t, f.Env, "svc", host.URL+"/jwks")
	start := time.Now()
	wantOAuthError(t, post(t, f.Env, "/token", ccWithAssertion(k.sign(t, pkClaims(f.Env, "svc"), nil))),
		http.StatusUnauthorized, "invalid_client")
	if d := time.Since(start); d < timeout || d > timeout+2*time.Second {
		t.Errorf("answered after %v, want the fetch timeout of %v", d, timeout)
	}
	if host.requests.Load() != 1 {
		t.Errorf("the slow host received %d requests, want 1", host.requests.Load())
	}
	wantRefusedFor(t, f.Env, "could not be fetched")
}
