package server_test

import (
	"crypto/x509"
	"encoding/pem"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey/internal/clientjwt"
	"github.com/latchkey/latchkey/internal/protocol"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/store"
)

// TestJWTBearerRefusesBadAssertions: each assertion differs from a valid
// service account token in one way and is answered 400 invalid_grant
// (RFC 7523 §3.1), with the reason in the log, nothing stored, and
// neither the assertion nor its signature logged (S128).
func TestJWTBearerRefusesBadAssertions(t *testing.T) {
	w := newBearerWorld(t, nil)
	attacker := newPKKey(t, jose.RS256, "sa-1") // the issuer's kid, not its key
	der, err := x509.MarshalPKIXPublicKey(w.k8sKey.Public.Key)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	pubJWK, _ := w.k8sKey.Public.MarshalJSON()
	jku := newJWKSHost(t, pkJWKS(t, attacker), false, nil)
	now := w.Clock.Now()
	c := saClaims(w.Env)
	cases := []struct {
		name, assertion, reason string
	}{
		// A13: alg none, and HMAC keyed with the issuer's public key.
		{"alg none (A13)", pkUnsigned(map[string]any{"alg": "none", "kid": "sa-1"}, c, ""), "alg"},
		{"HS256 keyed with the public key PEM (A13)", pkSignWith(t, jose.HS256, pubPEM, "sa-1", c, nil), "alg"},
		{"HS256 keyed with the public JWK (A13)", pkSignWith(t, jose.HS256, pubJWK, "sa-1", c, nil), "alg"},
		{"signed by another key", attacker.sign(t, c, nil), "signature"},
		// A14: the header may not bring its key or a place to fetch one.
		{"jku to the attacker (A14)", attacker.sign(t, c, map[jose.HeaderKey]any{"jku": jku.URL + "/jwks"}), "header"},
		{"embedded jwk (A14)", attacker.sign(t, c, map[jose.HeaderKey]any{"jwk": attacker.Public}), "header"},
		{"unknown kid", pkSignWith(t, jose.RS256, w.k8sKey.Private, "sa-9", c, nil), "kid"},
		// A18: a token for someone else.
		{"wrong aud (A18)", w.k8sKey.sign(t, pkWith(c, "aud", "https://vault.example.com"), nil), "aud"},
		{"no aud", w.k8sKey.sign(t, pkWith(c, "aud", nil), nil), "aud"},
		{"untrusted issuer", attacker.sign(t, pkWith(c, "iss", "https://evil.example"), nil), "trusted issuer"},
		{"iss of another trusted issuer", w.k8sKey.sign(t, pkWith(c, "iss", ghIss), nil), "kid"},
		{"expired", w.k8sKey.sign(t, pkWith(pkWith(c, "exp", now.Add(-time.Minute).Unix()), "iat", now.Add(-time.Hour).Unix()), nil), "expired"},
		{"no exp", w.k8sKey.sign(t, pkWith(c, "exp", nil), nil), "exp"},
		{"nbf in the future", w.k8sKey.sign(t, pkWith(c, "nbf", now.Add(10*time.Minute).Unix()), nil), "nbf"},
		{"iat too old", w.k8sKey.sign(t, pkWith(pkWith(c, "iat", now.Add(-3*time.Hour).Unix()), "exp", now.Add(time.Minute).Unix()), nil), "iat"},
		{"lives longer than max_token_age", w.k8sKey.sign(t, pkWith(c, "exp", now.Add(48*time.Hour).Unix()), nil), "max_token_age"},
		{"no sub", w.k8sKey.sign(t, pkWith(c, "sub", nil), nil), "subject"},
		{"no jti", w.k8sKey.sign(t, pkWith(c, "jti", nil), nil), "jti"},
		{"oversized (A15)", w.k8sKey.sign(t, pkWith(c, "pad", strings.Repeat("a", clientjwt.MaxAssertionBytes)), nil), "16 KiB"},
		{"not a JWT", "lk_at_notajwt", "trusted issuer"},
		{"encrypted", "a.b.c.d.e", "trusted issuer"},
	}
	before := w.countRows(t)
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			r := w.exchange(t, tt.assertion)
			wantOAuthError(t, r, http.StatusBadRequest, "invalid_grant")
			wantTrustRefusedFor(t, w.Env, tt.reason)
			if d := r.str(t, "error_description"); strings.Contains(d, "evil") || strings.Contains(d, "vault") {
				t.Errorf("the description repeats the assertion: %q", d)
			}
		})
	}
	if after := w.countRows(t); after["access_tokens"] != before["access_tokens"] || after["grants"] != before["grants"] {
		t.Errorf("rows before %v, after %v: a refused assertion stored something", before, after)
	}
	if n := jku.requests.Load() + jku.conns.Load(); n != 0 {
		t.Errorf("the jku host was contacted %d times (A14)", n)
	}
	wantNotLogged(t, w.Env, cases[3].assertion, cases[7].assertion)
}

