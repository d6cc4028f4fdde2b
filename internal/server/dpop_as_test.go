package server_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey/dpop"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/testenv"
	"github.com/latchkey/latchkey/internal/testkit/jwstest"
)

// DPoP at the authorization server (RFC 9449 §5, §7, §8, §10): the token
// endpoint, /userinfo and the code and refresh bindings. The proofs are
// made with the public dpop package (what clients of Latchkey use) or, for
// the attacks, crafted by hand with go-jose.

// newProver returns a prover with a fresh P-256 key on the server's clock.
func newProver(t testing.TB, clock *testenv.Clock) *dpop.Prover {
	t.Helper()
	key, err := dpop.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	p, err := dpop.NewProver(key)
	if err != nil {
		t.Fatal(err)
	}
	p.Now = clock.Now
	return p
}

// proof makes a proof of p for method and the issuer's path.
func proof(t testing.TB, p *dpop.Prover, env *testenv.Env, method, path, accessToken, nonce string) string {
	t.Helper()
	v, err := p.Proof(method, env.URL+path, accessToken, nonce)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// crafted is a hand-made proof: claims and header members as given, signed
// by key with alg (or HS256 with secret when key is nil).
type crafted struct {
	key    crypto.Signer
	alg    jose.SignatureAlgorithm
	secret []byte
	typ    string
	jwk    any // the jwk header member; nil embeds the public key of key
	claims map[string]any
}

func (c crafted) sign(t testing.TB) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType(jose.ContentType(c.typ))
	var sk jose.SigningKey
	switch {
	case c.key != nil:
		sk = jose.SigningKey{Algorithm: c.alg, Key: c.key}
		jwk := c.jwk
		if jwk == nil {
			jwk = jose.JSONWebKey{Key: c.key.Public()}
		}
		opts = opts.WithHeader("jwk", jwk)
	default:
		sk = jose.SigningKey{Algorithm: jose.HS256, Key: c.secret}
		opts = opts.WithHeader("jwk", c.jwk)
	}
	s, err := jose.NewSigner(sk, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(c.claims)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// proofClaims are valid claims for a POST to url now.
func proofClaims(url string, now time.Time) map[string]any {
	return map[string]any{"jti": rand.Text(), "htm": "POST", "htu": url, "iat": now.Unix()}
}

func ecKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// dpopFixture has the confidential client "svc" (client credentials) and
// the public client "spa" and confidential "web" (code and refresh), and
// the user alice.
type dpopFixture struct {
	*fixture
	svc, web string // secrets
	alice    store.User
}

func newDPoPFixture(t *testing.T, configure func(*server.Config), clients ...store.Client) dpopFixture {
	t.Helper()
	f := newFixture(t, func(c *server.Config) {
		generous(c)
		if configure != nil {
			configure(c)
		}
	})
	d := dpopFixture{fixture: f, alice: f.AddUser(t, "alice", "wonderland", nil)}
	d.svc = f.AddClient(t, store.Client{ID: "svc", GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}})
	d.web = f.AddClient(t, store.Client{ID: "web", GrantTypes: []string{"authorization_code", "refresh_token"},
		Scopes: []string{"openid", "read"}, RedirectURIs: []string{codeRedirect}})
	f.AddClient(t, store.Client{ID: "spa", Public: true, GrantTypes: []string{"authorization_code", "refresh_token"},
		Scopes: []string{"openid", "read"}, RedirectURIs: []string{codeRedirect}})
	for _, c := range clients {
		f.AddClient(t, c)
	}
	return d
}

// clientToken asks for a client credentials token as svc with the DPoP
// headers given (none, one or several).
func (d dpopFixture) clientToken(t *testing.T, proofs ...string) result {
	t.Helper()
	opts := []reqOpt{basic("svc", d.svc)}
	for _, p := range proofs {
		opts = append(opts, func(r *http.Request) { r.Header.Add("DPoP", p) })
	}
	return post(t, d.Env, "/token", formOf("grant_type", "client_credentials"), opts...)
}

// wantBound checks a token response bound to jkt: token_type DPoP (S163)
// and, for a JWT, cnf.jkt (S166). It returns the body.
func wantBound(t *testing.T, r result, jkt string) map[string]any {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("status %d, want 200: %s", r.Status, r.Body)
	}
	body := r.JSON(t)
	if body["token_type"] != "DPoP" {
		t.Errorf("token_type = %v, want DPoP (S163)", body["token_type"])
	}
	if at, _ := body["access_token"].(string); strings.Count(at, ".") == 2 {
		_, claims := azJWT(t, at)
		cnf, _ := claims["cnf"].(map[string]any)
		if cnf["jkt"] != jkt {
			t.Errorf("cnf = %v, want jkt %s (S166)", claims["cnf"], jkt)
		}
	}
	return body
}

