package clientjwt_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey/internal/clientjwt"
	"github.com/latchkey/latchkey/internal/testkit/jwstest"
)

const (
	issuer   = "https://as.example.com"
	tokenURL = "https://as.example.com/token"
	parURL   = "https://as.example.com/par"
	clientA  = "client-a"
)

// testKey is a client's signing key and its public JWK.
type testKey struct{ jwstest.Key }

func newKey(t testing.TB, alg jose.SignatureAlgorithm, kid string) testKey {
	t.Helper()
	return testKey{jwstest.NewKey(t, alg, kid)}
}

func keyOf(alg jose.SignatureAlgorithm, priv crypto.Signer, kid string) testKey {
	return testKey{jwstest.KeyOf(alg, priv, kid)}
}

// jwksOf is the JWK Set of the keys' public halves, as a client registers it.
func jwksOf(t testing.TB, keys ...testKey) string {
	t.Helper()
	ks := make([]jwstest.Key, len(keys))
	for i, k := range keys {
		ks[i] = k.Key
	}
	return jwstest.JWKS(t, ks...)
}

// sign signs claims with k, its alg and kid, and the extra header members.
func (k testKey) sign(t testing.TB, header map[jose.HeaderKey]any, claims any) string {
	t.Helper()
	return k.Sign(t, header, claims)
}

func signWith(t testing.TB, alg jose.SignatureAlgorithm, key any, kid string, header map[jose.HeaderKey]any, claims any) string {
	t.Helper()
	return jwstest.Sign(t, alg, key, kid, header, claims)
}

// unsigned builds a JWS-shaped string from any header, for what no
// signer would produce (alg none).
func unsigned(header, claims map[string]any, sig string) string {
	return jwstest.Unsigned(header, claims, sig)
}

func b64(b []byte) string { return jwstest.B64(b) }

// claimsFor are valid claims of client for the issuer at now, with a new jti.
func claimsFor(client string, now time.Time) map[string]any {
	return map[string]any{
		"iss": client, "sub": client, "aud": issuer,
		"exp": now.Add(time.Minute).Unix(), "iat": now.Unix(),
		"jti": rand.Text(),
	}
}

// memReplay is the ReplayCache of the tests: a map under a mutex.
type memReplay struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

func newMemReplay() *memReplay { return &memReplay{seen: map[string]time.Time{}} }

func (m *memReplay) UseOnce(_ context.Context, key string, exp, now time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if until, ok := m.seen[key]; ok && now.Before(until) {
		return false, nil
	}
	m.seen[key] = exp
	return true, nil
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Unix(1_800_000_000, 0)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// newVerifier returns a Verifier for issuer with the token and PAR
// endpoints, no jwks_uri fetching, on clk.
func newVerifier(clk *clock) *clientjwt.Verifier {
	return &clientjwt.Verifier{
		Keys:         clientjwt.NewKeys(clientjwt.KeysConfig{Now: clk.Now}),
		Issuer:       issuer,
		EndpointURLs: []string{tokenURL, parURL},
		Replay:       newMemReplay(),
		Now:          clk.Now,
	}
}