// TestJWTBearerRequestErrors: what is wrong with the request rather
// than the assertion gets its own code: invalid_request for a missing or
// repeated assertion, invalid_scope for a scope beyond the issuer's or
// the client's, invalid_target for a resource the client may not name,
// unauthorized_client for a client without the grant, invalid_grant for
// a client the issuer does not list, invalid_client for bad credentials.
func TestJWTBearerRequestErrors(t *testing.T) {
	w := newBearerWorld(t, nil)
	sa := func() string { return w.k8sKey.sign(t, saClaims(w.Env), nil) }

	wantOAuthError(t, post(t, w.Env, "/token", formOf("grant_type", protocol.GrantJWTBearer), basic("deployer", w.secret)),
		http.StatusBadRequest, "invalid_request")
	two := formOf("grant_type", protocol.GrantJWTBearer, "assertion", sa(), "assertion", sa())
	wantOAuthError(t, post(t, w.Env, "/token", two, basic("deployer", w.secret)), http.StatusBadRequest, "invalid_request")

	// The client has admin; the issuer does not give it.
	wantOAuthError(t, w.exchange(t, sa(), "scope", "payments.read admin"), http.StatusBadRequest, "invalid_scope")
	wantOAuthError(t, w.exchange(t, sa(), "scope", "nobody-has-this"), http.StatusBadRequest, "invalid_scope")
	body := wantToken(t, w.exchange(t, sa(), "scope", "payments.read"))
	if body["scope"] != "payments.read" {
		t.Errorf("scope = %v, want payments.read", body["scope"])
	}

	// Resource indicators as for client credentials (RFC 8707).
	wantOAuthError(t, w.exchange(t, sa(), "resource", "https://other.example.com"), http.StatusBadRequest, "invalid_target")
	body = wantToken(t, w.exchange(t, sa(), "resource", "https://payments.example.com"))
	if _, claims := azJWT(t, body["access_token"].(string)); !strings.Contains(strings.Join(anyStrings(claims["aud"]), " "), "https://payments.example.com") {
		t.Errorf("aud = %v, want the resource", claims["aud"])
	}

	// A client the issuer does not list, and one without the grant.
	intruder := w.AddClient(t, bearerClient("intruder"))
	wantOAuthError(t, post(t, w.Env, "/token", bearerForm(sa()), basic("intruder", intruder)), http.StatusBadRequest, "invalid_grant")
	wantTrustRefusedFor(t, w.Env, "allowed_clients")
	cc := w.AddClient(t, store.Client{ID: "cc", GrantTypes: []string{"client_credentials"}, Scopes: []string{"payments.read"}})
	wantOAuthError(t, post(t, w.Env, "/token", bearerForm(sa()), basic("cc", cc)), http.StatusBadRequest, "unauthorized_client")
	// A public client cannot use the grant, even if listed (S027).
	w.AddClient(t, store.Client{ID: "spa", Public: true, GrantTypes: []string{protocol.GrantJWTBearer}})
	wantOAuthError(t, post(t, w.Env, "/token", creds("spa", "", bearerForm(sa()))), http.StatusBadRequest, "unauthorized_client")
	wantOAuthError(t, post(t, w.Env, "/token", bearerForm(sa()), basic("deployer", "wrong")), http.StatusUnauthorized, "invalid_client")
}

func anyStrings(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			s, _ := e.(string)
			out = append(out, s)
		}
		return out
	}
	return nil
}

// TestJWTBearerReplay: a jti is accepted once (the store remembers it
// until exp, for every instance): the second use is invalid_grant. An
// issuer configured with allow_token_reuse (Kubernetes tokens are
// presented until kubelet rotates them) accepts the same token again.
func TestJWTBearerReplay(t *testing.T) {
	w := newBearerWorld(t, nil)
	sa := w.k8sKey.sign(t, saClaims(w.Env), nil)
	wantToken(t, w.exchange(t, sa))
	wantOAuthError(t, w.exchange(t, sa), http.StatusBadRequest, "invalid_grant")
	wantTrustRefusedFor(t, w.Env, "used before")

	reuse := newBearerWorld(t, func(ti []server.TrustedIssuer) { ti[0].AllowTokenReuse = true })
	tok := reuse.k8sKey.sign(t, pkWith(saClaims(reuse.Env), "jti", nil), nil)
	first := wantToken(t, reuse.exchange(t, tok))
	second := wantToken(t, reuse.exchange(t, tok))
	if first["access_token"] == second["access_token"] {
		t.Error("two exchanges gave the same access token")
	}
}

