package server_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/dpop"
)

// The DPoP benchmarks are BenchmarkClientCredentialsJWT with a proof
// (RFC 9449 §5): the handler verifies one ES256 signature and records the
// proof's jti in the store (UseOnce, a SQLite write), and the access token
// it signs carries cnf.jkt. BenchmarkDPoPProof is the client's side, made
// outside the timed loop of the others.

// newBenchProver is a prover with a fresh P-256 key (ES256 proofs).
func newBenchProver(b *testing.B) *dpop.Prover {
	b.Helper()
	key, err := dpop.GenerateKey()
	if err != nil {
		b.Fatal(err)
	}
	p, err := dpop.NewProver(key)
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// serveDPoP runs a client credentials request with proof through the
// handler and checks that the token is DPoP-bound.
func (f benchFixture) serveDPoP(b *testing.B, client, body, proof string) {
	req := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("DPoP", proof)
	req.SetBasicAuth(url.QueryEscape(client), url.QueryEscape(f.secrets[client]))
	rec := httptest.NewRecorder()
	f.Server.Config.Handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"token_type":"DPoP"`) {
		b.Fatalf("/token with a DPoP proof: %d %s", rec.Code, rec.Body)
	}
}

// BenchmarkClientCredentialsDPoP is a client credentials grant with a
// fresh ES256 proof per request; the proofs are made with the timer
// stopped, so only the server's work is measured.
func BenchmarkClientCredentialsDPoP(b *testing.B) {
	f := newBenchFixture(b)
	p := newBenchProver(b)
	body := formOf("grant_type", "client_credentials").Encode()
	htu := f.URL + "/token"
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		proof, err := p.Proof(http.MethodPost, htu, "", "")
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		f.serveDPoP(b, "jwt", body, proof)
	}
}

// BenchmarkClientCredentialsDPoPWithProof is the same with the proof made
// inside the loop: what one request costs client and server together.
func BenchmarkClientCredentialsDPoPWithProof(b *testing.B) {
	f := newBenchFixture(b)
	p := newBenchProver(b)
	body := formOf("grant_type", "client_credentials").Encode()
	htu := f.URL + "/token"
	b.ReportAllocs()
	for b.Loop() {
		proof, err := p.Proof(http.MethodPost, htu, "", "")
		if err != nil {
			b.Fatal(err)
		}
		f.serveDPoP(b, "jwt", body, proof)
	}
}

// BenchmarkDPoPProof is the client's side alone: one ES256 proof.
func BenchmarkDPoPProof(b *testing.B) {
	p := newBenchProver(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Proof(http.MethodPost, "https://as.example/token", "", ""); err != nil {
			b.Fatal(err)
		}
	}
}