// TestDPoPBindsTheAccessToken: a valid proof gets a DPoP token whose cnf.jkt
// is the key's thumbprint, for JWT and opaque tokens alike, and
// introspection says so (S163, S166); no proof gets a Bearer token as
// before.
func TestDPoPBindsTheAccessToken(t *testing.T) {
	d := newDPoPFixture(t, nil)
	p := newProver(t, d.Clock)
	body := wantBound(t, d.clientToken(t, proof(t, p, d.Env, "POST", "/token", "", "")), p.Thumbprint())
	got := introspect(t, d.Env, "svc", d.svc, body["access_token"].(string))
	if cnf, _ := got["cnf"].(map[string]any); cnf["jkt"] != p.Thumbprint() || got["token_type"] != "DPoP" {
		t.Errorf("introspection = %v, want cnf.jkt %s and token_type DPoP (S166)", got, p.Thumbprint())
	}

	if b := wantToken(t, d.clientToken(t)); b["token_type"] != "Bearer" {
		t.Errorf("without a proof: token_type %v", b["token_type"])
	}

	// Opaque: the binding is stored and introspection returns it.
	refSecret := d.AddClient(t, store.Client{ID: "ref2", GrantTypes: []string{"client_credentials"},
		Scopes: []string{"read"}, AccessTokenFormat: "opaque", Introspection: true})
	r := post(t, d.Env, "/token", formOf("grant_type", "client_credentials"), basic("ref2", refSecret),
		header("DPoP", proof(t, p, d.Env, "POST", "/token", "", "")))
	body = wantBound(t, r, p.Thumbprint())
	got = introspect(t, d.Env, "ref2", refSecret, body["access_token"].(string))
	if cnf, _ := got["cnf"].(map[string]any); cnf["jkt"] != p.Thumbprint() || got["token_type"] != "DPoP" {
		t.Errorf("opaque introspection = %v, want cnf.jkt %s (S166)", got, p.Thumbprint())
	}
}

// TestDPoPProofRefusedAtTheTokenEndpoint is A19 and A13 at the
// authorization server: every proof that fails a check of RFC 9449 §4.3
// is 400 invalid_dpop_proof, and nothing is issued (S161, S163, S174,
// S176).
func TestDPoPProofRefusedAtTheTokenEndpoint(t *testing.T) {
	d := newDPoPFixture(t, nil)
	tokenURL := d.URL + "/token"
	key := ecKey(t)
	now := d.Clock.Now()
	with := func(edit func(map[string]any)) map[string]any {
		c := proofClaims(tokenURL, now)
		edit(c)
		return c
	}
	pub, _ := json.Marshal(jose.JSONWebKey{Key: key.Public()})
	private := jose.JSONWebKey{Key: key}
	first := newProver(t, d.Clock)
	replayed := proof(t, first, d.Env, "POST", "/token", "", "")
	wantBound(t, d.clientToken(t, replayed), first.Thumbprint())

	for name, proofs := range map[string][]string{
		"replayed jti (A19)":        {replayed},
		"htm GET (A19)":             {crafted{key: key, alg: jose.ES256, typ: "dpop+jwt", claims: with(func(c map[string]any) { c["htm"] = "GET" })}.sign(t)},
		"htu of another host (A19)": {crafted{key: key, alg: jose.ES256, typ: "dpop+jwt", claims: with(func(c map[string]any) { c["htu"] = "https://evil.example/token" })}.sign(t)},
		"htu of another path (A19)": {crafted{key: key, alg: jose.ES256, typ: "dpop+jwt", claims: with(func(c map[string]any) { c["htu"] = d.URL + "/introspect" })}.sign(t)},
		"iat 10 min old (S174)":     {crafted{key: key, alg: jose.ES256, typ: "dpop+jwt", claims: with(func(c map[string]any) { c["iat"] = now.Add(-10 * time.Minute).Unix() })}.sign(t)},
		"iat 10 min ahead (S174)":   {crafted{key: key, alg: jose.ES256, typ: "dpop+jwt", claims: with(func(c map[string]any) { c["iat"] = now.Add(10 * time.Minute).Unix() })}.sign(t)},
		"no jti":                    {crafted{key: key, alg: jose.ES256, typ: "dpop+jwt", claims: with(func(c map[string]any) { delete(c, "jti") })}.sign(t)},
		"typ JWT (S176)":            {crafted{key: key, alg: jose.ES256, typ: "JWT", claims: with(func(map[string]any) {})}.sign(t)},
		"HS256 (A13, S176)":         {crafted{secret: pub, typ: "dpop+jwt", jwk: json.RawMessage(pub), claims: with(func(map[string]any) {})}.sign(t)},
		"private key in jwk (A13)":  {crafted{key: key, alg: jose.ES256, typ: "dpop+jwt", jwk: private, claims: with(func(map[string]any) {})}.sign(t)},
		"alg none (A13)":            {noneProof(t, with(func(map[string]any) {}), pub)},
		"two DPoP headers (A19)":    {proof(t, newProver(t, d.Clock), d.Env, "POST", "/token", "", ""), proof(t, newProver(t, d.Clock), d.Env, "POST", "/token", "", "")},
		"not a JWT":                 {"not.a.jwt"},
		"signed by another key":     {swapKey(t, crafted{key: key, alg: jose.ES256, typ: "dpop+jwt", claims: with(func(map[string]any) {})}.sign(t), ecKey(t))},
		"a proof 9 KiB long (A15)":  {crafted{key: key, alg: jose.ES256, typ: "dpop+jwt", claims: with(func(c map[string]any) { c["pad"] = strings.Repeat("x", 9<<10) })}.sign(t)},
	} {
		t.Run(name, func(t *testing.T) {
			before := d.countRows(t)
			wantOAuthError(t, d.clientToken(t, proofs...), http.StatusBadRequest, "invalid_dpop_proof")
			if after := d.countRows(t); after["access_tokens"] != before["access_tokens"] || after["grants"] != before["grants"] {
				t.Errorf("something was stored: %v → %v", before, after)
			}
		})
	}
}

