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
