package trustjwt_test

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey/internal/clientjwt"
	"github.com/latchkey/latchkey/internal/store/sqlite"
	"github.com/latchkey/latchkey/internal/testkit/jwstest"
	"github.com/latchkey/latchkey/internal/trustjwt"
)

const (
	k8sIssuer = "https://kubernetes.default.svc.cluster.local"
	audience  = "https://auth.example.com"
	saSubject = "system:serviceaccount:payments:api"
)

// world is a verifier on a real SQLite replay store, a fixed clock and an
// issuer whose inline key set holds key.
type world struct {
	v   *trustjwt.Verifier
	iss trustjwt.Issuer
	key jwstest.Key
	now time.Time
}

func newWorld(t testing.TB, alg jose.SignatureAlgorithm) *world {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "replay.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	w := &world{key: jwstest.NewKey(t, alg, "k1"), now: time.Now().Truncate(time.Second)}
	w.iss = trustjwt.Issuer{Name: "k8s", Issuer: k8sIssuer, JWKS: jwstest.JWKS(t, w.key), Audience: audience}
	w.v = &trustjwt.Verifier{Keys: clientjwt.NewKeys(clientjwt.KeysConfig{}), Replay: st,
		Now: func() time.Time { return w.now }}
	return w
}

// claims are those of a projected service account token issued now.
func (w *world) claims() map[string]any {
	return map[string]any{
		"iss": k8sIssuer, "sub": saSubject, "aud": []string{audience},
		"iat": w.now.Unix(), "nbf": w.now.Unix(), "exp": w.now.Add(time.Hour).Unix(), "jti": rand.Text(),
	}
}

func with(c map[string]any, name string, v any) map[string]any {
	out := make(map[string]any, len(c))
	for k, x := range c {
		out[k] = x
	}
	if v == nil {
		delete(out, name)
	} else {
		out[name] = v
	}
	return out
}

func TestVerifyAccepts(t *testing.T) {
	for _, alg := range []jose.SignatureAlgorithm{jose.ES256, jose.RS256, jose.PS256, jose.EdDSA} {
		t.Run(string(alg), func(t *testing.T) {
			w := newWorld(t, alg)
			c := w.claims()
			tok, err := w.v.Verify(context.Background(), w.key.Sign(t, nil, c), w.iss)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if tok.Subject != saSubject || tok.JTI != c["jti"] || !tok.Expiry.Equal(w.now.Add(time.Hour)) || !tok.IssuedAt.Equal(w.now) {
				t.Errorf("Token = %+v", tok)
			}
		})
	}
}

