package bearer_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey/bearer"
	"github.com/latchkey/latchkey/internal/testenv"
	"github.com/latchkey/latchkey/internal/testkit"
)

// A13: algorithm confusion. Each forged token must be refused with
// invalid_token by a validator that trusts the real Latchkey.
func TestAlgorithmConfusion(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	secret := addClient(t, env, "reports", []string{"read"}, "")
	v, _ := newValidator(t, env.URL, env.Clock.Now, nil)
	real := getToken(t, env, "reports", secret, "read")
	claims := claimsFor(env.URL, env.Clock.Now())
	rsaKey := publishedKey(t, env, "RS256")
	ecKey := publishedKey(t, env, "ES256")

	pemBytes := pemPublic(t, rsaKey.Key)
	jwkBytes, err := json.Marshal(rsaKey)
	if err != nil {
		t.Fatal(err)
	}
	ownRSA, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ownEC, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	atHeader := func(kid string) map[jose.HeaderKey]any { return map[jose.HeaderKey]any{"kid": kid, "typ": "at+jwt"} }

	cases := []struct {
		name  string
		token string
		want  error
	}{
		{"alg none", unsigned(map[string]any{"alg": "none", "typ": "at+jwt", "kid": ecKey.KeyID}, claims), bearer.ErrSignature},
		{"HS256 keyed with the RSA public key PEM", forge(t, jose.HS256, pemBytes, atHeader(rsaKey.KeyID), claims, false), bearer.ErrSignature},
		{"HS256 keyed with the RSA public JWK JSON", forge(t, jose.HS256, jwkBytes, atHeader(rsaKey.KeyID), claims, false), bearer.ErrSignature},
		{"RS256 header on the ES256 key", forge(t, jose.RS256, ownRSA, atHeader(ecKey.KeyID), claims, false), bearer.ErrSignature},
		{"ES256 with our own key under Latchkey's kid", forge(t, jose.ES256, ownEC, atHeader(ecKey.KeyID), claims, false), bearer.ErrSignature},
		{"PS256 not in the allowlist", forge(t, jose.PS256, ownRSA, atHeader(rsaKey.KeyID), claims, false), bearer.ErrSignature},
		{"tampered payload", tamper(t, real), bearer.ErrSignature},
		{"JWE", encrypt(t, &ownRSA.PublicKey, claims), bearer.ErrMalformed},
		{"unknown crit", forge(t, jose.ES256, ownEC, map[jose.HeaderKey]any{"kid": ecKey.KeyID, "typ": "at+jwt", "crit": []string{"exp"}, "exp": 1}, claims, false), bearer.ErrMalformed},
		{"two signatures (JSON serialization)", twoSignatures(t, ownEC, claims), bearer.ErrMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Validate(context.Background(), tc.token)
			wantErr(t, err, tc.want)
			wantErr(t, err, bearer.ErrInvalidToken)
		})
	}
	if _, err := v.Validate(context.Background(), real); err != nil {
		t.Fatalf("the real token must still pass: %v", err)
	}
}

// A13, A14: header checks fire on their own. The fake issuer's key signs
// every token, so each is valid in all but the header under test.
func TestHeaderChecksWithValidSignature(t *testing.T) {
	f := newFakeIssuer(t)
	v, _ := newValidator(t, f.URL, time.Now, nil)
	claims := claimsFor(f.URL, time.Now())
	if _, err := v.Validate(context.Background(), f.sign(t, nil, claims)); err != nil {
		t.Fatalf("control token refused: %v", err)
	}
	cases := []struct {
		name   string
		header map[jose.HeaderKey]any
		want   error
	}{
		{"typ JWT (an ID token)", map[jose.HeaderKey]any{"typ": "JWT"}, bearer.ErrTokenType},
		{"no typ", map[jose.HeaderKey]any{"typ": nil}, bearer.ErrTokenType},
		{"unknown crit", map[jose.HeaderKey]any{"crit": []string{"urn:example:x"}, "urn:example:x": true}, bearer.ErrMalformed},
		{"jku", map[jose.HeaderKey]any{"jku": f.URL + "/jwks"}, bearer.ErrSignature},
		{"x5u", map[jose.HeaderKey]any{"x5u": f.URL + "/cert.pem"}, bearer.ErrSignature},
		{"no kid", map[jose.HeaderKey]any{"kid": ""}, bearer.ErrSignature},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Validate(context.Background(), f.sign(t, tc.header, claims))
			wantErr(t, err, tc.want)
		})
	}
	t.Run("embedded jwk", func(t *testing.T) {
		raw := forge(t, jose.ES256, f.Key, map[jose.HeaderKey]any{"kid": f.KID, "typ": "at+jwt"}, claims, true)
		_, err := v.Validate(context.Background(), raw)
		wantErr(t, err, bearer.ErrSignature)
	})
}

