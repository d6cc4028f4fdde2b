package server_test

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/token"
)

// pkFixture is a server with the private_key_jwt client "svc", which
// registers one key of each algorithm the server accepts.
type pkFixture struct {
	*fixture
	keys map[jose.SignatureAlgorithm]pkKey
}

func newPKFixture(t *testing.T, configure func(*server.Config)) pkFixture {
	t.Helper()
	f := newFixture(t, func(c *server.Config) {
		generous(c)
		if configure != nil {
			configure(c)
		}
	})
	keys := map[jose.SignatureAlgorithm]pkKey{}
	var all []pkKey
	for _, alg := range []jose.SignatureAlgorithm{jose.ES256, jose.PS256, jose.EdDSA, jose.RS256} {
		keys[alg] = newPKKey(t, alg, "key-"+string(alg))
		all = append(all, keys[alg])
	}
	pkClient(t, f.Env, "svc", all...)
	return pkFixture{fixture: f, keys: keys}
}

// valid is a valid assertion of svc signed ES256.
func (f pkFixture) valid(t *testing.T) string {
	t.Helper()
	return f.keys[jose.ES256].sign(t, pkClaims(f.Env, "svc"), nil)
}

// TestPrivateKeyJWTEndpoints: a valid assertion authenticates the client
// at every endpoint that authenticates clients (RFC 7523 §2.2, OIDC Core
// §9), PAR included (S179), with each algorithm the server accepts.
func TestPrivateKeyJWTEndpoints(t *testing.T) {
	f := newPKFixture(t, nil)
	var tokens []string
	for alg, k := range f.keys {
		t.Run(string(alg), func(t *testing.T) {
			a := k.sign(t, pkClaims(f.Env, "svc"), nil)
			tok := wantToken(t, post(t, f.Env, "/token", ccWithAssertion(a)))
			tokens = append(tokens, tok["access_token"].(string))
			wantNotLogged(t, f.Env, a)
		})
	}
	if len(tokens) == 0 {
		t.Fatal("no token issued")
	}
	t.Run("introspect", func(t *testing.T) {
		r := post(t, f.Env, "/introspect", pkAssertion(formOf("token", tokens[0]), f.valid(t)))
		if r.Status != http.StatusOK || r.JSON(t)["active"] != true || r.JSON(t)["client_id"] != "svc" {
			t.Errorf("introspection = %d %s, want active for svc", r.Status, r.Body)
		}
	})
	t.Run("revoke", func(t *testing.T) {
		r := post(t, f.Env, "/revoke", pkAssertion(formOf("token", tokens[0]), f.valid(t)))
		if r.Status != http.StatusOK {
			t.Fatalf("revoke = %d %s, want 200", r.Status, r.Body)
		}
		r = post(t, f.Env, "/introspect", pkAssertion(formOf("token", tokens[0]), f.valid(t)))
		wantInactive(t, r.JSON(t))
	})
	t.Run("par", func(t *testing.T) {
		k := newPKKey(t, jose.ES256, "web-key")
		f.AddClient(t, store.Client{ID: "web", TokenEndpointAuthMethod: "private_key_jwt", JWKS: pkJWKS(t, k),
			GrantTypes: []string{"authorization_code"}, RedirectURIs: []string{"https://web.example/cb"}, Scopes: []string{"read"}})
		sum := sha256.Sum256([]byte(rand.Text() + rand.Text()))
		form := formOf("response_type", "code", "client_id", "web", "redirect_uri", "https://web.example/cb",
			"scope", "read", "state", "s1", "code_challenge", base64.RawURLEncoding.EncodeToString(sum[:]),
			"code_challenge_method", "S256")
		for _, aud := range []string{f.URL, f.URL + "/par"} { // decision 3, S179
			r := post(t, f.Env, "/par", pkAssertion(form, k.sign(t, pkWith(pkClaims(f.Env, "web"), "aud", aud), nil)))
			if r.Status != http.StatusCreated || !strings.HasPrefix(r.str(t, "request_uri"), "urn:ietf:params:oauth:request_uri:") {
				t.Errorf("aud %s: PAR = %d %s, want 201 with a request_uri (S181)", aud, r.Status, r.Body)
			}
		}
	})
}

