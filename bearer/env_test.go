package bearer_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/latchkey/latchkey/bearer"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/testenv"
)

// notesAudience is the resource server the tests protect.
const notesAudience = "https://notes.example"

// addClient registers a client-credentials client whose tokens are meant
// for notesAudience; format is "" (JWT) or "opaque". It returns the secret.
func addClient(t testing.TB, env *testenv.Env, id string, scopes []string, format string) string {
	t.Helper()
	return env.AddClient(t, store.Client{
		ID: id, GrantTypes: []string{"client_credentials"}, Scopes: scopes,
		Audience: []string{notesAudience}, AccessTokenFormat: format,
	})
}

// getToken gets an access token with golang.org/x/oauth2's client
// credentials flow.
func getToken(t testing.TB, env *testenv.Env, id, secret string, scopes ...string) string {
	t.Helper()
	cc := clientcredentials.Config{
		ClientID: id, ClientSecret: secret, TokenURL: env.URL + "/token", Scopes: scopes,
		AuthStyle: oauth2.AuthStyleInHeader,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tok, err := cc.Token(ctx)
	if err != nil {
		t.Fatalf("token for %s: %v", id, err)
	}
	return tok.AccessToken
}

// counter is a RoundTripper that counts requests by URL path.
type counter struct {
	base http.RoundTripper
	mu   sync.Mutex
	hits map[string]int
}

func newCounter() *counter {
	return &counter{base: http.DefaultTransport.(*http.Transport).Clone(), hits: map[string]int{}}
}

func (c *counter) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.hits[r.URL.Path]++
	c.mu.Unlock()
	return c.base.RoundTrip(r)
}

func (c *counter) count(path string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits[path]
}

// newValidator builds a Validator for env's issuer and notesAudience on
// the server's clock, counting its HTTP requests; edit adjusts the config.
func newValidator(t testing.TB, issuer string, now func() time.Time, edit func(*bearer.Config)) (*bearer.Validator, *counter) {
	t.Helper()
	cnt := newCounter()
	cfg := bearer.Config{
		Issuer: issuer, Audience: notesAudience, Now: now,
		HTTPClient: &http.Client{Transport: cnt, Timeout: 5 * time.Second},
	}
	if edit != nil {
		edit(&cfg)
	}
	v, err := bearer.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("bearer.New: %v", err)
	}
	t.Cleanup(v.Close)
	return v, cnt
}

// wantErr checks that err is an *bearer.Error matching sentinel.
func wantErr(t testing.TB, err, sentinel error) {
	t.Helper()
	var be *bearer.Error
	if !errors.As(err, &be) {
		t.Fatalf("error %v (%T) is not a *bearer.Error", err, err)
	}
	if !errors.Is(err, sentinel) {
		t.Fatalf("error %v does not match %v", err, sentinel)
	}
}

// publishedKey returns a key of env's JWKS for alg.
func publishedKey(t testing.TB, env *testenv.Env, alg string) jose.JSONWebKey {
	t.Helper()
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(env.Keys.JWKS(), &set); err != nil {
		t.Fatal(err)
	}
	for _, k := range set.Keys {
		if k.Algorithm == alg {
			return k
		}
	}
	t.Fatalf("no %s key published", alg)
	return jose.JSONWebKey{}
}

// kidOf returns the kid of a compact JWS without verifying it.
func kidOf(t testing.TB, raw string) string {
	t.Helper()
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.ES256, jose.RS256, jose.EdDSA})
	if err != nil {
		t.Fatal(err)
	}
	return jws.Signatures[0].Protected.KeyID
}

// claimsFor are the claims of a valid access token of issuer for notes.
func claimsFor(issuer string, now time.Time) map[string]any {
	return map[string]any{
		"iss": issuer, "sub": "client:reports", "aud": notesAudience, "client_id": "reports",
		"exp": now.Add(10 * time.Minute).Unix(), "iat": now.Unix(), "jti": "jti-" + rand.Text(), "scope": "read",
	}
}

// forge signs claims with key as alg, adding header members.
func forge(t testing.TB, alg jose.SignatureAlgorithm, key any, header map[jose.HeaderKey]any, claims any, embedJWK bool) string {
	t.Helper()
	opts := &jose.SignerOptions{EmbedJWK: embedJWK}
	for k, v := range header {
		opts.WithHeader(k, v)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatalf("signer: %v", err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// fakeIssuer is a minimal authorization server of our own whose private
// key the tests hold, so that a forged token can be valid in every
// respect but the one under test.
type fakeIssuer struct {
	URL  string
	Key  *ecdsa.PrivateKey
	KID  string
	srv  *httptest.Server
	mu   sync.Mutex
	hits map[string]int
	// metaIssuer overrides the issuer its metadata names.
	metaIssuer string
	// opaque holds the introspection answers of opaque tokens, and
	// introspection says whether the metadata names the endpoint.
	opaque        map[string]map[string]any
	introspection bool
}

func newFakeIssuer(t testing.TB) *fakeIssuer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeIssuer{Key: key, KID: "fake-" + rand.Text()[:8], hits: map[string]int{}, opaque: map[string]map[string]any{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	f.URL = f.srv.URL
	return f
}

func (f *fakeIssuer) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.hits[r.URL.Path]++
	iss, intro := f.metaIssuer, f.introspection
	f.mu.Unlock()
	if iss == "" {
		iss = f.URL
	}
	w.Header().Set("Content-Type", "application/json")
	switch {
	case strings.HasPrefix(r.URL.Path, "/.well-known/"):
		meta := map[string]string{"issuer": iss, "jwks_uri": f.URL + "/jwks"}
		if intro {
			meta["introspection_endpoint"] = f.URL + "/introspect"
		}
		json.NewEncoder(w).Encode(meta)
	case r.URL.Path == "/introspect":
		f.mu.Lock()
		answer, ok := f.opaque[r.PostFormValue("token")]
		f.mu.Unlock()
		if !ok {
			answer = map[string]any{"active": false}
		}
		json.NewEncoder(w).Encode(answer)
	case r.URL.Path == "/jwks":
		jwk := jose.JSONWebKey{Key: f.Key.Public(), KeyID: f.KID, Algorithm: "ES256", Use: "sig"}
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{jwk}})
	default:
		http.NotFound(w, r)
	}
}

// addOpaque makes introspection answer for token with active and claims.
func (f *fakeIssuer) addOpaque(token string, claims map[string]any) {
	answer := map[string]any{"active": true}
	for k, v := range claims {
		answer[k] = v
	}
	f.mu.Lock()
	f.opaque[token] = answer
	f.mu.Unlock()
}

func (f *fakeIssuer) count(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits[path]
}

// sign makes an ES256 token with the fake issuer's key and kid, typed
// at+jwt, with header members added or replaced.
func (f *fakeIssuer) sign(t testing.TB, header map[jose.HeaderKey]any, claims any) string {
	t.Helper()
	h := map[jose.HeaderKey]any{"kid": f.KID, "typ": "at+jwt"}
	for k, v := range header {
		h[k] = v
	}
	return forge(t, jose.ES256, f.Key, h, claims, false)
}
