package clientjwt_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey/internal/clientjwt"
)

// checkRefused fails unless err is an *Error of kind whose Description
// does not repeat the marker planted in the request (descriptions are
// sent to the client: never echo attacker input).
func checkRefused(t *testing.T, name string, err, kind error) {
	t.Helper()
	var e *clientjwt.Error
	if !errors.As(err, &e) || !errors.Is(err, kind) {
		t.Errorf("%s: %v, want *Error of kind %v", name, err, kind)
		return
	}
	if strings.Contains(e.Description, "ATTACKER") || e.Description == "" {
		t.Errorf("%s: description %q", name, e.Description)
	}
}

// TestVerifyAlgorithms: a real key of each default algorithm, inline,
// with and without kid, authenticates its client (RFC 7523 §3).
func TestVerifyAlgorithms(t *testing.T) {
	clk := newClock()
	v := newVerifier(clk)
	for _, alg := range clientjwt.DefaultAlgs() {
		for _, kid := range []string{"k-" + string(alg), ""} {
			k := newKey(t, alg, kid)
			c := clientjwt.Client{ID: clientA, JWKS: jwksOf(t, k)}
			if err := v.Verify(context.Background(), k.sign(t, nil, claimsFor(clientA, clk.Now())), c); err != nil {
				t.Errorf("%s kid=%q: %v", alg, kid, err)
			}
		}
	}
}

// TestA13AlgorithmConfusion sends A13's list: each must be refused
// (invalid_client), the algorithm coming from the allowlist tied to the
// key type, never from the header.
func TestA13AlgorithmConfusion(t *testing.T) {
	clk := newClock()
	v := newVerifier(clk)
	ec := newKey(t, jose.ES256, "ec")
	rsaKey := newKey(t, jose.RS256, "rsa")
	client := clientjwt.Client{ID: clientA, JWKS: jwksOf(t, ec, rsaKey)}
	now := clk.Now()
	pubDER, _ := x509.MarshalPKIXPublicKey(rsaKey.Public.Key)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	pubJWK, _ := rsaKey.Public.MarshalJSON()
	attacker := newKey(t, jose.RS256, "rsa")
	valid := ec.sign(t, nil, claimsFor(clientA, now))
	parts := strings.Split(valid, ".")
	other := strings.Split(ec.sign(t, nil, map[string]any{"iss": clientA, "sub": "admin"}), ".")

	enc, err := jose.NewEncrypter(jose.A128GCM, jose.Recipient{Algorithm: jose.RSA_OAEP_256, Key: rsaKey.Public.Key}, nil)
	if err != nil {
		t.Fatal(err)
	}
	jwe, _ := enc.Encrypt([]byte(valid))
	jweCompact, _ := jwe.CompactSerialize()

	tests := []struct {
		name      string
		assertion string
		client    clientjwt.Client
		kind      error
	}{
		{"alg none, empty signature", unsigned(map[string]any{"alg": "none", "kid": "ec"}, claimsFor(clientA, now), ""), client, clientjwt.ErrAlgorithm},
		{"alg None", unsigned(map[string]any{"alg": "None"}, claimsFor(clientA, now), ""), client, clientjwt.ErrAlgorithm},
		{"HS256 keyed with the RSA public key PEM", signWith(t, jose.HS256, pubPEM, "rsa", nil, claimsFor(clientA, now)), client, clientjwt.ErrAlgorithm},
		{"HS256 keyed with the RSA public JWK JSON", signWith(t, jose.HS256, pubJWK, "rsa", nil, claimsFor(clientA, now)), client, clientjwt.ErrAlgorithm},
		{"RS256 header naming the EC key", signWith(t, jose.RS256, attacker.Private, "ec", nil, claimsFor(clientA, now)), client, clientjwt.ErrAlgorithm},
		{"ES256 header naming the RSA key", signWith(t, jose.ES256, ec.Private, "rsa", nil, claimsFor(clientA, now)), client, clientjwt.ErrAlgorithm},
		{"PS256 against a client narrowed to RS256", signWith(t, jose.PS256, rsaKey.Private, "rsa", nil, claimsFor(clientA, now)),
			clientjwt.Client{ID: clientA, JWKS: client.JWKS, Algs: []jose.SignatureAlgorithm{jose.RS256}}, clientjwt.ErrAlgorithm},
		{"ES384, not in the allowlist", unsigned(map[string]any{"alg": "ES384", "kid": "ec"}, claimsFor(clientA, now), "c2ln"), client, clientjwt.ErrAlgorithm},
		{"tampered payload with the old signature", parts[0] + "." + other[1] + "." + parts[2], client, clientjwt.ErrSignature},
		{"signed by another key with the client's kid", attacker.sign(t, nil, claimsFor(clientA, now)), client, clientjwt.ErrSignature},
		{"JWE-wrapped", jweCompact, client, clientjwt.ErrMalformed},
		{"unknown crit", ec.sign(t, map[jose.HeaderKey]any{"crit": []string{"ATTACKER"}, "ATTACKER": true}, claimsFor(clientA, now)), client, clientjwt.ErrHeader},
		{"typ at+jwt (an access token)", ec.sign(t, map[jose.HeaderKey]any{"typ": "at+jwt"}, claimsFor(clientA, now)), client, clientjwt.ErrHeader},
		{"typ dpop+jwt", ec.sign(t, map[jose.HeaderKey]any{"typ": "dpop+jwt"}, claimsFor(clientA, now)), client, clientjwt.ErrHeader},
		{"typ not a string", ec.sign(t, map[jose.HeaderKey]any{"typ": 42}, claimsFor(clientA, now)), client, clientjwt.ErrHeader},
	}
	for _, tt := range tests {
		checkRefused(t, tt.name, v.Verify(context.Background(), tt.assertion, tt.client), tt.kind)
	}
}