// TestPrivateKeyJWTClientID: client_id may be left out beside an
// assertion (RFC 7521 §4.2), but one that differs from the assertion's sub
// fails, even for a client registering the same key (S214).
func TestPrivateKeyJWTClientID(t *testing.T) {
	f := newPKFixture(t, nil)
	pkClient(t, f.Env, "svc2", f.keys[jose.ES256])

	wantToken(t, post(t, f.Env, "/token", ccWithAssertion(f.valid(t))))

	form := ccWithAssertion(f.valid(t))
	form.Set("client_id", "svc")
	wantToken(t, post(t, f.Env, "/token", form))

	form = ccWithAssertion(f.valid(t))
	form.Set("client_id", "svc2")
	wantOAuthError(t, post(t, f.Env, "/token", form), http.StatusUnauthorized, "invalid_client")
}

// TestAssertionA13AlgorithmConfusion: the key and its algorithm come from
// the client's registration, never from the assertion's header (A13, A14,
// RFC 8725 §3.1): every forgery is 401 invalid_client with the one Basic
// challenge, and no assertion reaches the log.
func TestAssertionA13AlgorithmConfusion(t *testing.T) {
	f := newPKFixture(t, nil)
	rsaKey := f.keys[jose.RS256]
	attacker := newPKKey(t, jose.ES256, "key-ES256")
	der, err := x509.MarshalPKIXPublicKey(rsaKey.Private.Public())
	if err != nil {
		t.Fatal(err)
	}
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	jwkBytes, err := json.Marshal(rsaKey.Public)
	if err != nil {
		t.Fatal(err)
	}
	valid := f.valid(t)
	parts := strings.Split(valid, ".")
	tampered, _ := json.Marshal(pkWith(pkClaims(f.Env, "svc"), "exp", f.Clock.Now().Add(4*time.Minute).Unix()))

	cases := []struct{ name, assertion, reason string }{
		{"alg none", pkUnsigned(map[string]any{"alg": "none", "kid": "key-ES256"}, pkClaims(f.Env, "svc"), ""), "alg is not accepted"},
		{"alg none, typ JWT", pkUnsigned(map[string]any{"alg": "none", "typ": "JWT"}, pkClaims(f.Env, "svc"), ""), "alg is not accepted"},
		{"HS256 with the RSA public key's PEM", pkSignWith(t, jose.HS256, pemBytes, "key-RS256", pkClaims(f.Env, "svc"), nil), "alg is not accepted"},
		{"HS256 with the RSA public key's JWK JSON", pkSignWith(t, jose.HS256, jwkBytes, "key-RS256", pkClaims(f.Env, "svc"), nil), "alg is not accepted"},
		{"HS256 without kid", pkSignWith(t, jose.HS256, pemBytes, "", pkClaims(f.Env, "svc"), nil), "alg is not accepted"},
		{"embedded jwk of the signer", pkSignWith(t, jose.ES256, attacker.Private, "key-ES256", pkClaims(f.Env, "svc"),
			map[jose.HeaderKey]any{"jwk": attacker.Public.Public()}), "must not carry jwk, jku"},
		{"jku", f.keys[jose.ES256].sign(t, pkClaims(f.Env, "svc"), map[jose.HeaderKey]any{"jku": "https://attacker.example/jwks"}), "must not carry jwk, jku"},
		{"x5u", f.keys[jose.ES256].sign(t, pkClaims(f.Env, "svc"), map[jose.HeaderKey]any{"x5u": "https://attacker.example/cert"}), "must not carry jwk, jku"},
		{"tampered payload", parts[0] + "." + pkB64(tampered) + "." + parts[2], "signature does not verify"},
		{"RSA key's kid with an ES256 header", pkSignWith(t, jose.ES256, attacker.Private, "key-RS256", pkClaims(f.Env, "svc"), nil), "does not suit the registered key"},
		{"signed by an unregistered key", attacker.sign(t, pkClaims(f.Env, "svc"), nil), "signature does not verify"},
		{"not a JWS", "not-a-jwt", "not a compact JWS"},
	}
	var sent []string
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sent = append(sent, c.assertion)
			// client_id is sent, so that what UnsafeSubject cannot read
			// still reaches the verifier.
			form := ccWithAssertion(c.assertion)
			form.Set("client_id", "svc")
			wantOAuthError(t, post(t, f.Env, "/token", form), http.StatusUnauthorized, "invalid_client")
			if c.reason != "" {
				wantRefusedFor(t, f.Env, c.reason)
			}
			// and without it, the answer is the same
			wantOAuthError(t, post(t, f.Env, "/token", ccWithAssertion(c.assertion)), http.StatusUnauthorized, "invalid_client")
		})
	}
	// The untampered assertion was never sent, so it still works: the
	// refusals above are the forgeries', not a spent jti's.
	wantToken(t, post(t, f.Env, "/token", ccWithAssertion(valid)))
	wantNotLogged(t, f.Env, append(sent, valid)...)
}

