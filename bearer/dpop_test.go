package bearer_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey/bearer"
	"github.com/latchkey/latchkey/dpop"
)

// notesURL is the URL the DPoP tests call; httptest marks a request to it
// as having come over TLS.
const notesURL = "https://notes.example/notes"

// dpopAlgs is the algs of the default DPoP challenge.
const dpopAlgs = `algs="ES256 EdDSA PS256"`

// dpopEnv is a fake issuer, a validator on a fixed clock, a client's DPoP
// key and an access token bound to it.
type dpopEnv struct {
	iss    *fakeIssuer
	v      *bearer.Validator
	now    time.Time
	key    *ecdsa.PrivateKey
	client *dpop.Prover
	token  string
	api    http.Handler
}

func newDPoPEnv(t testing.TB, edit func(*bearer.Config)) *dpopEnv {
	t.Helper()
	d := &dpopEnv{iss: newFakeIssuer(t), now: time.Now().Truncate(time.Second)}
	d.iss.introspection = true
	d.v, _ = newValidator(t, d.iss.URL, func() time.Time { return d.now }, edit)
	var err error
	if d.key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	if d.client, err = dpop.NewProver(d.key); err != nil {
		t.Fatal(err)
	}
	d.client.Now = func() time.Time { return d.now }
	d.token = d.boundToken(t, d.client.Thumbprint())
	// GET /notes needs read, POST /notes write too; both answer with the
	// token's sub and cnf.jkt.
	mux := http.NewServeMux()
	whoami := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := bearer.ClaimsFrom(r.Context())
		io.WriteString(w, c.Subject+" "+c.JKT)
	})
	mux.Handle("GET /notes", d.v.RequireScope("read")(whoami))
	mux.Handle("POST /notes", d.v.RequireScope("read", "write")(whoami))
	d.api = mux
	return d
}

// boundToken signs an access token bound to jkt ("" for none).
func (d *dpopEnv) boundToken(t testing.TB, jkt string) string {
	t.Helper()
	c := claimsFor(d.iss.URL, d.now)
	if jkt != "" {
		c["cnf"] = map[string]any{"jkt": jkt}
	}
	return d.iss.sign(t, nil, c)
}

// proof makes a proof of the client's key for GET notesURL with the
// token's ath; edit changes its claims (a nil value deletes one).
func (d *dpopEnv) proof(t testing.TB, edit map[string]any) string {
	t.Helper()
	return d.proofBy(t, jose.ES256, d.key, nil, edit)
}

// proofBy makes a proof signed by key as alg, with header members added
// (typ dpop+jwt and the key's JWK are there unless replaced).
func (d *dpopEnv) proofBy(t testing.TB, alg jose.SignatureAlgorithm, key any, header map[jose.HeaderKey]any, edit map[string]any) string {
	t.Helper()
	c := map[string]any{
		"jti": rand.Text(), "htm": "GET", "htu": notesURL, "iat": d.now.Unix(), "ath": dpop.AccessTokenHash(d.token),
	}
	for k, v := range edit {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	h := map[jose.HeaderKey]any{"typ": "dpop+jwt"}
	_, ownJWK := header["jwk"]
	for k, v := range header {
		h[k] = v
	}
	return forge(t, alg, key, h, c, !ownJWK)
}

// call sends method target through the API with Authorization auth (one
// header each) and DPoP proofs.
func (d *dpopEnv) call(method, target string, auth []string, proofs ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, nil)
	for _, a := range auth {
		r.Header.Add("Authorization", a)
	}
	for _, p := range proofs {
		r.Header.Add("DPoP", p)
	}
	w := httptest.NewRecorder()
	d.api.ServeHTTP(w, r)
	return w
}