// TestA14HeaderKeys: a key carried in the header, or a URL to fetch one
// from, refuses the assertion; the key comes from the registration only.
func TestA14HeaderKeys(t *testing.T) {
	clk := newClock()
	v := newVerifier(clk)
	k := newKey(t, jose.ES256, "k")
	attacker := newKey(t, jose.ES256, "k")
	client := clientjwt.Client{ID: clientA, JWKS: jwksOf(t, k)}
	embedded, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: attacker.Private}, (&jose.SignerOptions{EmbedJWK: true}))
	if err != nil {
		t.Fatal(err)
	}
	jws, _ := embedded.Sign([]byte(`{"iss":"client-a","sub":"client-a","aud":"` + issuer + `","exp":1800000060,"jti":"x"}`))
	withJWK, _ := jws.CompactSerialize()
	for name, raw := range map[string]string{
		"jwk":  withJWK,
		"jku":  attacker.sign(t, map[jose.HeaderKey]any{"jku": "https://ATTACKER.example/jwks"}, claimsFor(clientA, clk.Now())),
		"x5u":  attacker.sign(t, map[jose.HeaderKey]any{"x5u": "https://ATTACKER.example/cert"}, claimsFor(clientA, clk.Now())),
		"x5c":  unsigned(map[string]any{"alg": "ES256", "kid": "k", "x5c": []string{"MIIB"}}, claimsFor(clientA, clk.Now()), "c2ln"),
		"kid ": unsigned(map[string]any{"alg": "ES256", "kid": strings.Repeat("ATTACKER", 100)}, claimsFor(clientA, clk.Now()), "c2ln"),
	} {
		kind := clientjwt.ErrHeader
		checkRefused(t, name, v.Verify(context.Background(), raw, client), kind)
	}
}

// TestS213Typ: typ absent, JWT or client-authentication+jwt is accepted
// (S213: untyped assertions are not rejected).
func TestS213Typ(t *testing.T) {
	clk := newClock()
	v := newVerifier(clk)
	k := newKey(t, jose.ES256, "k")
	client := clientjwt.Client{ID: clientA, JWKS: jwksOf(t, k)}
	for _, typ := range []string{"", "JWT", "jwt", "client-authentication+jwt", "application/client-authentication+jwt"} {
		h := map[jose.HeaderKey]any{}
		if typ != "" {
			h["typ"] = typ
		}
		if err := v.Verify(context.Background(), k.sign(t, h, claimsFor(clientA, clk.Now())), client); err != nil {
			t.Errorf("typ %q: %v", typ, err)
		}
	}
}