// A14: odd kids are refused, no URL named by a token is fetched, and
// unknown kids cost at most one JWKS fetch per MinRefreshInterval.
func TestKeyInjection(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	now, advance := offsetClock(env.Clock.Now)
	v, cnt := newValidator(t, env.URL, now, nil)
	var trap atomic.Int32
	attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		trap.Add(1)
		w.Write(env.Keys.JWKS())
	}))
	t.Cleanup(attacker.Close)
	own, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	claims := claimsFor(env.URL, env.Clock.Now())
	h := func(kv ...any) map[jose.HeaderKey]any {
		m := map[jose.HeaderKey]any{"typ": "at+jwt", "kid": "own"}
		for i := 0; i < len(kv); i += 2 {
			m[jose.HeaderKey(kv[i].(string))] = kv[i+1]
		}
		return m
	}
	tokens := map[string]string{
		"kid path":       forge(t, jose.ES256, own, h("kid", "../../dev/null"), claims, false),
		"kid sql":        forge(t, jose.ES256, own, h("kid", "' OR 1=1--"), claims, false),
		"kid 10000":      forge(t, jose.ES256, own, h("kid", strings.Repeat("k", 10000)), claims, false),
		"kid 300":        forge(t, jose.ES256, own, h("kid", strings.Repeat("k", 300)), claims, false),
		"kid unknown":    forge(t, jose.ES256, own, h("kid", "unknown"), claims, false),
		"jku to us":      forge(t, jose.ES256, own, h("jku", attacker.URL+"/jwks"), claims, false),
		"x5u to us":      forge(t, jose.ES256, own, h("x5u", attacker.URL+"/cert"), claims, false),
		"jwk":            forge(t, jose.ES256, own, h(), claims, true),
		"jku, real kid":  forge(t, jose.ES256, own, h("kid", publishedKey(t, env, "ES256").KeyID, "jku", attacker.URL), claims, false),
		"x5u, real kid":  forge(t, jose.ES256, own, h("kid", publishedKey(t, env, "ES256").KeyID, "x5u", attacker.URL), claims, false),
		"jwk, real kid":  forge(t, jose.ES256, own, h("kid", publishedKey(t, env, "ES256").KeyID), claims, true),
		"kid null bytes": forge(t, jose.ES256, own, h("kid", "a\x00b"), claims, false),
	}
	for name, raw := range tokens {
		_, err := v.Validate(context.Background(), raw)
		if !errors.Is(err, bearer.ErrInvalidToken) {
			t.Errorf("%s: got %v, want invalid_token", name, err)
		}
	}
	if n := trap.Load(); n != 0 {
		t.Fatalf("the attacker's server got %d requests", n)
	}
	if n := cnt.count("/jwks"); n != 1 {
		t.Fatalf("JWKS fetched %d times within MinRefreshInterval of New, want 1 (New's own)", n)
	}

	// Past the interval, a burst of unknown kids makes exactly one fetch.
	advance(bearer.DefaultMinRefreshInterval + time.Second)
	testkit.AtOnce(20, func(int) error {
		_, err := v.Validate(context.Background(), tokens["kid unknown"])
		return err
	})
	if n := cnt.count("/jwks"); n != 2 {
		t.Fatalf("JWKS fetched %d times, want 2", n)
	}
}

// offsetClock is now plus an offset that only the validator sees.
func offsetClock(now func() time.Time) (func() time.Time, func(time.Duration)) {
	var off atomic.Int64
	return func() time.Time { return now().Add(time.Duration(off.Load())) },
		func(d time.Duration) { off.Add(int64(d)) }
}

func pemPublic(t testing.TB, key any) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// unsigned builds header.payload. with an empty signature.
func unsigned(header, claims map[string]any) string {
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	enc := base64.RawURLEncoding
	return enc.EncodeToString(h) + "." + enc.EncodeToString(c) + "."
}

// tamper widens the scope of a real token, keeping its signature.
func tamper(t testing.TB, raw string) string {
	t.Helper()
	parts := strings.Split(raw, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(payload, &m); err != nil {
		t.Fatal(err)
	}
	m["scope"] = "read write admin"
	b, _ := json.Marshal(m)
	return parts[0] + "." + base64.RawURLEncoding.EncodeToString(b) + "." + parts[2]
}

// encrypt makes a compact JWE of the claims.
func encrypt(t testing.TB, key *rsa.PublicKey, claims any) string {
	t.Helper()
	enc, err := jose.NewEncrypter(jose.A128GCM, jose.Recipient{Algorithm: jose.RSA_OAEP_256, Key: key},
		(&jose.EncrypterOptions{}).WithType("at+jwt"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(claims)
	obj, err := enc.Encrypt(b)
	if err != nil {
		t.Fatal(err)
	}
	out, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// twoSignatures is a JWS JSON serialization with two signatures: never
// parsed, since only the compact form (one signature) is a bearer token.
func twoSignatures(t testing.TB, key *ecdsa.PrivateKey, claims any) string {
	t.Helper()
	s, err := jose.NewMultiSigner([]jose.SigningKey{{Algorithm: jose.ES256, Key: key}, {Algorithm: jose.ES256, Key: key}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(claims)
	obj, err := s.Sign(b)
	if err != nil {
		t.Fatal(err)
	}
	return obj.FullSerialize()
}