// S167, S168, S169, A13, A15, A19: DPoP-bound tokens through the
// middleware, valid and refused in every way of RFC 9449 §4.3 and §7.
func TestDPoPMiddleware(t *testing.T) {
	d := newDPoPEnv(t, nil)
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	unbound := d.boundToken(t, "")
	expired := func() string {
		c := claimsFor(d.iss.URL, d.now.Add(-time.Hour))
		c["cnf"] = map[string]any{"jkt": d.client.Thumbprint()}
		return d.iss.sign(t, nil, c)
	}()
	private := privateJWK(t, d.key)
	dpopAuth := []string{"DPoP " + d.token}
	const proofErr = `DPoP error="invalid_dpop_proof", error_description="`
	const tokenErr = `DPoP error="invalid_token", error_description="`

	cases := []struct {
		name      string
		method    string
		target    string
		auth      []string
		proofs    []string
		status    int
		challenge string // exact, or a prefix when it ends in "…"
		code      string
	}{
		{"S167 valid", "GET", notesURL, dpopAuth, []string{d.proof(t, nil)}, 200, "", ""},
		{"S167 scheme in lower case", "GET", notesURL, []string{"dpop " + d.token}, []string{d.proof(t, nil)}, 200, "", ""},
		{"S161 request query ignored", "GET", notesURL + "?page=2", dpopAuth, []string{d.proof(t, nil)}, 200, "", ""},
		{"S161 A19 htm POST on GET", "GET", notesURL, dpopAuth, []string{d.proof(t, map[string]any{"htm": "POST"})}, 401, proofErr + "…", "invalid_dpop_proof"},
		{"S161 A19 htu another host", "GET", notesURL, dpopAuth, []string{d.proof(t, map[string]any{"htu": "https://evil.example/notes"})}, 401, proofErr + "…", "invalid_dpop_proof"},
		{"S161 A19 htu another path", "GET", notesURL, dpopAuth, []string{d.proof(t, map[string]any{"htu": "https://notes.example/admin"})}, 401, proofErr + "…", "invalid_dpop_proof"},
		{"S161 htu over http", "GET", notesURL, dpopAuth, []string{d.proof(t, map[string]any{"htu": "http://notes.example/notes"})}, 401, proofErr + "…", "invalid_dpop_proof"},
		{"S174 A19 iat 10 min ago", "GET", notesURL, dpopAuth, []string{d.proof(t, map[string]any{"iat": d.now.Add(-10 * time.Minute).Unix()})}, 401, proofErr + "…", "invalid_dpop_proof"},
		{"S174 A19 iat in 10 min", "GET", notesURL, dpopAuth, []string{d.proof(t, map[string]any{"iat": d.now.Add(10 * time.Minute).Unix()})}, 401, proofErr + "…", "invalid_dpop_proof"},
		{"S161 A19 missing ath", "GET", notesURL, dpopAuth, []string{d.proof(t, map[string]any{"ath": nil})}, 401, proofErr + "…", "invalid_dpop_proof"},
		{"S161 A19 ath of another token", "GET", notesURL, dpopAuth, []string{d.proof(t, map[string]any{"ath": dpop.AccessTokenHash(unbound)})}, 401, proofErr + "…", "invalid_dpop_proof"},
		{"S161 A19 two DPoP headers", "GET", notesURL, dpopAuth, []string{d.proof(t, nil), d.proof(t, nil)}, 401, proofErr + "the request has more than one DPoP header\", " + dpopAlgs, "invalid_dpop_proof"},
		{"S161 no DPoP header", "GET", notesURL, dpopAuth, nil, 401, proofErr + "a DPoP proof is required\", " + dpopAlgs, "invalid_dpop_proof"},
		{"S176 A13 alg none", "GET", notesURL, dpopAuth, []string{unsigned(map[string]any{"alg": "none", "typ": "dpop+jwt", "jwk": publicJWK(t, d.key)}, map[string]any{"jti": "x", "htm": "GET", "htu": notesURL, "iat": d.now.Unix()})}, 401, proofErr + "…", "invalid_dpop_proof"},
		{"S176 A13 HS256", "GET", notesURL, dpopAuth, []string{d.proofBy(t, jose.HS256, make([]byte, 32), map[jose.HeaderKey]any{"jwk": publicJWK(t, d.key)}, nil)}, 401, proofErr + "…", "invalid_dpop_proof"},
		{"S161 A13 private d in jwk", "GET", notesURL, dpopAuth, []string{d.proofBy(t, jose.ES256, d.key, map[jose.HeaderKey]any{"jwk": private}, nil)}, 401, proofErr + "…", "invalid_dpop_proof"},
		{"A13 unknown crit", "GET", notesURL, dpopAuth, []string{d.proofBy(t, jose.ES256, d.key, map[jose.HeaderKey]any{"crit": []string{"exp"}, "exp": 1}, nil)}, 401, proofErr + "…", "invalid_dpop_proof"},
		{"S176 typ JWT", "GET", notesURL, dpopAuth, []string{d.proofBy(t, jose.ES256, d.key, map[jose.HeaderKey]any{"typ": "JWT"}, nil)}, 401, proofErr + "…", "invalid_dpop_proof"},
		{"A15 a 1 MB DPoP header", "GET", notesURL, dpopAuth, []string{strings.Repeat("a", 1<<20)}, 401, proofErr + "…", "invalid_dpop_proof"},
		{"S167 A19 proof by another key", "GET", notesURL, dpopAuth, []string{d.proofBy(t, jose.ES256, other, nil, nil)}, 401, tokenErr + "the DPoP proof is signed by another key than the token is bound to\", " + dpopAlgs, "invalid_token"},
		{"S169 A19 bound token sent as Bearer", "GET", notesURL, []string{"Bearer " + d.token}, nil, 401, realm + `, error="invalid_token", error_description="the token is bound to a DPoP key: send it with the DPoP scheme and a proof"`, "invalid_token"},
		{"S169 A19 bound token as Bearer, with its proof", "GET", notesURL, []string{"Bearer " + d.token}, []string{d.proof(t, nil)}, 401, realm + `, error="invalid_token"…`, "invalid_token"},
		{"S169 unbound token with the DPoP scheme", "GET", notesURL, []string{"DPoP " + unbound}, []string{d.proof(t, map[string]any{"ath": dpop.AccessTokenHash(unbound)})}, 401, tokenErr + "…", "invalid_token"},
		{"S169 unbound token as Bearer", "GET", notesURL, []string{"Bearer " + unbound}, nil, 200, "", ""},
		{"S169 both schemes at once", "GET", notesURL, []string{"Bearer " + unbound, "DPoP " + d.token}, []string{d.proof(t, nil)}, 400, realm + `, error="invalid_request", error_description="the request uses both the Bearer and DPoP schemes"`, "invalid_request"},
		{"two DPoP Authorization headers", "GET", notesURL, []string{"DPoP " + d.token, "DPoP " + d.token}, []string{d.proof(t, nil)}, 400, realm + `, error="invalid_request"…`, "invalid_request"},
		{"empty DPoP credentials", "GET", notesURL, []string{"DPoP "}, nil, 400, realm + `, error="invalid_request"…`, "invalid_request"},
		{"expired token with a valid proof", "GET", notesURL, []string{"DPoP " + expired}, []string{d.proof(t, map[string]any{"ath": dpop.AccessTokenHash(expired)})}, 401, tokenErr + "the token has expired\", " + dpopAlgs, "invalid_token"},
		{"garbage token", "GET", notesURL, []string{"DPoP a b"}, []string{d.proof(t, nil)}, 401, tokenErr + "…", "invalid_token"},
		{"S168 insufficient scope", "POST", notesURL, dpopAuth, []string{d.proof(t, map[string]any{"htm": "POST"})}, 403,
			`DPoP error="insufficient_scope", error_description="the token lacks a scope this resource needs", scope="read write", ` + dpopAlgs, "insufficient_scope"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := d.call(tc.method, tc.target, tc.auth, tc.proofs...)
			checkAnswer(t, w, tc.status, tc.challenge, tc.code)
			if tc.status != 200 {
				if n := len(w.Header().Values("WWW-Authenticate")); n != 1 {
					t.Errorf("%d challenges", n)
				}
				if w.Header().Get("Proxy-Authenticate") != "" {
					t.Error("Proxy-Authenticate set (S168)")
				}
			}
		})
	}
}