// TestJWTBearerKeyRotation: the issuer's jwks_uri is fetched once and
// cached; a flood of unknown kids fetches nothing more (A14: at most one
// rate-limited refresh); once the refetch interval has passed, a token of
// the issuer's new key makes one fetch and is accepted.
func TestJWTBearerKeyRotation(t *testing.T) {
	w := newBearerWorld(t, nil)
	wantToken(t, w.exchange(t, w.k8sKey.sign(t, saClaims(w.Env), nil)))
	wantToken(t, w.exchange(t, w.k8sKey.sign(t, saClaims(w.Env), nil)))
	if n := w.host.requests.Load(); n != 1 {
		t.Fatalf("jwks_uri fetched %d times for two tokens, want 1", n)
	}
	next := newPKKey(t, jose.ES256, "sa-2")
	rotated := pkJWKS(t, w.k8sKey, next)
	w.host.body.Store(&rotated)
	for i := range 25 {
		kid := "flood-" + string(rune('a'+i))
		r := w.exchange(t, pkSignWith(t, jose.RS256, w.k8sKey.Private, kid, saClaims(w.Env), nil))
		wantOAuthError(t, r, http.StatusBadRequest, "invalid_grant")
	}
	if n := w.host.requests.Load(); n != 1 {
		t.Errorf("25 unknown kids made %d fetches in all, want 1 (rate-limited refresh)", n)
	}
	w.Clock.Advance(clientjwt.DefaultMinRefetch + time.Second)
	wantToken(t, w.exchange(t, next.sign(t, saClaims(w.Env), nil)))
	if n := w.host.requests.Load(); n != 2 {
		t.Errorf("jwks_uri fetched %d times, want 2 after the rotation", n)
	}
}

// TestJWTBearerSSRF: with the production fetch policy, a trusted issuer
// whose jwks_uri points at the machine itself, a private address or the
// cloud metadata service is answered invalid_grant, never a 500, at
// once, and the loopback listener receives nothing (A25).
func TestJWTBearerSSRF(t *testing.T) {
	k := newPKKey(t, jose.ES256, "k1")
	listener := newJWKSHost(t, pkJWKS(t, k), false, nil)
	_, port, _ := net.SplitHostPort(listener.Listener.Addr().String())
	uris := map[string]string{
		"loopback":       listener.URL + "/jwks",
		"localhost":      "https://localhost:" + port + "/jwks",
		"private":        "https://10.0.0.1/jwks",
		"metadata":       "https://169.254.169.254/latest/meta-data/jwks",
		"metadata-http":  "http://169.254.169.254/jwks",
		"ipv6-loopback":  "https://[::1]:" + port + "/jwks",
		"mapped-private": "https://[::ffff:10.0.0.1]/jwks",
	}
	var issuers []server.TrustedIssuer
	for name, uri := range uris {
		issuers = append(issuers, server.TrustedIssuer{Name: name, Issuer: "https://" + name + ".example", JWKSURI: uri,
			AllowedClients: []string{"deployer"}})
	}
	f := newFixture(t, func(c *server.Config) { generous(c); c.TrustedIssuers = issuers })
	secret := f.AddClient(t, bearerClient("deployer"))
	for name := range uris {
		t.Run(name, func(t *testing.T) {
			claims := pkWith(saClaims(f.Env), "iss", "https://"+name+".example")
			start := time.Now()
			r := post(t, f.Env, "/token", bearerForm(k.sign(t, claims, nil)), basic("deployer", secret))
			wantOAuthError(t, r, http.StatusBadRequest, "invalid_grant")
			if d := r.str(t, "error_description"); strings.Contains(d, "10.0.0.1") || strings.Contains(d, "169.254") {
				t.Errorf("the description names the address: %q", d)
			}
			wantTrustRefusedFor(t, f.Env, "not allowed")
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("refusing took %v: the URL was dialled, not refused by policy", d)
			}
		})
	}
	if c, r := listener.conns.Load(), listener.requests.Load(); c != 0 || r != 0 {
		t.Errorf("the loopback listener received %d connections and %d requests, want none (A25)", c, r)
	}
}

// TestJWTBearerDPoP: a DPoP proof binds the issued token as for client
// credentials (RFC 9449 §5): token_type DPoP and cnf.jkt.
func TestJWTBearerDPoP(t *testing.T) {
	w := newBearerWorld(t, nil)
	p := newProver(t, w.Clock)
	r := post(t, w.Env, "/token", bearerForm(w.k8sKey.sign(t, saClaims(w.Env), nil)), basic("deployer", w.secret),
		header("DPoP", proof(t, p, w.Env, "POST", "/token", "", "")))
	body := wantBound(t, r, p.Thumbprint())
	if _, claims := azJWT(t, body["access_token"].(string)); claims["sub"] != "k8s:"+k8sSA {
		t.Errorf("sub = %v", claims["sub"])
	}
}

// TestJWTBearerConcurrentReplay: the same single-use token sent by many
// requests at once is exchanged exactly once; the others are
// invalid_grant (the store's UseOnce has one winner).
func TestJWTBearerConcurrentReplay(t *testing.T) {
	w := newBearerWorld(t, nil)
	job := w.ghKey.sign(t, ghClaims(w.Env), nil)
	const n = 12
	results := make(chan result, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() { results <- w.exchange(t, job) })
	}
	wg.Wait()
	close(results)
	ok := 0
	for r := range results {
		switch {
		case r.Status == http.StatusOK:
			ok++
		case r.Status != http.StatusBadRequest || r.str(t, "error") != "invalid_grant":
			t.Errorf("status %d %s, want 200 once and invalid_grant otherwise", r.Status, r.Body)
		}
	}
	if ok != 1 {
		t.Errorf("%d of %d concurrent exchanges of one token succeeded, want exactly 1", ok, n)
	}
}