// TestClaims checks the claims of RFC 7523 §3 and S212-S215 against a
// fixed clock, one change to valid claims at a time.
func TestClaims(t *testing.T) {
	clk := newClock()
	now := clk.Now()
	k := newKey(t, jose.ES256, "k")
	client := clientjwt.Client{ID: clientA, JWKS: jwksOf(t, k)}
	at := func(d time.Duration) int64 { return now.Add(d).Unix() }
	tests := []struct {
		name   string
		change map[string]any // nil value deletes the claim
		strict bool
		kind   error // nil: accepted
	}{
		{"valid", nil, false, nil},
		{"valid, strict", nil, true, nil},
		// Decision 3, S179: token and PAR endpoint URLs accepted unless strict (S212, S215).
		{"aud token endpoint", map[string]any{"aud": tokenURL}, false, nil},
		{"aud PAR endpoint", map[string]any{"aud": parURL}, false, nil},
		{"S212 aud token endpoint, strict", map[string]any{"aud": tokenURL}, true, clientjwt.ErrAudience},
		{"aud [issuer]", map[string]any{"aud": []string{issuer}}, false, nil},
		{"aud [token endpoint]", map[string]any{"aud": []string{tokenURL}}, false, nil},
		{"S212 aud [issuer], strict", map[string]any{"aud": []string{issuer}}, true, clientjwt.ErrAudience},
		{"aud [issuer, other]", map[string]any{"aud": []string{issuer, "https://ATTACKER.example"}}, false, clientjwt.ErrAudience},
		{"aud [issuer, token endpoint]", map[string]any{"aud": []string{issuer, tokenURL}}, false, clientjwt.ErrAudience},
		{"aud []", map[string]any{"aud": []string{}}, false, clientjwt.ErrAudience},
		{"aud another server", map[string]any{"aud": "https://ATTACKER.example"}, false, clientjwt.ErrAudience},
		{"aud issuer with a trailing slash", map[string]any{"aud": issuer + "/"}, false, clientjwt.ErrAudience},
		{"aud empty", map[string]any{"aud": ""}, false, clientjwt.ErrAudience},
		{"aud missing", map[string]any{"aud": nil}, false, clientjwt.ErrAudience},
		{"aud a number", map[string]any{"aud": 7}, false, clientjwt.ErrAudience},
		// S214: iss = sub = client_id.
		{"iss other", map[string]any{"iss": "ATTACKER"}, false, clientjwt.ErrSubject},
		{"sub other", map[string]any{"sub": "ATTACKER"}, false, clientjwt.ErrSubject},
		{"iss and sub another client", map[string]any{"iss": "client-b", "sub": "client-b"}, false, clientjwt.ErrSubject},
		{"sub missing", map[string]any{"sub": nil}, false, clientjwt.ErrSubject},
		{"iss a number", map[string]any{"iss": 7}, false, clientjwt.ErrMalformed},
		// S214: exp required, lifetime at most 5 min; skew 30 s.
		{"exp missing", map[string]any{"exp": nil}, false, clientjwt.ErrExpiry},
		{"exp past", map[string]any{"exp": at(-31 * time.Second)}, false, clientjwt.ErrExpiry},
		{"exp past within skew", map[string]any{"exp": at(-29 * time.Second), "iat": at(-time.Minute)}, false, nil},
		{"exp 5 min ahead", map[string]any{"exp": at(5 * time.Minute)}, false, nil},
		{"exp 6 min ahead", map[string]any{"exp": at(6 * time.Minute)}, false, clientjwt.ErrExpiry},
		{"exp a year ahead", map[string]any{"exp": at(365 * 24 * time.Hour)}, false, clientjwt.ErrExpiry},
		{"exp a string", map[string]any{"exp": "soon"}, false, clientjwt.ErrMalformed},
		{"nbf future", map[string]any{"nbf": at(time.Minute)}, false, clientjwt.ErrExpiry},
		{"nbf past", map[string]any{"nbf": at(-time.Minute)}, false, nil},
		{"iat future", map[string]any{"iat": at(time.Minute)}, false, clientjwt.ErrExpiry},
		{"iat 10 min ago", map[string]any{"iat": at(-10 * time.Minute)}, false, clientjwt.ErrExpiry},
		{"iat missing", map[string]any{"iat": nil}, false, nil},
		// S214: jti required.
		{"jti missing", map[string]any{"jti": nil}, false, clientjwt.ErrJTI},
		{"jti too long", map[string]any{"jti": strings.Repeat("ATTACKER", 40)}, false, clientjwt.ErrJTI},
	}
	for _, tt := range tests {
		v := newVerifier(clk)
		v.Strict = tt.strict
		c := claimsFor(clientA, now)
		maps.Copy(c, tt.change)
		for name, val := range tt.change {
			if val == nil {
				delete(c, name)
			}
		}
		err := v.Verify(context.Background(), k.sign(t, nil, c), client)
		if tt.kind == nil {
			if err != nil {
				t.Errorf("%s: %v", tt.name, err)
			}
			continue
		}
		checkRefused(t, tt.name, err, tt.kind)
	}
}

// TestS214Replay: a jti is single use (until exp) for its client; the
// same jti from another client is another assertion.
func TestS214Replay(t *testing.T) {
	clk := newClock()
	v := newVerifier(clk)
	a, b := newKey(t, jose.ES256, "a"), newKey(t, jose.ES256, "b")
	ca := clientjwt.Client{ID: clientA, JWKS: jwksOf(t, a)}
	cb := clientjwt.Client{ID: "client-b", JWKS: jwksOf(t, b)}
	claims := claimsFor(clientA, clk.Now())
	raw := a.sign(t, nil, claims)
	if err := v.Verify(context.Background(), raw, ca); err != nil {
		t.Fatal(err)
	}
	checkRefused(t, "replayed", v.Verify(context.Background(), raw, ca), clientjwt.ErrReplayed)
	resigned := a.sign(t, nil, claims) // same jti, new signature
	checkRefused(t, "same jti, new signature", v.Verify(context.Background(), resigned, ca), clientjwt.ErrReplayed)
	bClaims := claimsFor("client-b", clk.Now())
	bClaims["jti"] = claims["jti"]
	if err := v.Verify(context.Background(), b.sign(t, nil, bClaims), cb); err != nil {
		t.Errorf("client-b's own assertion with the same jti: %v", err)
	}
}

