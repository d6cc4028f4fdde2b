package keys

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/sqlite"
	"github.com/latchkey/latchkey/internal/testkit"
)

var testSecret = []byte("keys-test-system-secret-32-bytes")

// clock is a settable time source shared by the managers of a test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// openStore opens a real SQLite store in the test's temporary directory.
func openStore(t *testing.T) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "keys.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func newTestManager(t *testing.T, st store.KeyStore, secret []byte, c *clock) *Manager {
	t.Helper()
	m, err := NewManager(st, secret, Options{ActivationDelay: time.Hour, Retention: 2 * time.Hour, Now: c.now, Rand: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func listKeys(t *testing.T, st store.KeyStore) []store.Key {
	t.Helper()
	ks, err := st.ListKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

func countByAlg(ks []store.Key) map[string]int {
	out := map[string]int{}
	for _, k := range ks {
		out[k.Alg]++
	}
	return out
}

func jwksKIDs(t *testing.T, m *Manager) []string {
	t.Helper()
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(m.JWKS(), &set); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, k := range set.Keys {
		out = append(out, k.KeyID)
	}
	return out
}

// signingKID signs with the current access-token signer of alg and
// returns the kid in the header.
func signingKID(t *testing.T, m *Manager, alg string) string {
	t.Helper()
	s, err := m.Signer(alg, "at+jwt")
	if err != nil {
		t.Fatal(err)
	}
	jws, err := s.Sign([]byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	compact, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := jose.ParseSigned(compact, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
	if err != nil {
		t.Fatal(err)
	}
	kid := parsed.Signatures[0].Protected.KeyID
	if kid == "" {
		t.Fatalf("%s: no kid in the protected header (S237)", alg)
	}
	return kid
}

// TestInitConcurrentManagersCreateOneKeyPerAlgorithm: instances starting
// together on one empty store end up with exactly one key per algorithm,
// and all of them sign with it.
func TestInitConcurrentManagersCreateOneKeyPerAlgorithm(t *testing.T) {
	st := openStore(t)
	c := &clock{t: time.Now()}
	managers := make([]*Manager, 4)
	for i := range managers {
		managers[i] = newTestManager(t, st, testSecret, c)
	}
	errs := testkit.AtOnce(len(managers), func(i int) error { return managers[i].Init(context.Background()) })
	for i, err := range errs {
		if err != nil {
			t.Fatalf("manager %d: %v", i, err)
		}
	}
	ks := listKeys(t, st)
	if got := countByAlg(ks); len(ks) != 4 || got[RS256] != 1 || got[ES256] != 1 || got[EdDSA] != 1 || got[PS256] != 1 {
		t.Fatalf("keys by algorithm: %v", got)
	}
	for _, alg := range Algorithms() {
		want := signingKID(t, managers[0], alg)
		for i, m := range managers[1:] {
			if got := signingKID(t, m, alg); got != want {
				t.Errorf("%s: manager %d signs with %s, manager 0 with %s", alg, i+1, got, want)
			}
		}
	}
	// A second Init adds nothing.
	if err := managers[0].Init(context.Background()); err != nil || len(listKeys(t, st)) != 4 {
		t.Errorf("second Init: %v, %d keys", err, len(listKeys(t, st)))
	}
}

// TestPrivateKeysEncryptedAtRest: what the store holds is not the PKCS#8
// key, the key id is bound as associated data, and the public half holds
// no private member (ARCHITECTURE: keys encrypted at rest; S243).
func TestPrivateKeysEncryptedAtRest(t *testing.T) {
	st := openStore(t)
	c := &clock{t: time.Now()}
	m := newTestManager(t, st, testSecret, c)
	if err := m.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, k := range listKeys(t, st) {
		der, err := m.seal.Open(k.Private, k.KID)
		if err != nil {
			t.Fatalf("%s: %v", k.KID, err)
		}
		if _, err := x509.ParsePKCS8PrivateKey(der); err != nil {
			t.Fatalf("%s: sealed content is not PKCS#8: %v", k.KID, err)
		}
		if bytes.Contains(k.Private, der) || bytes.Contains(k.Private, der[len(der)-32:]) {
			t.Errorf("%s: the stored private key contains the PKCS#8 DER in clear", k.KID)
		}
		if _, err := m.seal.Open(k.Private, "another-kid"); !errors.Is(err, ErrWrongSecret) {
			t.Errorf("%s: opened under another kid: %v", k.KID, err)
		}
		var pub map[string]any
		if err := json.Unmarshal(k.Public, &pub); err != nil {
			t.Fatal(err)
		}
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi"} {
			if _, ok := pub[private]; ok {
				t.Errorf("%s: public JWK holds %q", k.KID, private)
			}
		}
	}
}

// TestWrongSecretCannotOpenKeys: a manager with another system secret
// cannot load the keys and says why (ErrWrongSecret).
func TestWrongSecretCannotOpenKeys(t *testing.T) {
	st := openStore(t)
	c := &clock{t: time.Now()}
	if err := newTestManager(t, st, testSecret, c).Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	other := newTestManager(t, st, []byte("another-system-secret-of-32bytes"), c)
	if err := other.Init(context.Background()); !errors.Is(err, ErrWrongSecret) {
		t.Fatalf("Init with another secret: %v, want ErrWrongSecret", err)
	}
	if _, err := NewManager(st, []byte("short"), Options{Rand: rand.Reader, Now: c.now}); err == nil {
		t.Error("a secret shorter than 16 bytes was accepted")
	}
}

// TestRotationLifecycle checks S237: a rotated key is published at once,
// signs only after the activation delay, stays published until the
// retention after its successor took over, and Prune then removes it.
func TestRotationLifecycle(t *testing.T) {
	st := openStore(t)
	c := &clock{t: time.Now()}
	m := newTestManager(t, st, testSecret, c)
	if err := m.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	oldKID := signingKID(t, m, ES256)
	// Rotate stages nothing for an algorithm whose newest key was created
	// at or after this instant, so step past the keys Init made.
	c.advance(time.Second)
	added, err := m.Rotate(context.Background())
	if err != nil || len(added) != 4 {
		t.Fatalf("rotate: %d, %v", len(added), err)
	}
	newKID := added[slices.IndexFunc(added, func(k store.Key) bool { return k.Alg == ES256 })].KID
	if kids := jwksKIDs(t, m); len(kids) != 8 || !slices.Contains(kids, newKID) {
		t.Fatalf("JWKS after rotation: %v", kids)
	}
	if got := signingKID(t, m, ES256); got != oldKID {
		t.Errorf("signs with %s before activation, want %s", got, oldKID)
	}
	c.advance(time.Hour)
	if got := signingKID(t, m, ES256); got != newKID {
		t.Errorf("signs with %s once active, want %s", got, newKID)
	}
	if _, ok := m.PublicKey(oldKID); !ok {
		t.Error("old key no longer verifiable right after the switch")
	}
	c.advance(2*time.Hour - time.Second)
	if n, err := m.Prune(context.Background()); err != nil || n != 0 {
		t.Fatalf("prune before retention ended: %d, %v", n, err)
	}
	c.advance(time.Second)
	if n, err := m.Prune(context.Background()); err != nil || n != 4 {
		t.Fatalf("prune after retention: %d, %v", n, err)
	}
	kids := jwksKIDs(t, m)
	if slices.Contains(kids, oldKID) || len(kids) != 4 {
		t.Errorf("JWKS after prune: %v", kids)
	}
	if _, ok := m.PublicKey(oldKID); ok {
		t.Error("pruned key still verifies")
	}
}

// TestRotateIfDueOnceAcrossManagers: instances that find rotation due at
// the same time stage one new key per algorithm between them.
func TestRotateIfDueOnceAcrossManagers(t *testing.T) {
	st := openStore(t)
	c := &clock{t: time.Now()}
	a, b := newTestManager(t, st, testSecret, c), newTestManager(t, st, testSecret, c)
	for _, m := range []*Manager{a, b} {
		if err := m.Init(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := a.RotateIfDue(context.Background(), 24*time.Hour); err != nil || n != 0 {
		t.Fatalf("rotation due on fresh keys: %d, %v", n, err)
	}
	c.advance(25 * time.Hour)
	staged := testkit.AtOnce(2, func(i int) int {
		n, _ := []*Manager{a, b}[i].RotateIfDue(context.Background(), 24*time.Hour)
		return n
	})
	na, nb := staged[0], staged[1]
	if na+nb != 4 || len(listKeys(t, st)) != 8 {
		t.Errorf("managers staged %d + %d keys (%d stored), want 4 in all", na, nb, len(listKeys(t, st)))
	}
}

// TestSignerTypes: both JWT types are available for every algorithm; an
// unknown type or algorithm is an error, never a default.
func TestSignerTypes(t *testing.T) {
	st := openStore(t)
	m := newTestManager(t, st, testSecret, &clock{t: time.Now()})
	if _, err := m.Signer(ES256, "at+jwt"); !errors.Is(err, ErrNoKey) {
		t.Errorf("Signer before Init: %v, want ErrNoKey", err)
	}
	if err := m.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, alg := range Algorithms() {
		for _, typ := range []string{"at+jwt", "JWT"} {
			if _, err := m.Signer(alg, typ); err != nil {
				t.Errorf("%s %s: %v", alg, typ, err)
			}
		}
	}
	if _, err := m.Signer("HS256", "at+jwt"); !errors.Is(err, ErrNoKey) {
		t.Errorf("HS256: %v", err)
	}
	if _, err := m.Signer(ES256, "dpop+jwt"); err == nil {
		t.Error("unknown typ accepted")
	}
}

// TestCheckSecret: the secret the keys were sealed with opens them all;
// another one is ErrWrongSecret; no keys need no secret.
func TestCheckSecret(t *testing.T) {
	st := openStore(t)
	m := newTestManager(t, st, testSecret, &clock{t: time.Now()})
	if err := m.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	ks := listKeys(t, st)
	if len(ks) == 0 {
		t.Fatal("Init stored no keys")
	}
	if err := CheckSecret(ks, testSecret); err != nil {
		t.Errorf("CheckSecret with the sealing secret: %v", err)
	}
	if err := CheckSecret(ks, []byte("another-system-secret-of-32-bytes!!")); !errors.Is(err, ErrWrongSecret) {
		t.Errorf("CheckSecret with another secret = %v, want ErrWrongSecret", err)
	}
	if err := CheckSecret(nil, []byte("another-system-secret-of-32-bytes!!")); err != nil {
		t.Errorf("CheckSecret of no keys = %v", err)
	}
}
