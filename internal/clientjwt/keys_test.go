package clientjwt_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey/internal/clientjwt"
	"github.com/latchkey/latchkey/internal/safefetch"
)

// jwksServer is a client's jwks_uri: a real TLS listener whose document
// the test swaps, counting the requests it serves.
type jwksServer struct {
	*httptest.Server
	doc      atomic.Pointer[string]
	status   atomic.Int32
	requests atomic.Int64
}

func newJWKSServer(t *testing.T, doc string) *jwksServer {
	t.Helper()
	s := &jwksServer{}
	s.set(doc)
	s.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.requests.Add(1)
		if code := s.status.Load(); code != 0 {
			w.WriteHeader(int(code))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(*s.doc.Load()))
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(doc string) { s.doc.Store(&doc) }

// fetcher is a safefetch client that trusts the test server's
// certificate and may reach loopback, which every test listener is on.
func fetcher(s *jwksServer) *safefetch.Client {
	pool := x509.NewCertPool()
	pool.AddCert(s.Certificate())
	return safefetch.New(safefetch.Options{AllowLoopback: true, TLSConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}})
}

func remoteVerifier(clk *clock, s *jwksServer) *clientjwt.Verifier {
	v := newVerifier(clk)
	v.Keys = clientjwt.NewKeys(clientjwt.KeysConfig{Fetch: fetcher(s), Now: clk.Now})
	return v
}

// TestJWKSURIRotation: a jwks_uri set is fetched once and cached; a new
// kid after rotation triggers one refetch; a flood of unknown kids makes
// at most one fetch per 30 s (A14: "an unknown kid triggers at most one
// rate-limited JWKS refresh"); the set is fetched again after its TTL.
func TestJWKSURIRotation(t *testing.T) {
	clk := newClock()
	old, next := newKey(t, jose.ES256, "2026-01"), newKey(t, jose.EdDSA, "2026-02")
	srv := newJWKSServer(t, jwksOf(t, old))
	v := remoteVerifier(clk, srv)
	client := clientjwt.Client{ID: clientA, JWKSURI: srv.URL + "/jwks.json"}
	verify := func(k testKey) error {
		return v.Verify(context.Background(), k.sign(t, nil, claimsFor(clientA, clk.Now())), client)
	}
	wantRequests := func(step string, n int64) {
		t.Helper()
		if got := srv.requests.Load(); got != n {
			t.Fatalf("%s: %d fetches of the jwks_uri, want %d", step, got, n)
		}
	}

	for range 3 {
		if err := verify(old); err != nil {
			t.Fatal(err)
		}
	}
	wantRequests("three assertions", 1)

	srv.set(jwksOf(t, old, next)) // the client rotates
	clk.Advance(10 * time.Second)
	checkRefused(t, "new kid within 30 s of the last fetch", verify(next), clientjwt.ErrKeys)
	wantRequests("new kid too soon", 1)

	clk.Advance(21 * time.Second)
	if err := verify(next); err != nil {
		t.Fatalf("new kid after 31 s: %v", err)
	}
	wantRequests("new kid", 2)

	for i := range 100 {
		stranger := newKey(t, jose.EdDSA, "ATTACKER-"+string(rune('a'+i%26)))
		checkRefused(t, "unknown kid", verify(stranger), clientjwt.ErrKeys)
	}
	wantRequests("100 unknown kids", 2)
	clk.Advance(31 * time.Second)
	checkRefused(t, "unknown kid later", verify(newKey(t, jose.EdDSA, "nope")), clientjwt.ErrKeys)
	checkRefused(t, "unknown kid later", verify(newKey(t, jose.EdDSA, "nope2")), clientjwt.ErrKeys)
	wantRequests("two unknown kids 31 s later", 3)

	clk.Advance(clientjwt.DefaultKeysTTL)
	if err := verify(old); err != nil {
		t.Fatal(err)
	}
	wantRequests("after the TTL", 4)
}

// TestJWKSURIFailure: a failing jwks_uri keeps the last good set for
// MaxStale past its TTL, is retried at most once per 30 s, and without a
// good set refuses the assertion as ErrKeysUnavailable.
func TestJWKSURIFailure(t *testing.T) {
	clk := newClock()
	k := newKey(t, jose.ES256, "k")
	srv := newJWKSServer(t, jwksOf(t, k))
	v := remoteVerifier(clk, srv)
	client := clientjwt.Client{ID: clientA, JWKSURI: srv.URL}
	verify := func() error {
		return v.Verify(context.Background(), k.sign(t, nil, claimsFor(clientA, clk.Now())), client)
	}
	if err := verify(); err != nil {
		t.Fatal(err)
	}
	srv.status.Store(http.StatusInternalServerError)
	clk.Advance(clientjwt.DefaultKeysTTL + time.Second)
	for range 5 {
		if err := verify(); err != nil {
			t.Fatalf("stale set while the jwks_uri fails: %v", err)
		}
	}
	if n := srv.requests.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2", n)
	}
	clk.Advance(clientjwt.DefaultMaxStale)
	checkRefused(t, "past MaxStale", verify(), clientjwt.ErrKeysUnavailable)

	cold := remoteVerifier(clk, srv)
	for range 5 {
		checkRefused(t, "never fetched", cold.Verify(context.Background(), k.sign(t, nil, claimsFor(clientA, clk.Now())), client), clientjwt.ErrKeysUnavailable)
	}
	if n := srv.requests.Load(); n != 4 {
		t.Fatalf("%d fetches, want 4 (one for the cold verifier)", n)
	}
}