// TestVerifyRefuses is the attack table: each token differs from a valid
// one in one way, and is refused with its kind of error.
func TestVerifyRefuses(t *testing.T) {
	w := newWorld(t, jose.RS256)
	other := jwstest.NewKey(t, jose.RS256, "k1") // same kid, not the issuer's key
	der, err := x509.MarshalPKIXPublicKey(w.key.Private.Public())
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	pubJWK, _ := w.key.Public.MarshalJSON()
	c := w.claims()
	tests := []struct {
		name  string
		token string
		kind  error
	}{
		// A13: alg none with an empty signature.
		{"alg none", jwstest.Unsigned(map[string]any{"alg": "none", "kid": "k1"}, c, ""), trustjwt.ErrAlgorithm},
		// A13: HMAC keyed with the issuer's public key, PEM and JWK bytes.
		{"HS256 with the public key PEM", jwstest.Sign(t, jose.HS256, pubPEM, "k1", nil, c), trustjwt.ErrAlgorithm},
		{"HS256 with the public JWK", jwstest.Sign(t, jose.HS256, pubJWK, "k1", nil, c), trustjwt.ErrAlgorithm},
		{"another key", other.Sign(t, nil, c), trustjwt.ErrSignature},
		{"tampered payload", tamper(w.key.Sign(t, nil, c), with(c, "sub", "system:serviceaccount:kube-system:admin")), trustjwt.ErrSignature},
		{"unknown kid", jwstest.Sign(t, jose.RS256, w.key.Private, "k9", nil, c), trustjwt.ErrKeys},
		// A14: a key brought by the header.
		{"embedded jwk", jwstest.Sign(t, jose.RS256, other.Private, "k1", map[jose.HeaderKey]any{"jwk": other.Public}, c), trustjwt.ErrHeader},
		{"jku", w.key.Sign(t, map[jose.HeaderKey]any{"jku": "https://attacker.example/jwks"}, c), trustjwt.ErrHeader},
		{"typ at+jwt", w.key.Sign(t, map[jose.HeaderKey]any{"typ": "at+jwt"}, c), trustjwt.ErrHeader},
		{"wrong iss (untrusted issuer)", w.key.Sign(t, nil, with(c, "iss", "https://evil.example")), trustjwt.ErrIssuer},
		{"wrong aud", w.key.Sign(t, nil, with(c, "aud", "https://other.example")), trustjwt.ErrAudience},
		{"no aud", w.key.Sign(t, nil, with(c, "aud", nil)), trustjwt.ErrAudience},
		{"no exp", w.key.Sign(t, nil, with(c, "exp", nil)), trustjwt.ErrExpiry},
		{"expired", w.key.Sign(t, nil, with(with(c, "exp", w.now.Add(-time.Minute).Unix()), "iat", w.now.Add(-time.Hour).Unix())), trustjwt.ErrExpiry},
		{"nbf in the future", w.key.Sign(t, nil, with(c, "nbf", w.now.Add(5*time.Minute).Unix())), trustjwt.ErrExpiry},
		{"no iat", w.key.Sign(t, nil, with(c, "iat", nil)), trustjwt.ErrExpiry},
		{"iat in the future", w.key.Sign(t, nil, with(c, "iat", w.now.Add(5*time.Minute).Unix())), trustjwt.ErrExpiry},
		{"iat too old", w.key.Sign(t, nil, with(with(c, "iat", w.now.Add(-2*time.Hour).Unix()), "exp", w.now.Add(time.Minute).Unix())), trustjwt.ErrExpiry},
		{"lives longer than max_token_age", w.key.Sign(t, nil, with(c, "exp", w.now.Add(2*time.Hour).Unix())), trustjwt.ErrExpiry},
		{"no sub", w.key.Sign(t, nil, with(c, "sub", nil)), trustjwt.ErrSubject},
		{"sub not a string", w.key.Sign(t, nil, with(c, "sub", 42)), trustjwt.ErrSubject},
		{"sub empty", w.key.Sign(t, nil, with(c, "sub", "")), trustjwt.ErrSubject},
		{"sub with a newline", w.key.Sign(t, nil, with(c, "sub", "a\nb")), trustjwt.ErrSubject},
		{"sub too long", w.key.Sign(t, nil, with(c, "sub", string(make([]byte, 300)))), trustjwt.ErrSubject},
		{"no jti", w.key.Sign(t, nil, with(c, "jti", nil)), trustjwt.ErrJTI},
		{"oversized", w.key.Sign(t, nil, with(c, "pad", string(make([]byte, clientjwt.MaxAssertionBytes)))), trustjwt.ErrMalformed},
		{"not a JWS", "not.a.jws", trustjwt.ErrMalformed},
		{"encrypted", "a.b.c.d.e", trustjwt.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := w.v.Verify(context.Background(), tt.token, w.iss)
			var te *trustjwt.Error
			if !errors.As(err, &te) || !errors.Is(err, tt.kind) {
				t.Fatalf("Verify = %v, want a *trustjwt.Error of kind %v", err, tt.kind)
			}
			if te.Description == "" {
				t.Error("no description")
			}
		})
	}
}

// tamper replaces the payload of a signed token, keeping its signature.
func tamper(token string, claims map[string]any) string {
	parts := strings.Split(token, ".")
	forged := strings.Split(jwstest.Unsigned(map[string]any{}, claims, ""), ".")
	return parts[0] + "." + forged[1] + "." + parts[2]
}