// S167: the handler sees the token's claims with the key's thumbprint.
func TestDPoPClaimsInContext(t *testing.T) {
	d := newDPoPEnv(t, nil)
	w := d.call("GET", notesURL, []string{"DPoP " + d.token}, d.proof(t, nil))
	if w.Code != 200 || w.Body.String() != "client:reports "+d.client.Thumbprint() {
		t.Fatalf("%d %q", w.Code, w.Body)
	}
	// A proof from Prover, with a query in the URL it was made for.
	p, err := d.client.Proof("GET", notesURL+"?q=1", d.token, "")
	if err != nil {
		t.Fatal(err)
	}
	if w := d.call("GET", notesURL+"?q=1", []string{"DPoP " + d.token}, p); w.Code != 200 {
		t.Fatalf("Prover's proof: %d %s", w.Code, w.Body)
	}
}

// S174, A19: a proof is accepted once.
func TestDPoPReplay(t *testing.T) {
	d := newDPoPEnv(t, nil)
	p := d.proof(t, nil)
	auth := []string{"DPoP " + d.token}
	if w := d.call("GET", notesURL, auth, p); w.Code != 200 {
		t.Fatalf("first use: %d %s", w.Code, w.Body)
	}
	w := d.call("GET", notesURL, auth, p)
	checkAnswer(t, w, 401, `DPoP error="invalid_dpop_proof", error_description="the DPoP proof has been used before", `+dpopAlgs, "invalid_dpop_proof")
}