// noneProof is an unsigned proof (alg none) with the public key pub.
func noneProof(t *testing.T, claims map[string]any, pub []byte) string {
	t.Helper()
	return jwstest.Unsigned(map[string]any{"alg": "none", "typ": "dpop+jwt", "jwk": json.RawMessage(pub)}, claims, "")
}

// swapKey replaces the jwk of a signed proof with another key's public
// key, keeping the signature: the signature no longer verifies.
func swapKey(t *testing.T, signed string, other *ecdsa.PrivateKey) string {
	t.Helper()
	parts := strings.Split(signed, ".")
	other2, _ := json.Marshal(jose.JSONWebKey{Key: other.Public()})
	h, _ := json.Marshal(map[string]any{"alg": "ES256", "typ": "dpop+jwt", "jwk": json.RawMessage(other2)})
	return jwstest.B64(h) + "." + parts[1] + "." + parts[2]
}

// TestDPoPRequiredForBoundClients: a client registered with
// dpop_bound_access_tokens gets nothing without a proof (S165).
func TestDPoPRequiredForBoundClients(t *testing.T) {
	d := newDPoPFixture(t, nil)
	secret := d.AddClient(t, store.Client{ID: "bound", GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"},
		DPoPBoundAccessTokens: true})
	r := post(t, d.Env, "/token", formOf("grant_type", "client_credentials"), basic("bound", secret))
	wantOAuthError(t, r, http.StatusBadRequest, "invalid_dpop_proof")
	p := newProver(t, d.Clock)
	r = post(t, d.Env, "/token", formOf("grant_type", "client_credentials"), basic("bound", secret),
		header("DPoP", proof(t, p, d.Env, "POST", "/token", "", "")))
	wantBound(t, r, p.Thumbprint())
}