// TestJWKSURIConcurrent: assertions arriving together on a cold cache
// share one fetch.
func TestJWKSURIConcurrent(t *testing.T) {
	clk := newClock()
	k := newKey(t, jose.ES256, "k")
	srv := newJWKSServer(t, jwksOf(t, k))
	v := remoteVerifier(clk, srv)
	client := clientjwt.Client{ID: clientA, JWKSURI: srv.URL}
	var raws []string
	for range 20 {
		raws = append(raws, k.sign(t, nil, claimsFor(clientA, clk.Now())))
	}
	var wg sync.WaitGroup
	var failed atomic.Int64
	for _, raw := range raws {
		wg.Go(func() {
			if err := v.Verify(context.Background(), raw, client); err != nil {
				failed.Add(1)
			}
		})
	}
	wg.Wait()
	if failed.Load() != 0 || srv.requests.Load() != 1 {
		t.Fatalf("%d failures, %d fetches; want 0 and 1", failed.Load(), srv.requests.Load())
	}
}

// TestJWKSURIRefusedByPolicy: a jwks_uri the fetch policy refuses (A25)
// is never contacted.
func TestJWKSURIRefusedByPolicy(t *testing.T) {
	clk := newClock()
	k := newKey(t, jose.ES256, "k")
	srv := newJWKSServer(t, jwksOf(t, k))
	v := newVerifier(clk)
	v.Keys = clientjwt.NewKeys(clientjwt.KeysConfig{Fetch: safefetch.New(safefetch.Options{}), Now: clk.Now})
	for _, uri := range []string{srv.URL, "http://169.254.169.254/jwks", "file:///etc/passwd"} {
		err := v.Verify(context.Background(), k.sign(t, nil, claimsFor(clientA, clk.Now())), clientjwt.Client{ID: clientA, JWKSURI: uri})
		checkRefused(t, uri, err, clientjwt.ErrKeysUnavailable)
	}
	if n := srv.requests.Load(); n != 0 {
		t.Fatalf("the loopback jwks_uri got %d requests", n)
	}
}

// TestKeySetRefusals: a registration whose set holds private or
// symmetric keys, a weak RSA key, or nothing usable is refused; keys of
// unknown types are skipped.
func TestKeySetRefusals(t *testing.T) {
	clk := newClock()
	v := newVerifier(clk)
	k := newKey(t, jose.ES256, "k")
	raw := k.sign(t, nil, claimsFor(clientA, clk.Now()))
	privJWK, _ := jose.JSONWebKey{Key: k.Private, KeyID: "k"}.MarshalJSON()
	weak, _ := rsa.GenerateKey(rand.Reader, 1024)
	weakJWK, _ := jose.JSONWebKey{Key: &weak.PublicKey, KeyID: "w"}.MarshalJSON()
	pub, _ := k.Public.MarshalJSON()
	for name, jwks := range map[string]string{
		"private key":      `{"keys":[` + string(privJWK) + `]}`,
		"symmetric key":    `{"keys":[{"kty":"oct","kid":"k","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}]}`,
		"RSA 1024":         `{"keys":[` + string(weakJWK) + `,` + string(pub) + `]}`,
		"not a set":        `[` + string(pub) + `]`,
		"no keys member":   `{}`,
		"only unknown kty": `{"keys":[{"kty":"ATTACKER","kid":"k"}]}`,
		"encryption key":   `{"keys":[` + strings.Replace(string(pub), `"use":"sig"`, `"use":"enc"`, 1) + `]}`,
		"malformed EC":     `{"keys":[{"kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA","kid":"k"}]}`,
		"33 keys":          `{"keys":[` + strings.Repeat(string(pub)+",", 32) + string(pub) + `]}`,
	} {
		checkRefused(t, name, v.Verify(context.Background(), raw, clientjwt.Client{ID: clientA, JWKS: jwks}), clientjwt.ErrKeys)
	}
	otherAlg := `{"keys":[` + strings.Replace(string(pub), `"kty"`, `"alg":"ES384","kty"`, 1) + `]}`
	checkRefused(t, "key registered for another alg", v.Verify(context.Background(), raw, clientjwt.Client{ID: clientA, JWKS: otherAlg}), clientjwt.ErrAlgorithm)
	both := clientjwt.Client{ID: clientA, JWKS: jwksOf(t, k), JWKSURI: "https://client.example/jwks"}
	checkRefused(t, "jwks and jwks_uri", v.Verify(context.Background(), raw, both), clientjwt.ErrKeys)
	checkRefused(t, "no keys", v.Verify(context.Background(), raw, clientjwt.Client{ID: clientA}), clientjwt.ErrKeys)
	skipped := `{"keys":[{"kty":"ATTACKER"},{"kty":"OKP","crv":"X25519","x":"AAAA"},` + string(pub) + `]}`
	if err := v.Verify(context.Background(), k.sign(t, nil, claimsFor(clientA, clk.Now())), clientjwt.Client{ID: clientA, JWKS: skipped}); err != nil {
		t.Errorf("unknown key types beside a good key: %v", err)
	}
}

// TestJWKSURISizeCap: a jwks_uri document over safefetch's cap is not
// read (A25's size cap).
func TestJWKSURISizeCap(t *testing.T) {
	clk := newClock()
	k := newKey(t, jose.ES256, "k")
	srv := newJWKSServer(t, `{"keys":[],"pad":"`+strings.Repeat("x", 300<<10)+`"}`)
	v := remoteVerifier(clk, srv)
	err := v.Verify(context.Background(), k.sign(t, nil, claimsFor(clientA, clk.Now())), clientjwt.Client{ID: clientA, JWKSURI: srv.URL})
	checkRefused(t, "300 KiB set", err, clientjwt.ErrKeysUnavailable)
}
