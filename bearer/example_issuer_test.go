package bearer_test

import (
	"crypto/ed25519"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// The examples run against exampleIssuer, a stand-in for the authorization
// server: it publishes its metadata and one fixed Ed25519 key, signs
// access tokens with it, and introspects the opaque tokens it hands out.
// Only the standard library and go-jose are used, so that the examples
// show nothing a resource server could not do itself.

const (
	exampleAudience = "https://notes.example"
	// exampleIntrospectionID and exampleIntrospectionSecret are the
	// resource server's own credentials at the issuer.
	exampleIntrospectionID     = "notes-api"
	exampleIntrospectionSecret = "notes-api-secret"
	exampleKID                 = "example-key"
)

// exampleIssuer is a minimal authorization server for the examples.
type exampleIssuer struct {
	URL    string
	srv    *httptest.Server
	key    ed25519.PrivateKey
	opaque map[string]map[string]any // opaque token → introspection answer
}

func newExampleIssuer() *exampleIssuer {
	seed := make([]byte, ed25519.SeedSize) // fixed, so every run is the same
	for i := range seed {
		seed[i] = byte(i)
	}
	iss := &exampleIssuer{key: ed25519.NewKeyFromSeed(seed), opaque: map[string]map[string]any{}}
	iss.srv = httptest.NewServer(http.HandlerFunc(iss.serve))
	iss.URL = iss.srv.URL
	return iss
}

func (iss *exampleIssuer) Close() { iss.srv.Close() }

func (iss *exampleIssuer) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	switch {
	case strings.HasPrefix(r.URL.Path, "/.well-known/"):
		json.NewEncoder(w).Encode(map[string]string{
			"issuer": iss.URL, "jwks_uri": iss.URL + "/jwks", "introspection_endpoint": iss.URL + "/introspect",
		})
	case r.URL.Path == "/jwks":
		jwk := jose.JSONWebKey{Key: iss.key.Public(), KeyID: exampleKID, Algorithm: string(jose.EdDSA), Use: "sig"}
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{jwk}})
	case r.URL.Path == "/introspect" && r.Method == http.MethodPost:
		id, secret, ok := r.BasicAuth()
		if !ok || id != exampleIntrospectionID || secret != exampleIntrospectionSecret {
			w.WriteHeader(http.StatusUnauthorized)
			json.NewEncoder(w).Encode(map[string]string{"error": "invalid_client"})
			return
		}
		answer, ok := iss.opaque[r.PostFormValue("token")]
		if !ok {
			answer = map[string]any{"active": false}
		}
		json.NewEncoder(w).Encode(answer)
	default:
		http.NotFound(w, r)
	}
}

// claims are an access token's claims (RFC 9068 §2.2) for sub, issued to
// client web, valid from iat for five minutes.
func (iss *exampleIssuer) claims(sub string, iat time.Time, scopes ...string) map[string]any {
	return map[string]any{
		"iss": iss.URL, "sub": sub, "aud": exampleAudience, "client_id": "web",
		"iat": iat.Unix(), "exp": iat.Add(5 * time.Minute).Unix(), "jti": "jti-" + sub,
		"scope": strings.Join(scopes, " "),
	}
}

// token signs a JWT access token for sub with scopes, issued now.
func (iss *exampleIssuer) token(sub string, scopes ...string) string {
	return iss.sign(iss.claims(sub, time.Now(), scopes...))
}

// expiredToken signs a token for sub that expired an hour ago.
func (iss *exampleIssuer) expiredToken(sub string) string {
	return iss.sign(iss.claims(sub, time.Now().Add(-time.Hour)))
}

// opaqueToken hands out an opaque token for sub that introspection knows.
func (iss *exampleIssuer) opaqueToken(sub string, scopes ...string) string {
	tok := "opaque-" + sub
	answer := iss.claims(sub, time.Now(), scopes...)
	answer["active"], answer["token_type"] = true, "Bearer"
	iss.opaque[tok] = answer
	return tok
}

func (iss *exampleIssuer) sign(claims map[string]any) string {
	opts := (&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", exampleKID)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: iss.key}, opts)
	if err != nil {
		panic(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		panic(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		panic(err)
	}
	raw, err := jws.CompactSerialize()
	if err != nil {
		panic(err)
	}
	return raw
}

// exampleCall sends a request with the token (none when "") and returns
// the status, the WWW-Authenticate challenge and the body.
func exampleCall(method, url, token string) (status int, challenge, body string) {
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		panic(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		panic(err)
	}
	return resp.StatusCode, resp.Header.Get("WWW-Authenticate"), string(b)
}