// TestWrongClient: an assertion of one client does not authenticate
// another, whether the keys or the claims give it away.
func TestWrongClient(t *testing.T) {
	clk := newClock()
	v := newVerifier(clk)
	a, b := newKey(t, jose.ES256, "k1"), newKey(t, jose.ES256, "k1")
	cb := clientjwt.Client{ID: "client-b", JWKS: jwksOf(t, b)}
	checkRefused(t, "A's assertion as B", v.Verify(context.Background(), a.sign(t, nil, claimsFor(clientA, clk.Now())), cb), clientjwt.ErrSignature)
	checkRefused(t, "B signs claims naming A", v.Verify(context.Background(), b.sign(t, nil, claimsFor(clientA, clk.Now())), cb), clientjwt.ErrSubject)
	other := newKey(t, jose.ES256, "k2")
	checkRefused(t, "unknown kid", v.Verify(context.Background(), other.sign(t, nil, claimsFor("client-b", clk.Now())), cb), clientjwt.ErrKeys)
}

// TestMalformed: size cap, shape, and garbage.
func TestMalformed(t *testing.T) {
	clk := newClock()
	v := newVerifier(clk)
	k := newKey(t, jose.ES256, "k")
	client := clientjwt.Client{ID: clientA, JWKS: jwksOf(t, k)}
	big := claimsFor(clientA, clk.Now())
	big["pad"] = strings.Repeat("ATTACKER", 2100)
	for name, raw := range map[string]string{
		"empty":       "",
		"one part":    "ATTACKER",
		"four parts":  "a.b.c.d",
		"bad base64":  "!!!.e30.c2ln",
		"header json": b64([]byte("[ATTACKER]")) + ".e30.c2ln",
		"over 16 KiB": k.sign(t, nil, big),
	} {
		checkRefused(t, name, v.Verify(context.Background(), raw, client), clientjwt.ErrMalformed)
	}
}

// TestConfiguration: a Verifier without its required parts, or allowing
// HMAC, fails as the server's error, not as invalid_client.
func TestConfiguration(t *testing.T) {
	clk := newClock()
	k := newKey(t, jose.ES256, "k")
	client := clientjwt.Client{ID: clientA, JWKS: jwksOf(t, k)}
	raw := k.sign(t, nil, claimsFor(clientA, clk.Now()))
	for name, change := range map[string]func(*clientjwt.Verifier){
		"no replay cache": func(v *clientjwt.Verifier) { v.Replay = nil },
		"no issuer":       func(v *clientjwt.Verifier) { v.Issuer = "" },
		"HS256 allowed":   func(v *clientjwt.Verifier) { v.Algs = []jose.SignatureAlgorithm{jose.ES256, jose.HS256} },
	} {
		v := newVerifier(clk)
		change(v)
		err := v.Verify(context.Background(), raw, client)
		var e *clientjwt.Error
		if err == nil || errors.As(err, &e) {
			t.Errorf("%s: %v, want a configuration error", name, err)
		}
	}
}

// TestUnsafeSubject: the client an assertion names, unverified (RFC
// 7521 §4.2: client_id may be omitted).
func TestUnsafeSubject(t *testing.T) {
	clk := newClock()
	k := newKey(t, jose.ES256, "k")
	c := claimsFor(clientA, clk.Now())
	noSub := claimsFor(clientA, clk.Now())
	delete(noSub, "sub")
	differ := claimsFor(clientA, clk.Now())
	differ["sub"] = "client-b"
	hs := signWith(t, jose.HS256, []byte(strings.Repeat("s", 32)), "", nil, c)
	for _, tt := range []struct {
		name, raw, want string
		ok              bool
	}{
		{"signed", k.sign(t, nil, c), clientA, true},
		{"HS256 (client_secret_jwt)", hs, clientA, true},
		{"iss only", k.sign(t, nil, noSub), clientA, true},
		{"iss and sub differ", k.sign(t, nil, differ), "", false},
		{"alg none", unsigned(map[string]any{"alg": "none"}, c, ""), "", false},
		{"garbage", "a.b.c", "", false},
		{"huge", k.sign(t, nil, map[string]any{"sub": strings.Repeat("x", 17000)}), "", false},
		{"long subject", k.sign(t, nil, map[string]any{"sub": strings.Repeat("x", 300)}), "", false},
	} {
		got, ok := clientjwt.UnsafeSubject(tt.raw)
		if got != tt.want || ok != tt.ok {
			t.Errorf("%s: %q, %v; want %q, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}
