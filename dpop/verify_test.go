package dpop_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey/dpop"
)

// S161, S176: proofs of each default algorithm made by Prover pass, and
// say what they were made for.
func TestVerifyProverProofs(t *testing.T) {
	for _, tc := range []struct {
		name string
		key  crypto.Signer
		alg  jose.SignatureAlgorithm
	}{
		{"ES256", ecKey(t, elliptic.P256()), jose.ES256},
		{"EdDSA", edKey(t), jose.EdDSA},
		{"PS256", rsaKey(t, 2048), jose.PS256},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := prover(t, tc.key)
			if p.Alg() != tc.alg {
				t.Fatalf("alg %s, want %s", p.Alg(), tc.alg)
			}
			raw, err := p.Proof("POST", "https://API.example:443/a/../notes?x=1#f", "the-token", "n-1")
			if err != nil {
				t.Fatal(err)
			}
			var v dpop.Verifier
			got, err := v.Verify(context.Background(), []string{raw}, check(func(c *dpop.Check) {
				c.Method, c.AccessToken = "POST", "the-token"
				c.Nonce = func(n string) bool { return n == "n-1" }
			}))
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got.JKT != p.Thumbprint() || got.HTU != endpoint || got.HTM != "POST" || got.Alg != string(tc.alg) ||
				got.ATH != dpop.AccessTokenHash("the-token") || got.Nonce != "n-1" || !got.IssuedAt.Equal(t0) || len(got.JTI) < 16 {
				t.Fatalf("proof %+v", got)
			}
			if jkt, _ := dpop.Thumbprint(got.Key); jkt != got.JKT {
				t.Fatalf("key thumbprint %s, JKT %s", jkt, got.JKT)
			}
		})
	}
}