// TestDPoPNonces: with nonces required (globally or for one client), a
// proof without one is 400 use_dpop_nonce with exactly one DPoP-Nonce
// (S170, S175); the nonce given then works on any later request until it
// is two lifetimes old; a success carries the current nonce.
func TestDPoPNonces(t *testing.T) {
	for name, configure := range map[string]func(*server.Config){
		"global":     func(c *server.Config) { c.DPoP.RequireNonce = true },
		"per client": nil,
	} {
		t.Run(name, func(t *testing.T) {
			d := newDPoPFixture(t, configure)
			if configure == nil {
				c, err := d.Store.GetClient(t.Context(), "svc")
				if err != nil {
					t.Fatal(err)
				}
				c.RequireDPoPNonce = true
				if err := d.Store.UpsertClient(t.Context(), c); err != nil {
					t.Fatal(err)
				}
				d.Clock.Advance(2 * time.Second) // past the read cache
			}
			p := newProver(t, d.Clock)
			r := d.clientToken(t, proof(t, p, d.Env, "POST", "/token", "", ""))
			wantOAuthError(t, r, http.StatusBadRequest, "use_dpop_nonce")
			nonces := r.Header.Values("DPoP-Nonce")
			if len(nonces) != 1 || len(nonces[0]) < 22 {
				t.Fatalf("DPoP-Nonce = %q, want exactly one unpredictable nonce (S170)", nonces)
			}
			r = d.clientToken(t, proof(t, p, d.Env, "POST", "/token", "", nonces[0]))
			wantBound(t, r, p.Thumbprint())
			if r.Header.Get("DPoP-Nonce") == "" {
				t.Error("a success carries no DPoP-Nonce to move on to")
			}
			wantOAuthError(t, d.clientToken(t, proof(t, p, d.Env, "POST", "/token", "", "made-up-nonce")), http.StatusBadRequest, "use_dpop_nonce")
			d.Clock.Advance(11 * time.Minute) // two nonce lifetimes of 5m
			r = d.clientToken(t, proof(t, p, d.Env, "POST", "/token", "", nonces[0]))
			wantOAuthError(t, r, http.StatusBadRequest, "use_dpop_nonce")
			if fresh := r.Header.Get("DPoP-Nonce"); fresh == "" || fresh == nonces[0] {
				t.Errorf("after expiry DPoP-Nonce = %q, want a new one", fresh)
			}
		})
	}
}

// TestDPoPRefreshBinding: a public client's refresh token is bound to the
// key of the code exchange, and every refresh must prove it; a
// confidential client's stays bound to the client (S164).
func TestDPoPRefreshBinding(t *testing.T) {
	d := newDPoPFixture(t, nil)
	c := codeFixture{fixture: d.fixture, app: d.web, alice: d.alice}
	p := newProver(t, d.Clock)
	code, verifier := c.issueCode(t, "spa", true)
	form := formOf("grant_type", "authorization_code", "code", code, "redirect_uri", codeRedirect, "code_verifier", verifier, "client_id", "spa")
	body := wantBound(t, post(t, d.Env, "/token", form, header("DPoP", proof(t, p, d.Env, "POST", "/token", "", ""))), p.Thumbprint())
	rt := body["refresh_token"].(string)

	refresh := func(rt string, opts ...reqOpt) result {
		return post(t, d.Env, "/token", formOf("grant_type", "refresh_token", "refresh_token", rt, "client_id", "spa"), opts...)
	}
	wantOAuthError(t, refresh(rt), http.StatusBadRequest, "invalid_grant")
	other := newProver(t, d.Clock)
	wantOAuthError(t, refresh(rt, header("DPoP", proof(t, other, d.Env, "POST", "/token", "", ""))), http.StatusBadRequest, "invalid_grant")
	body = wantBound(t, refresh(rt, header("DPoP", proof(t, p, d.Env, "POST", "/token", "", ""))), p.Thumbprint())
	next := body["refresh_token"].(string)
	if next == rt {
		t.Fatal("the refresh token was not rotated")
	}
	wantOAuthError(t, refresh(next), http.StatusBadRequest, "invalid_grant") // the successor is bound too

	// Confidential: the refresh token is not bound; a proof still binds the
	// access token it gives.
	code, verifier = c.issueCode(t, "web", true)
	form = formOf("grant_type", "authorization_code", "code", code, "redirect_uri", codeRedirect, "code_verifier", verifier)
	body = wantBound(t, post(t, d.Env, "/token", form, basic("web", d.web), header("DPoP", proof(t, p, d.Env, "POST", "/token", "", ""))), p.Thumbprint())
	r := post(t, d.Env, "/token", formOf("grant_type", "refresh_token", "refresh_token", body["refresh_token"].(string)), basic("web", d.web))
	if b := wantToken(t, r); b["token_type"] != "Bearer" {
		t.Errorf("confidential refresh without a proof: %v", b["token_type"])
	}
}