// TestAssertionClaims: iss = sub = client_id, exp required and at most
// five minutes ahead, jti required and single use (S214, RFC 7523 §3).
func TestAssertionClaims(t *testing.T) {
	f := newPKFixture(t, nil)
	k := f.keys[jose.ES256]
	now := f.Clock.Now()
	cases := []struct {
		name   string
		claims map[string]any
		reason string
	}{
		{"iss differs from sub", pkWith(pkClaims(f.Env, "svc"), "iss", "other"), "iss and sub"},
		{"sub differs from iss", pkWith(pkClaims(f.Env, "svc"), "sub", "other"), "iss and sub"},
		{"exp missing", pkWith(pkClaims(f.Env, "svc"), "exp", nil), "no exp"},
		{"exp 10 min ahead", pkWith(pkClaims(f.Env, "svc"), "exp", now.Add(10*time.Minute).Unix()), "ahead"},
		{"expired", pkWith(pkWith(pkClaims(f.Env, "svc"), "exp", now.Add(-2*time.Minute).Unix()), "iat", now.Add(-3*time.Minute).Unix()), "expired"},
		{"jti missing", pkWith(pkClaims(f.Env, "svc"), "jti", nil), "no jti"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			form := ccWithAssertion(k.sign(t, c.claims, nil))
			form.Set("client_id", "svc")
			wantOAuthError(t, post(t, f.Env, "/token", form), http.StatusUnauthorized, "invalid_client")
			wantRefusedFor(t, f.Env, c.reason)
		})
	}
	t.Run("replayed", func(t *testing.T) {
		a := f.valid(t)
		wantToken(t, post(t, f.Env, "/token", ccWithAssertion(a)))
		wantOAuthError(t, post(t, f.Env, "/token", ccWithAssertion(a)), http.StatusUnauthorized, "invalid_client")
		wantRefusedFor(t, f.Env, "used before")
		// nor at another endpoint: the jti is spent everywhere
		wantOAuthError(t, post(t, f.Env, "/introspect", pkAssertion(formOf("token", "x"), a)), http.StatusUnauthorized, "invalid_client")
	})
}

// TestAssertionAudience: aud is the issuer as one string, or by default
// the endpoint's URL (STANDARDS §0 decision 3); StrictAudience accepts the
// issuer alone (S212, S215); an array of two members, or another server,
// is refused either way.
func TestAssertionAudience(t *testing.T) {
	for _, strict := range []bool{false, true} {
		t.Run(fmt.Sprintf("strict=%v", strict), func(t *testing.T) {
			f := newPKFixture(t, func(c *server.Config) { c.ClientAssertions.StrictAudience = strict })
			cases := []struct {
				name string
				aud  any
				ok   bool
			}{
				{"issuer", f.URL, true},
				{"token endpoint", f.URL + "/token", !strict},
				{"issuer and another", []string{f.URL, "https://other.example"}, false},
				{"issuer twice", []string{f.URL, f.URL}, false},
				{"another server", "https://other.example", false},
				{"another server's token endpoint", "https://other.example/token", false},
				{"issuer with a trailing slash", f.URL + "/", false},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					r := post(t, f.Env, "/token", ccWithAssertion(f.keys[jose.PS256].sign(t, pkWith(pkClaims(f.Env, "svc"), "aud", c.aud), nil)))
					if c.ok {
						wantToken(t, r)
					} else {
						wantOAuthError(t, r, http.StatusUnauthorized, "invalid_client")
					}
				})
			}
		})
	}
}