// S161, S162, S174, S176, A13, A15, A19: every check of RFC 9449 §4.3,
// one at a time, on proofs that are valid in every other respect.
func TestVerifyChecks(t *testing.T) {
	key := ecKey(t, elliptic.P256())
	other := ecKey(t, elliptic.P256())
	p384 := ecKey(t, elliptic.P384())
	rsa2048 := rsaKey(t, 2048)
	rsa1024 := rsaKey(t, 1024)
	pub := publicJWK(t, key)
	es := func(header map[jose.HeaderKey]any, c any) string { return sign(t, jose.ES256, key, header, c) }
	hdr := func(kv ...any) map[string]any {
		h := map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": pub}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(h, kv[i].(string))
			} else {
				h[kv[i].(string)] = kv[i+1]
			}
		}
		return h
	}
	fakeSig := make([]byte, 64)
	good := es(nil, claims(nil))
	parts := strings.Split(good, ".")
	withAT := func(c *dpop.Check) { c.AccessToken = "the-token" }
	nonce := func(c *dpop.Check) { c.Nonce = func(n string) bool { return n == "good-nonce" } }

	cases := []struct {
		name  string
		proof []string
		edit  func(*dpop.Check)
		code  string // "" means accepted
	}{
		// Accepted.
		{"valid", []string{good}, nil, ""},
		{"S162 htu normalized: case, default port, dot segments, escapes", []string{es(nil, claims(map[string]any{"htu": "HTTPS://Api.Example:443/x/%2e%2E/%6Eotes"}))}, nil, ""},
		{"S162 request URL query and fragment ignored", []string{es(nil, claims(nil))}, func(c *dpop.Check) { c.URL = endpoint + "?page=2#top" }, ""},
		{"RFC 9449 §4.3 htu query ignored", []string{es(nil, claims(map[string]any{"htu": endpoint + "?a=b"}))}, nil, ""},
		{"typ application/dpop+jwt", []string{es(map[jose.HeaderKey]any{"typ": "application/dpop+jwt"}, claims(nil))}, nil, ""},
		{"typ in other case", []string{es(map[jose.HeaderKey]any{"typ": "DPoP+JWT"}, claims(nil))}, nil, ""},
		{"S174 iat 59 s ago", []string{es(nil, claims(map[string]any{"iat": t0.Add(-59 * time.Second).Unix()}))}, nil, ""},
		{"S174 iat 59 s ahead", []string{es(nil, claims(map[string]any{"iat": t0.Add(59 * time.Second).Unix()}))}, nil, ""},
		{"ath with the access token", []string{es(nil, claims(map[string]any{"ath": dpop.AccessTokenHash("the-token")}))}, withAT, ""},
		{"nonce accepted", []string{es(nil, claims(map[string]any{"nonce": "good-nonce"}))}, nonce, ""},
		{"RSA 2048 PS256", []string{sign(t, jose.PS256, rsa2048, nil, claims(nil))}, nil, ""},

		// S161: one proof, one signature, well formed.
		{"S161 no DPoP header", nil, nil, dpop.CodeInvalidProof},
		{"S161 A19 two DPoP headers", []string{good, es(nil, claims(nil))}, nil, dpop.CodeInvalidProof},
		{"S161 empty", []string{""}, nil, dpop.CodeInvalidProof},
		{"S161 two parts", []string{parts[0] + "." + parts[1]}, nil, dpop.CodeInvalidProof},
		{"S161 JWE shape", []string{good + ".x.y"}, nil, dpop.CodeInvalidProof},
		{"S161 JSON serialization", []string{`{"payload":"` + parts[1] + `","signatures":[]}`}, nil, dpop.CodeInvalidProof},
		{"S161 header not base64url", []string{"!!!." + parts[1] + "." + parts[2]}, nil, dpop.CodeInvalidProof},
		{"S161 header not JSON", []string{"bm90IGpzb24." + parts[1] + "." + parts[2]}, nil, dpop.CodeInvalidProof},
		{"S161 claims not a JSON object", []string{es(nil, "x")}, nil, dpop.CodeInvalidProof},
		{"S161 tampered claims", []string{parts[0] + "." + strings.Split(es(nil, claims(map[string]any{"htm": "GET"})), ".")[1] + "." + parts[2]}, nil, dpop.CodeInvalidProof},
		{"A15 oversized proof", []string{es(nil, claims(map[string]any{"pad": strings.Repeat("x", 9<<10)}))}, nil, dpop.CodeInvalidProof},
		{"A15 1 MB header", []string{strings.Repeat("a", 1<<20)}, nil, dpop.CodeInvalidProof},

		// S160, S176, A13: header.
		{"S176 typ JWT", []string{es(map[jose.HeaderKey]any{"typ": "JWT"}, claims(nil))}, nil, dpop.CodeInvalidProof},
		{"S176 no typ", []string{es(map[jose.HeaderKey]any{"typ": nil}, claims(nil))}, nil, dpop.CodeInvalidProof},
		{"S176 A13 alg none", []string{compact(t, hdr("alg", "none"), claims(nil), nil)}, nil, dpop.CodeInvalidProof},
		{"S176 A13 HS256", []string{sign(t, jose.HS256, make([]byte, 32), map[jose.HeaderKey]any{"jwk": pub}, claims(nil))}, nil, dpop.CodeInvalidProof},
		{"A13 HS256 keyed with the public JWK", []string{sign(t, jose.HS256, []byte(parts[0]), map[jose.HeaderKey]any{"jwk": pub}, claims(nil))}, nil, dpop.CodeInvalidProof},
		{"S176 ES384 not allowed", []string{sign(t, jose.ES384, p384, nil, claims(nil))}, nil, dpop.CodeInvalidProof},
		{"S161 A13 private d in jwk", []string{es(map[jose.HeaderKey]any{"jwk": privateJWK(t, key)}, claims(nil))}, nil, dpop.CodeInvalidProof},
		{"S161 RSA private members in jwk", []string{sign(t, jose.PS256, rsa2048, map[jose.HeaderKey]any{"jwk": privateJWK(t, rsa2048)}, claims(nil))}, nil, dpop.CodeInvalidProof},
		{"S161 symmetric jwk", []string{es(map[jose.HeaderKey]any{"jwk": map[string]any{"kty": "oct", "k": "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}}, claims(nil))}, nil, dpop.CodeInvalidProof},
		{"A13 RSA key with an ES256 header", []string{compact(t, hdr("jwk", publicJWK(t, rsa2048)), claims(nil), fakeSig)}, nil, dpop.CodeInvalidProof},
		{"A13 P-384 key with an ES256 header", []string{compact(t, hdr("jwk", publicJWK(t, p384)), claims(nil), make([]byte, 96))}, nil, dpop.CodeInvalidProof},
		{"RSA 1024 too small", []string{sign(t, jose.PS256, rsa1024, nil, claims(nil))}, nil, dpop.CodeInvalidProof},
		{"A13 unknown crit", []string{es(map[jose.HeaderKey]any{"crit": []string{"exp"}, "exp": 1}, claims(nil))}, nil, dpop.CodeInvalidProof},
		{"A14 no jwk, kid only", []string{es(map[jose.HeaderKey]any{"jwk": nil, "kid": "k1"}, claims(nil))}, nil, dpop.CodeInvalidProof},
		{"A14 jku", []string{es(map[jose.HeaderKey]any{"jku": "https://evil.example/jwks"}, claims(nil))}, nil, dpop.CodeInvalidProof},
		{"A14 x5u", []string{es(map[jose.HeaderKey]any{"x5u": "https://evil.example/cert"}, claims(nil))}, nil, dpop.CodeInvalidProof},
		{"A14 x5c", []string{es(map[jose.HeaderKey]any{"x5c": []string{"MIIB"}}, claims(nil))}, nil, dpop.CodeInvalidProof},
		{"S161 signed by another key than its jwk", []string{sign(t, jose.ES256, other, map[jose.HeaderKey]any{"jwk": pub}, claims(nil))}, nil, dpop.CodeInvalidProof},

		// S161: claims.
		{"S161 no jti", []string{es(nil, claims(map[string]any{"jti": nil}))}, nil, dpop.CodeInvalidProof},
		{"S161 no htm", []string{es(nil, claims(map[string]any{"htm": nil}))}, nil, dpop.CodeInvalidProof},
		{"S161 no htu", []string{es(nil, claims(map[string]any{"htu": nil}))}, nil, dpop.CodeInvalidProof},
		{"S161 no iat", []string{es(nil, claims(map[string]any{"iat": nil}))}, nil, dpop.CodeInvalidProof},
		{"S161 jti a number", []string{es(nil, claims(map[string]any{"jti": 7}))}, nil, dpop.CodeInvalidProof},
		{"S161 iat a string", []string{es(nil, claims(map[string]any{"iat": "now"}))}, nil, dpop.CodeInvalidProof},
		{"S161 iat negative", []string{es(nil, claims(map[string]any{"iat": -1}))}, nil, dpop.CodeInvalidProof},
		{"S174 jti too long", []string{es(nil, claims(map[string]any{"jti": strings.Repeat("j", dpop.MaxJTILength+1)}))}, nil, dpop.CodeInvalidProof},
		{"S161 A19 htm POST on GET", []string{es(nil, claims(map[string]any{"htm": "POST"}))}, nil, dpop.CodeInvalidProof},
		{"S161 htm in lower case", []string{es(nil, claims(map[string]any{"htm": "get"}))}, nil, dpop.CodeInvalidProof},
		{"S161 A19 htu another host", []string{es(nil, claims(map[string]any{"htu": "https://evil.example/notes"}))}, nil, dpop.CodeInvalidProof},
		{"S161 A19 htu another path", []string{es(nil, claims(map[string]any{"htu": "https://api.example/admin"}))}, nil, dpop.CodeInvalidProof},
		{"S161 htu another scheme", []string{es(nil, claims(map[string]any{"htu": "http://api.example/notes"}))}, nil, dpop.CodeInvalidProof},
		{"S161 htu another port", []string{es(nil, claims(map[string]any{"htu": "https://api.example:8443/notes"}))}, nil, dpop.CodeInvalidProof},
		{"S161 htu trailing slash", []string{es(nil, claims(map[string]any{"htu": endpoint + "/"}))}, nil, dpop.CodeInvalidProof},
		{"S161 htu not a URL", []string{es(nil, claims(map[string]any{"htu": "notes"}))}, nil, dpop.CodeInvalidProof},
		{"S174 A19 iat 10 min ago", []string{es(nil, claims(map[string]any{"iat": t0.Add(-10 * time.Minute).Unix()}))}, nil, dpop.CodeInvalidProof},
		{"S174 A19 iat in 10 min", []string{es(nil, claims(map[string]any{"iat": t0.Add(10 * time.Minute).Unix()}))}, nil, dpop.CodeInvalidProof},
		{"S161 A19 missing ath", []string{good}, withAT, dpop.CodeInvalidProof},
		{"S161 A19 ath of another token", []string{es(nil, claims(map[string]any{"ath": dpop.AccessTokenHash("another-token")}))}, withAT, dpop.CodeInvalidProof},
		{"S175 A19 missing nonce", []string{good}, nonce, dpop.CodeUseNonce},
		{"S170 wrong nonce", []string{es(nil, claims(map[string]any{"nonce": "stale"}))}, nonce, dpop.CodeUseNonce},
	}
	var v dpop.Verifier
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Verify(context.Background(), tc.proof, check(tc.edit))
			if tc.code == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			wantCode(t, err, tc.code)
		})
	}
}

// S174, A19: a proof is used once per URL; the same jti at another URL is
// another proof.
func TestVerifyReplay(t *testing.T) {
	key := ecKey(t, elliptic.P256())
	c := claims(nil)
	proof := sign(t, jose.ES256, key, nil, c)
	var v dpop.Verifier
	if _, err := v.Verify(context.Background(), []string{proof}, check(nil)); err != nil {
		t.Fatal(err)
	}
	_, err := v.Verify(context.Background(), []string{proof}, check(nil))
	wantCode(t, err, dpop.CodeInvalidProof)

	c["htu"] = "https://api.example/other"
	elsewhere := sign(t, jose.ES256, key, nil, c)
	if _, err := v.Verify(context.Background(), []string{elsewhere}, check(func(c *dpop.Check) { c.URL = "https://api.example/other" })); err != nil {
		t.Fatalf("same jti at another URL: %v", err)
	}
}

// S174: a failing replay cache refuses the proof with its own error, not a
// *dpop.Error, so that the caller can answer 503 rather than blame the
// client.
func TestVerifyReplayCacheDown(t *testing.T) {
	v := dpop.Verifier{Replay: failingCache{}}
	_, err := v.Verify(context.Background(), []string{sign(t, jose.ES256, ecKey(t, elliptic.P256()), nil, claims(nil))}, check(nil))
	if err == nil {
		t.Fatal("accepted")
	}
	if _, ok := err.(*dpop.Error); ok {
		t.Fatalf("a cache failure is reported as a refused proof: %v", err)
	}
}

// S176: none and HMAC algorithms are dropped from a Verifier's list; one
// configured with nothing else accepts nothing.
func TestVerifierAlgorithms(t *testing.T) {
	var def dpop.Verifier
	if got := def.Algorithms(); len(got) != 3 || got[0] != jose.ES256 || got[1] != jose.EdDSA || got[2] != jose.PS256 {
		t.Fatalf("default algorithms %v", got)
	}
	bad := dpop.Verifier{Algs: []jose.SignatureAlgorithm{"none", jose.HS256, jose.HS512}}
	if got := bad.Algorithms(); len(got) != 0 {
		t.Fatalf("algorithms %v", got)
	}
	key := make([]byte, 32)
	proof := sign(t, jose.HS256, key, map[jose.HeaderKey]any{"jwk": publicJWK(t, ecKey(t, elliptic.P256()))}, claims(nil))
	_, err := bad.Verify(context.Background(), []string{proof}, check(nil))
	wantCode(t, err, dpop.CodeInvalidProof)

	es384 := dpop.Verifier{Algs: []jose.SignatureAlgorithm{jose.ES384, jose.RS256}}
	if _, err := es384.Verify(context.Background(), []string{sign(t, jose.ES384, ecKey(t, elliptic.P384()), nil, claims(nil))}, check(nil)); err != nil {
		t.Fatalf("ES384 allowed: %v", err)
	}
	if _, err := es384.Verify(context.Background(), []string{sign(t, jose.RS256, rsaKey(t, 2048), nil, claims(nil))}, check(nil)); err != nil {
		t.Fatalf("RS256 allowed: %v", err)
	}
}

// S174: Window and MaxSize are honoured.
func TestVerifierLimits(t *testing.T) {
	key := ecKey(t, elliptic.P256())
	v := dpop.Verifier{Window: 5 * time.Second, MaxSize: 600}
	old := sign(t, jose.ES256, key, nil, claims(map[string]any{"iat": t0.Add(-6 * time.Second).Unix()}))
	_, err := v.Verify(context.Background(), []string{old}, check(nil))
	wantCode(t, err, dpop.CodeInvalidProof)
	long := sign(t, jose.ES256, key, nil, claims(map[string]any{"pad": strings.Repeat("x", 300)}))
	_, err = v.Verify(context.Background(), []string{long}, check(nil))
	wantCode(t, err, dpop.CodeInvalidProof)
}

// RFC 7638 §3.1's example key has a known thumbprint; ath is RFC 9449
// §4.2's base64url SHA-256.
func TestThumbprintAndATH(t *testing.T) {
	var jwk jose.JSONWebKey
	const rfc7638 = `{"kty":"RSA","e":"AQAB","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"}`
	if err := jwk.UnmarshalJSON([]byte(rfc7638)); err != nil {
		t.Fatal(err)
	}
	if got, err := dpop.Thumbprint(jwk); err != nil || got != "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs" {
		t.Fatalf("thumbprint %q, %v", got, err)
	}
	if _, err := dpop.Thumbprint(jose.JSONWebKey{Key: []byte("secret")}); err == nil {
		t.Fatal("a symmetric key has a thumbprint")
	}
	// RFC 9449 §7.1's example access token and its ath.
	if got := dpop.AccessTokenHash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"); got != "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo" {
		t.Fatalf("ath %s", got)
	}
}

// NewProver refuses keys it cannot make proofs with, and a Prover's key
// is what its proofs embed.
func TestNewProver(t *testing.T) {
	if _, err := dpop.NewProver(rsaKey(t, 1024)); err == nil {
		t.Fatal("RSA 1024 accepted")
	}
	if _, err := dpop.NewProver(nil); err == nil {
		t.Fatal("nil accepted")
	}
	k, err := dpop.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := k.(*ecdsa.PrivateKey); !ok {
		t.Fatalf("GenerateKey: %T", k)
	}
	p := prover(t, k)
	if jkt, _ := dpop.Thumbprint(p.PublicKey()); jkt != p.Thumbprint() || p.Alg() != jose.ES256 {
		t.Fatalf("thumbprint %s vs %s, alg %s", jkt, p.Thumbprint(), p.Alg())
	}
	if _, err := p.Proof("GET", "/relative", "", ""); err == nil {
		t.Fatal("relative URL accepted")
	}
	a, _ := p.Proof("GET", endpoint, "", "")
	b, _ := p.Proof("GET", endpoint, "", "")
	if a == b {
		t.Fatal("two proofs are the same: jti is not fresh")
	}
}