// TestDPoPCodeBinding: a code bound with dpop_jkt needs a proof of that
// key (S172); a refused attempt does not use the code up (S143).
func TestDPoPCodeBinding(t *testing.T) {
	d := newDPoPFixture(t, nil)
	s := &azSetup{Env: d.Env, secret: d.web, user: d.alice}
	p := newProver(t, d.Clock)
	params, verifier := azParams("web")
	params.Set("redirect_uri", codeRedirect)
	params.Set("scope", "openid read")
	params.Set("dpop_jkt", p.Thumbprint())
	code := s.browser(t).code(params)
	code2 := func(opts ...reqOpt) result {
		form := formOf("grant_type", "authorization_code", "code", code, "redirect_uri", codeRedirect, "code_verifier", verifier)
		return post(t, d.Env, "/token", form, append([]reqOpt{basic("web", d.web)}, opts...)...)
	}
	wantOAuthError(t, code2(), http.StatusBadRequest, "invalid_grant")
	wantOAuthError(t, code2(header("DPoP", proof(t, newProver(t, d.Clock), d.Env, "POST", "/token", "", ""))), http.StatusBadRequest, "invalid_grant")
	wantBound(t, code2(header("DPoP", proof(t, p, d.Env, "POST", "/token", "", ""))), p.Thumbprint())

	params, _ = azParams("web")
	params.Set("redirect_uri", codeRedirect)
	params.Set("scope", "openid read")
	params.Set("dpop_jkt", "not-a-thumbprint")
	q := s.browser(t).signIn(params).callback(t, codeRedirect)
	if q.Get("error") != "invalid_request" {
		t.Errorf("a malformed dpop_jkt: %v, want invalid_request", q)
	}
}

// TestDPoPAtUserinfo: /userinfo takes a DPoP-bound token only with the DPoP
// scheme and a proof of its key for this request and token (S167), and
// refuses it as Bearer (S169); its errors are 401 with a DPoP challenge
// (S168); no credentials gets both challenges.
func TestDPoPAtUserinfo(t *testing.T) {
	d := newDPoPFixture(t, nil)
	c := codeFixture{fixture: d.fixture, app: d.web, alice: d.alice}
	p := newProver(t, d.Clock)
	code, verifier := c.issueCode(t, "web", true)
	form := formOf("grant_type", "authorization_code", "code", code, "redirect_uri", codeRedirect, "code_verifier", verifier)
	at := wantBound(t, post(t, d.Env, "/token", form, basic("web", d.web), header("DPoP", proof(t, p, d.Env, "POST", "/token", "", ""))), p.Thumbprint())["access_token"].(string)
	code, verifier = c.issueCode(t, "web", true)
	form = formOf("grant_type", "authorization_code", "code", code, "redirect_uri", codeRedirect, "code_verifier", verifier)
	bearer := wantToken(t, post(t, d.Env, "/token", form, basic("web", d.web)))["access_token"].(string)

	userinfo := func(opts ...reqOpt) result { return send(t, d.Env, http.MethodGet, "/userinfo", "", "", opts...) }
	get := func(tok string) string { return proof(t, p, d.Env, "GET", "/userinfo", tok, "") }
	wantChallenge := func(name string, r result, status int, code string) {
		t.Helper()
		ch := r.Header.Get("WWW-Authenticate")
		if r.Status != status || !strings.HasPrefix(ch, "DPoP ") || !strings.Contains(ch, `error="`+code+`"`) {
			t.Errorf("%s: %d %q, want %d with a DPoP challenge error=%s", name, r.Status, ch, status, code)
		}
	}

	ok := userinfo(header("Authorization", "DPoP "+at), header("DPoP", get(at)))
	if ok.Status != http.StatusOK || ok.str(t, "sub") != d.alice.ID {
		t.Fatalf("DPoP userinfo: %d %s", ok.Status, ok.Body)
	}
	wantChallenge("bound token as Bearer (S169)", userinfo(header("Authorization", "Bearer "+at)), 401, "invalid_token")
	wantChallenge("no proof", userinfo(header("Authorization", "DPoP "+at)), 401, "invalid_dpop_proof")
	replay := get(at)
	userinfo(header("Authorization", "DPoP "+at), header("DPoP", replay))
	wantChallenge("replayed proof (A19)", userinfo(header("Authorization", "DPoP "+at), header("DPoP", replay)), 401, "invalid_dpop_proof")
	wantChallenge("no ath (A19)", userinfo(header("Authorization", "DPoP "+at), header("DPoP", proof(t, p, d.Env, "GET", "/userinfo", "", ""))), 401, "invalid_dpop_proof")
	wantChallenge("ath of another token (A19)", userinfo(header("Authorization", "DPoP "+at), header("DPoP", get(bearer))), 401, "invalid_dpop_proof")
	wantChallenge("another key (A19)", userinfo(header("Authorization", "DPoP "+at), header("DPoP", proof(t, newProver(t, d.Clock), d.Env, "GET", "/userinfo", at, ""))), 401, "invalid_token")
	wantChallenge("proof for POST (A19)", userinfo(header("Authorization", "DPoP "+at), header("DPoP", proof(t, p, d.Env, "POST", "/userinfo", at, ""))), 401, "invalid_dpop_proof")
	wantChallenge("unbound token as DPoP", userinfo(header("Authorization", "DPoP "+bearer), header("DPoP", get(bearer))), 401, "invalid_token")
	if r := userinfo(header("Authorization", "Bearer "+bearer)); r.Status != http.StatusOK {
		t.Errorf("a Bearer token as Bearer: %d", r.Status)
	}
	none := userinfo()
	if ch := none.Header.Get("WWW-Authenticate"); none.Status != 401 || !strings.Contains(ch, "Bearer") || !strings.Contains(ch, `DPoP algs="ES256 EdDSA PS256"`) || strings.Contains(ch, "error") {
		t.Errorf("no credentials: %d %q, want both challenges without an error (S168, S169)", none.Status, ch)
	}
}

