package bearer_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey/internal/testenv"
)

// benchToken returns a real Latchkey's ES256 access token for notes.
func benchToken(b *testing.B) (*testenv.Env, string) {
	env := testenv.New(b, testenv.Options{})
	secret := addClient(b, env, "reports", []string{"read", "write"}, "")
	return env, getToken(b, env, "reports", secret, "read", "write")
}

// BenchmarkMiddlewareJWT measures one request through the middleware:
// header parsing, full RFC 9068 validation, claims in the context.
func BenchmarkMiddlewareJWT(b *testing.B) {
	env, raw := benchToken(b)
	v, _ := newValidator(b, env.URL, time.Now, nil)
	h := v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	req := httptest.NewRequest("GET", "/notes", nil)
	req.Header.Set("Authorization", "Bearer "+raw)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusNoContent {
			b.Fatalf("status %d", w.Code)
		}
	}
}

// BenchmarkValidateJWT measures Validate alone.
func BenchmarkValidateJWT(b *testing.B) {
	env, raw := benchToken(b)
	v, _ := newValidator(b, env.URL, time.Now, nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Validate(context.Background(), raw); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRawGoJose is the floor: go-jose parsing and verifying the same
// token with a key already in hand, and decoding its claims into a struct.
func BenchmarkRawGoJose(b *testing.B) {
	env, raw := benchToken(b)
	key := publishedKey(b, env, "ES256")
	algs := []jose.SignatureAlgorithm{jose.ES256}
	b.ReportAllocs()
	for b.Loop() {
		jws, err := jose.ParseSigned(raw, algs)
		if err != nil {
			b.Fatal(err)
		}
		payload, err := jws.Verify(key.Key)
		if err != nil {
			b.Fatal(err)
		}
		var c struct {
			Iss      string `json:"iss"`
			Sub      string `json:"sub"`
			Aud      any    `json:"aud"`
			Exp      int64  `json:"exp"`
			Iat      int64  `json:"iat"`
			JTI      string `json:"jti"`
			ClientID string `json:"client_id"`
			Scope    string `json:"scope"`
		}
		if err := json.Unmarshal(payload, &c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMiddlewareDPoP measures one request with a DPoP-bound ES256
// token and its ES256 proof through the middleware: the token's full
// validation, every proof check with the memory replay cache, the key
// binding, claims in the context. Each iteration sends a fresh proof,
// made before the timer.
func BenchmarkMiddlewareDPoP(b *testing.B) {
	d := newDPoPEnv(b, nil)
	proofs := make([]string, b.N)
	for i := range proofs {
		p, err := d.client.Proof("GET", notesURL, d.token, "")
		if err != nil {
			b.Fatal(err)
		}
		proofs[i] = p
	}
	h := d.v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	req := httptest.NewRequest("GET", notesURL, nil)
	req.Header.Set("Authorization", "DPoP "+d.token)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		req.Header.Set("DPoP", proofs[i])
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusNoContent {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}

// BenchmarkRawGoJoseDPoP is the floor of BenchmarkMiddlewareDPoP: go-jose
// parsing and verifying the token with the issuer's key in hand and the
// proof with the key it embeds, and both claim sets decoded into structs.
func BenchmarkRawGoJoseDPoP(b *testing.B) {
	d := newDPoPEnv(b, nil)
	proof, err := d.client.Proof("GET", notesURL, d.token, "")
	if err != nil {
		b.Fatal(err)
	}
	algs := []jose.SignatureAlgorithm{jose.ES256}
	b.ReportAllocs()
	for b.Loop() {
		tok, err := jose.ParseSigned(d.token, algs)
		if err != nil {
			b.Fatal(err)
		}
		payload, err := tok.Verify(&d.iss.Key.PublicKey)
		if err != nil {
			b.Fatal(err)
		}
		var c struct {
			Iss      string `json:"iss"`
			Sub      string `json:"sub"`
			Aud      any    `json:"aud"`
			Exp      int64  `json:"exp"`
			Iat      int64  `json:"iat"`
			JTI      string `json:"jti"`
			ClientID string `json:"client_id"`
			Scope    string `json:"scope"`
			Cnf      struct {
				JKT string `json:"jkt"`
			} `json:"cnf"`
		}
		if err := json.Unmarshal(payload, &c); err != nil {
			b.Fatal(err)
		}
		pr, err := jose.ParseSigned(proof, algs)
		if err != nil {
			b.Fatal(err)
		}
		payload, err = pr.Verify(pr.Signatures[0].Protected.JSONWebKey.Key)
		if err != nil {
			b.Fatal(err)
		}
		var p struct {
			JTI string `json:"jti"`
			HTM string `json:"htm"`
			HTU string `json:"htu"`
			IAT int64  `json:"iat"`
			ATH string `json:"ath"`
		}
		if err := json.Unmarshal(payload, &p); err != nil {
			b.Fatal(err)
		}
	}
}