// S168, S169: without credentials, a challenge for each scheme and no
// error; with DPoP.Require, DPoP's only, and a bearer token counts as no
// credentials.
func TestDPoPChallenges(t *testing.T) {
	d := newDPoPEnv(t, nil)
	w := d.call("GET", notesURL, nil)
	got := w.Header().Values("WWW-Authenticate")
	if w.Code != 401 || len(got) != 2 || got[0] != realm || got[1] != "DPoP "+dpopAlgs {
		t.Fatalf("%d %q", w.Code, got)
	}

	r := newDPoPEnv(t, func(c *bearer.Config) { c.DPoP.Require = true })
	for _, auth := range [][]string{nil, {"Bearer " + r.boundToken(t, "")}} {
		w := r.call("GET", notesURL, auth)
		got := w.Header().Values("WWW-Authenticate")
		if w.Code != 401 || len(got) != 1 || got[0] != "DPoP "+dpopAlgs {
			t.Fatalf("Require, %v: %d %q", auth, w.Code, got)
		}
	}
	if w := r.call("GET", notesURL, []string{"DPoP " + r.token}, r.proof(t, nil)); w.Code != 200 {
		t.Fatalf("Require, DPoP: %d %s", w.Code, w.Body)
	}
	w = r.call("GET", notesURL, []string{"DPoP " + r.token})
	checkAnswer(t, w, 401, `DPoP error="invalid_dpop_proof"…`, "invalid_dpop_proof")

	e := newDPoPEnv(t, func(c *bearer.Config) { c.DPoP.Algorithms = []string{"ES256"} })
	if got := e.call("GET", notesURL, nil).Header().Values("WWW-Authenticate"); got[1] != `DPoP algs="ES256"` {
		t.Fatalf("algs: %q", got)
	}
	w = e.call("GET", notesURL, []string{"DPoP " + e.token}, e.proofBy(t, jose.EdDSA, edKey(t), nil, nil))
	checkAnswer(t, w, 401, `DPoP error="invalid_dpop_proof"…`, "invalid_dpop_proof")
}