// TestPrivateKeyJWTMethodBinding: a client authenticates only the way it
// registered (S002, RFC 7591 §2): a private_key_jwt client's secret is
// refused, even a stored one, and so is an assertion from a secret client,
// even one with keys on record.
func TestPrivateKeyJWTMethodBinding(t *testing.T) {
	f := newPKFixture(t, nil)
	k := f.keys[jose.ES256]
	secret, _, err := token.New(token.PrefixClientSecret, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := f.Clock.Now()
	if err := f.Store.CreateClient(t.Context(), store.Client{ID: "legacy", Name: "legacy", SecretHash: token.HashSecret(secret),
		TokenEndpointAuthMethod: "private_key_jwt", JWKS: pkJWKS(t, k), GrantTypes: []string{"client_credentials"},
		Source: "cli", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	cc := formOf("grant_type", "client_credentials")
	wantOAuthError(t, post(t, f.Env, "/token", cc, basic("legacy", secret)), http.StatusUnauthorized, "invalid_client")
	wantOAuthError(t, post(t, f.Env, "/token", creds("legacy", secret, formOf("grant_type", "client_credentials"))),
		http.StatusUnauthorized, "invalid_client")
	wantOAuthError(t, post(t, f.Env, "/token", cc, basic("svc", "lk_cs_guess")), http.StatusUnauthorized, "invalid_client")
	wantToken(t, post(t, f.Env, "/token", ccWithAssertion(k.sign(t, pkClaims(f.Env, "legacy"), nil))))

	secretClient := f.AddClient(t, store.Client{ID: "sec", GrantTypes: []string{"client_credentials"}, JWKS: pkJWKS(t, k)})
	wantOAuthError(t, post(t, f.Env, "/token", ccWithAssertion(k.sign(t, pkClaims(f.Env, "sec"), nil))),
		http.StatusUnauthorized, "invalid_client")
	wantToken(t, post(t, f.Env, "/token", cc, basic("sec", secretClient)))
	// Both at once is two methods (STANDARDS §0 decision 2).
	wantOAuthError(t, post(t, f.Env, "/token", ccWithAssertion(k.sign(t, pkClaims(f.Env, "sec"), nil)), basic("sec", secretClient)),
		http.StatusBadRequest, "invalid_request")
}

// TestAssertionGuessingLimits: failed assertions count against the
// client's guessing limit like wrong secrets (S005, A11): past it, even a
// valid assertion is throttled with Retry-After until the delay passes.
// Neither the failures nor their log lines hold an assertion.
func TestAssertionGuessingLimits(t *testing.T) {
	f := newGuessingFixture(t, 1000, 3, 1000)
	k := newPKKey(t, jose.EdDSA, "k1")
	forger := newPKKey(t, jose.EdDSA, "k1")
	pkClient(t, f.Env, "svc", k)
	var sent []string
	for i := range 3 {
		a := forger.sign(t, pkClaims(f.Env, "svc"), nil)
		sent = append(sent, a)
		r := post(t, f.Env, "/token", ccWithAssertion(a))
		wantOAuthError(t, r, http.StatusUnauthorized, "invalid_client")
		if r.Header.Get("Retry-After") != "" {
			t.Errorf("attempt %d under the limit carries Retry-After", i)
		}
	}
	good := k.sign(t, pkClaims(f.Env, "svc"), nil)
	wantThrottled(t, post(t, f.Env, "/token", ccWithAssertion(good)), "invalid_client")
	f.Clock.Advance(61 * time.Second)
	later := k.sign(t, pkClaims(f.Env, "svc"), nil)
	wantToken(t, post(t, f.Env, "/token", ccWithAssertion(later)))
	wantNotLogged(t, f.Env, append(sent, good, later)...)
	if !strings.Contains(f.Logs.String(), "client assertion refused") {
		t.Error("a refused assertion left no log line for the operator")
	}
}