// TestVerifyReplay: a jti is accepted once per issuer (S214's rule for
// assertions, applied to grants); another issuer's identical jti is its
// own; an issuer that allows reuse accepts the same token again.
func TestVerifyReplay(t *testing.T) {
	w := newWorld(t, jose.ES256)
	ctx := context.Background()
	tok := w.key.Sign(t, nil, w.claims())
	if _, err := w.v.Verify(ctx, tok, w.iss); err != nil {
		t.Fatalf("first use: %v", err)
	}
	if _, err := w.v.Verify(ctx, tok, w.iss); !errors.Is(err, trustjwt.ErrReplayed) {
		t.Fatalf("second use = %v, want ErrReplayed", err)
	}
	renamed := w.iss
	renamed.Name = "k8s-b"
	if _, err := w.v.Verify(ctx, tok, renamed); err != nil {
		t.Errorf("the same jti from another configured issuer: %v", err)
	}
	reuse := w.iss
	reuse.Name, reuse.AllowReuse = "k8s-reuse", true
	noJTI := w.key.Sign(t, nil, with(w.claims(), "jti", nil))
	for i := range 3 {
		if _, err := w.v.Verify(ctx, noJTI, reuse); err != nil {
			t.Fatalf("use %d with allow_token_reuse: %v", i+1, err)
		}
	}
}

// TestVerifyOptions: a subject claim other than sub, a narrowed
// allowlist, and a longer max_token_age.
func TestVerifyOptions(t *testing.T) {
	w := newWorld(t, jose.ES256)
	ctx := context.Background()
	iss := w.iss
	iss.SubjectClaim = "repository"
	tok, err := w.v.Verify(ctx, w.key.Sign(t, nil, with(w.claims(), "repository", "org/repo")), iss)
	if err != nil || tok.Subject != "org/repo" {
		t.Fatalf("subject_claim repository: %+v, %v", tok, err)
	}
	if _, err := w.v.Verify(ctx, w.key.Sign(t, nil, w.claims()), iss); !errors.Is(err, trustjwt.ErrSubject) {
		t.Errorf("without the configured subject claim: %v, want ErrSubject", err)
	}
	iss = w.iss
	iss.Algs = []jose.SignatureAlgorithm{jose.RS256}
	if _, err := w.v.Verify(ctx, w.key.Sign(t, nil, w.claims()), iss); !errors.Is(err, trustjwt.ErrAlgorithm) {
		t.Errorf("ES256 against an RS256 allowlist: %v, want ErrAlgorithm", err)
	}
	iss = w.iss
	iss.MaxTokenAge = 48 * time.Hour
	if _, err := w.v.Verify(ctx, w.key.Sign(t, nil, with(w.claims(), "exp", w.now.Add(24*time.Hour).Unix())), iss); err != nil {
		t.Errorf("a 24h token under max_token_age 48h: %v", err)
	}
	iss.Algs = []jose.SignatureAlgorithm{jose.HS256}
	_, err = w.v.Verify(ctx, w.key.Sign(t, nil, w.claims()), iss)
	var te *trustjwt.Error
	if err == nil || errors.As(err, &te) {
		t.Errorf("an HS256 allowlist: %v, want a configuration error (not a refusal)", err)
	}
}

func TestUnsafeIssuer(t *testing.T) {
	w := newWorld(t, jose.ES256)
	if got, ok := trustjwt.UnsafeIssuer(w.key.Sign(t, nil, w.claims())); !ok || got != k8sIssuer {
		t.Errorf("UnsafeIssuer = %q, %v", got, ok)
	}
	for _, bad := range []string{"", "a.b", "a.!!!.c", jwstest.Unsigned(map[string]any{}, map[string]any{"iss": 7}, ""),
		jwstest.Unsigned(map[string]any{}, map[string]any{"sub": "x"}, "")} {
		if got, ok := trustjwt.UnsafeIssuer(bad); ok {
			t.Errorf("UnsafeIssuer(%q) = %q, true", bad, got)
		}
	}
}