// S171, S175, A19: with nonces, a proof without one, or with a wrong one,
// is answered use_dpop_nonce with a fresh nonce, which then works.
func TestDPoPNonce(t *testing.T) {
	nonces := &dpop.NonceSource{Key: []byte(strings.Repeat("n", 32)), Step: time.Minute}
	d := newDPoPEnv(t, func(c *bearer.Config) { c.DPoP.Nonces = nonces })
	auth := []string{"DPoP " + d.token}
	const useNonce = `DPoP error="use_dpop_nonce", error_description="the DPoP proof must carry the nonce the server gives in DPoP-Nonce", ` + dpopAlgs
	for _, p := range []string{d.proof(t, nil), d.proof(t, map[string]any{"nonce": "made-up"})} {
		w := d.call("GET", notesURL, auth, p)
		checkAnswer(t, w, 401, useNonce, "use_dpop_nonce")
		if got := w.Header().Values("DPoP-Nonce"); len(got) != 1 || got[0] != nonces.Current(d.now) {
			t.Fatalf("DPoP-Nonce %q", got)
		}
	}
	n := nonces.Current(d.now)
	if w := d.call("GET", notesURL, auth, d.proof(t, map[string]any{"nonce": n})); w.Code != 200 {
		t.Fatalf("with the nonce: %d %s", w.Code, w.Body)
	}
	d.now = d.now.Add(3 * time.Minute)
	w := d.call("GET", notesURL, auth, d.proof(t, map[string]any{"nonce": n}))
	checkAnswer(t, w, 401, useNonce, "use_dpop_nonce")
}

// S162, A21: with PublicURL, proofs are checked against it, whatever
// Host header and scheme the request arrives with.
func TestDPoPPublicURL(t *testing.T) {
	d := newDPoPEnv(t, func(c *bearer.Config) { c.PublicURL = "https://api.example/v1/" })
	auth := []string{"DPoP " + d.token}
	const internal = "http://10.0.0.5:8080/notes"
	if w := d.call("GET", internal, auth, d.proof(t, map[string]any{"htu": "https://api.example/v1/notes"})); w.Code != 200 {
		t.Fatalf("public URL: %d %s", w.Code, w.Body)
	}
	for _, htu := range []string{internal, "https://api.example/notes", notesURL} {
		w := d.call("GET", internal, auth, d.proof(t, map[string]any{"htu": htu}))
		checkAnswer(t, w, 401, `DPoP error="invalid_dpop_proof"…`, "invalid_dpop_proof")
	}
	r := httptest.NewRequest("GET", internal, nil)
	r.Host = "evil.example"
	r.Header.Set("X-Forwarded-Host", "evil.example")
	r.Header.Set("Authorization", "DPoP "+d.token)
	r.Header.Set("DPoP", d.proof(t, map[string]any{"htu": "http://evil.example/notes"}))
	w := httptest.NewRecorder()
	d.api.ServeHTTP(w, r)
	checkAnswer(t, w, 401, `DPoP error="invalid_dpop_proof"…`, "invalid_dpop_proof")
}

// S166, S167, S169: an introspected opaque token with a top-level cnf.jkt
// and token_type DPoP is accepted with its proof only.
func TestDPoPIntrospection(t *testing.T) {
	d := newDPoPEnv(t, func(c *bearer.Config) {
		c.Introspection = &bearer.IntrospectionConfig{ClientID: "notes", ClientSecret: "secret"}
	})
	c := claimsFor(d.iss.URL, d.now)
	c["cnf"], c["token_type"] = map[string]any{"jkt": d.client.Thumbprint()}, "DPoP"
	d.iss.addOpaque("lk_at_bound", c)
	plain := claimsFor(d.iss.URL, d.now)
	plain["token_type"] = "Bearer"
	d.iss.addOpaque("lk_at_plain", plain)
	odd := claimsFor(d.iss.URL, d.now)
	odd["token_type"] = "DPoP"
	d.iss.addOpaque("lk_at_odd", odd)
	ath := func(tok string) map[string]any { return map[string]any{"ath": dpop.AccessTokenHash(tok)} }

	if w := d.call("GET", notesURL, []string{"DPoP lk_at_bound"}, d.proof(t, ath("lk_at_bound"))); w.Code != 200 || w.Body.String() != "client:reports "+d.client.Thumbprint() {
		t.Fatalf("DPoP: %d %s", w.Code, w.Body)
	}
	w := d.call("GET", notesURL, []string{"Bearer lk_at_bound"})
	checkAnswer(t, w, 401, realm+`, error="invalid_token", error_description="the token is bound to a DPoP key: send it with the DPoP scheme and a proof"`, "invalid_token")
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	w = d.call("GET", notesURL, []string{"DPoP lk_at_bound"}, d.proofBy(t, jose.ES256, other, nil, ath("lk_at_bound")))
	checkAnswer(t, w, 401, `DPoP error="invalid_token"…`, "invalid_token")
	if w := d.call("GET", notesURL, []string{"Bearer lk_at_plain"}); w.Code != 200 {
		t.Fatalf("plain bearer: %d %s", w.Code, w.Body)
	}
	w = d.call("GET", notesURL, []string{"Bearer lk_at_odd"})
	checkAnswer(t, w, 401, realm+`, error="invalid_token"…`, "invalid_token")
}