// TestDPoPCORS: browser clients can read DPoP-Nonce and WWW-Authenticate
// and send the DPoP header (S177).
func TestDPoPCORS(t *testing.T) {
	d := newDPoPFixture(t, nil)
	for _, path := range []string{"/token", "/par"} {
		req, _ := http.NewRequest(http.MethodOptions, d.URL+path, nil)
		req.Header.Set("Origin", "https://app.example")
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "dpop")
		r := do(t, d.Server.Client(), req)
		if !strings.Contains(r.Header.Get("Access-Control-Allow-Headers"), "DPoP") ||
			!strings.Contains(r.Header.Get("Access-Control-Expose-Headers"), "DPoP-Nonce") ||
			!strings.Contains(r.Header.Get("Access-Control-Expose-Headers"), "WWW-Authenticate") {
			t.Errorf("%s preflight: %v", path, r.Header)
		}
	}
}

// TestDPoPNonceAtUserinfo: a client that requires nonces needs one at
// /userinfo too: without it, 401 use_dpop_nonce with a DPoP-Nonce (S171).
func TestDPoPNonceAtUserinfo(t *testing.T) {
	d := newDPoPFixture(t, nil)
	web, err := d.Store.GetClient(t.Context(), "web")
	if err != nil {
		t.Fatal(err)
	}
	web.RequireDPoPNonce = true
	if err := d.Store.UpsertClient(t.Context(), web); err != nil {
		t.Fatal(err)
	}
	d.Clock.Advance(2 * time.Second) // past the read cache
	c := codeFixture{fixture: d.fixture, app: d.web, alice: d.alice}
	p := newProver(t, d.Clock)
	code, verifier := c.issueCode(t, "web", true)
	form := formOf("grant_type", "authorization_code", "code", code, "redirect_uri", codeRedirect, "code_verifier", verifier)
	r := post(t, d.Env, "/token", form, basic("web", d.web), header("DPoP", proof(t, p, d.Env, "POST", "/token", "", "")))
	nonce := r.Header.Get("DPoP-Nonce")
	wantOAuthError(t, r, http.StatusBadRequest, "use_dpop_nonce")
	at := wantBound(t, post(t, d.Env, "/token", form, basic("web", d.web), header("DPoP", proof(t, p, d.Env, "POST", "/token", "", nonce))), p.Thumbprint())["access_token"].(string)

	r = send(t, d.Env, http.MethodGet, "/userinfo", "", "", header("Authorization", "DPoP "+at), header("DPoP", proof(t, p, d.Env, "GET", "/userinfo", at, "")))
	if ch := r.Header.Get("WWW-Authenticate"); r.Status != 401 || !strings.Contains(ch, `error="use_dpop_nonce"`) || r.Header.Get("DPoP-Nonce") == "" {
		t.Errorf("userinfo without a nonce: %d %q nonce %q, want 401 use_dpop_nonce with a DPoP-Nonce (S171)", r.Status, ch, r.Header.Get("DPoP-Nonce"))
	}
	r = send(t, d.Env, http.MethodGet, "/userinfo", "", "", header("Authorization", "DPoP "+at), header("DPoP", proof(t, p, d.Env, "GET", "/userinfo", at, r.Header.Get("DPoP-Nonce"))))
	if r.Status != http.StatusOK {
		t.Errorf("userinfo with the nonce: %d %s", r.Status, r.Body)
	}
}