// S169: Validate refuses a bound token; ValidateDPoP checks it with its
// proof.
func TestValidateDPoP(t *testing.T) {
	d := newDPoPEnv(t, nil)
	ctx := context.Background()
	_, err := d.v.Validate(ctx, d.token)
	wantErr(t, err, bearer.ErrBinding)
	c, err := d.v.ValidateDPoP(ctx, d.token, []string{d.proof(t, nil)}, "GET", notesURL)
	if err != nil || c.JKT != d.client.Thumbprint() {
		t.Fatalf("ValidateDPoP: %+v, %v", c, err)
	}
	_, err = d.v.ValidateDPoP(ctx, d.token, []string{d.proof(t, nil)}, "DELETE", notesURL)
	wantErr(t, err, bearer.ErrDPoPProof)
	if errors.Is(err, bearer.ErrInvalidToken) {
		t.Fatal("a refused proof is not an invalid token")
	}
	bad := d.boundToken(t, "")
	bad = strings.Replace(bad, ".", ".x", 1)
	_, err = d.v.ValidateDPoP(ctx, bad, []string{d.proof(t, nil)}, "GET", notesURL)
	wantErr(t, err, bearer.ErrInvalidToken)
}

// A replay cache that cannot answer makes the request one to retry: 503,
// never 500 nor a pass.
func TestDPoPReplayCacheDown(t *testing.T) {
	d := newDPoPEnv(t, func(c *bearer.Config) { c.DPoP.Replay = downCache{} })
	w := d.call("GET", notesURL, []string{"DPoP " + d.token}, d.proof(t, nil))
	if w.Code != 503 || w.Header().Get("Retry-After") == "" {
		t.Fatalf("%d %v", w.Code, w.Header())
	}
}

// New refuses a DPoP configuration it cannot use safely.
func TestDPoPConfigRefused(t *testing.T) {
	iss := newFakeIssuer(t)
	for name, edit := range map[string]func(*bearer.Config){
		"HS256":        func(c *bearer.Config) { c.DPoP.Algorithms = []string{"ES256", "HS256"} },
		"none":         func(c *bearer.Config) { c.DPoP.Algorithms = []string{"none"} },
		"long window":  func(c *bearer.Config) { c.DPoP.Window = 10 * time.Minute },
		"short key":    func(c *bearer.Config) { c.DPoP.Nonces = &dpop.NonceSource{Key: []byte("short")} },
		"http URL":     func(c *bearer.Config) { c.PublicURL = "http://api.example" },
		"URL w/ query": func(c *bearer.Config) { c.PublicURL = "https://api.example/?x=1" },
	} {
		cfg := bearer.Config{Issuer: iss.URL, Audience: notesAudience}
		edit(&cfg)
		if v, err := bearer.New(context.Background(), cfg); err == nil {
			v.Close()
			t.Errorf("%s: accepted", name)
		}
	}
}

// downCache is a DPoP replay cache whose store is unreachable.
type downCache struct{}

func (downCache) UseOnce(context.Context, string, time.Time) (bool, error) {
	return false, errors.New("store unreachable")
}

// publicJWK and privateJWK are the JSON objects of key's JWK, without and
// with its private members.
func publicJWK(t testing.TB, key *ecdsa.PrivateKey) map[string]any {
	t.Helper()
	return jwkObject(t, jose.JSONWebKey{Key: key.Public()})
}

func privateJWK(t testing.TB, key *ecdsa.PrivateKey) map[string]any {
	t.Helper()
	return jwkObject(t, jose.JSONWebKey{Key: key})
}

func jwkObject(t testing.TB, k jose.JSONWebKey) map[string]any {
	t.Helper()
	b, err := k.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func edKey(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
