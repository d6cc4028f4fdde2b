package dpop_test

import (
	"context"
	"crypto/elliptic"
	"encoding/json"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey/dpop"
)

// benchProofs makes n ES256 proofs with an access token, each with its
// own jti.
func benchProofs(b *testing.B, n int) []string {
	p := prover(b, ecKey(b, elliptic.P256()))
	out := make([]string, n)
	for i := range out {
		raw, err := p.Proof("GET", endpoint, "the-token", "")
		if err != nil {
			b.Fatal(err)
		}
		out[i] = raw
	}
	return out
}

// BenchmarkVerify measures a full check of an ES256 proof with ath: the
// header, the signature, the claims, the thumbprint and the memory replay
// cache. Each iteration verifies a fresh proof, made before the timer.
func BenchmarkVerify(b *testing.B) {
	proofs := benchProofs(b, b.N)
	v := dpop.Verifier{Replay: dpop.NewMemoryReplayCache(b.N + 1)}
	c := check(func(c *dpop.Check) { c.AccessToken = "the-token" })
	headers := make([]string, 1)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		headers[0] = proofs[i]
		if _, err := v.Verify(context.Background(), headers, c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRawJoseVerify is the floor: go-jose parsing the same kind of
// proof and verifying it with the key it embeds, and its claims decoded
// into a struct.
func BenchmarkRawJoseVerify(b *testing.B) {
	raw := benchProofs(b, 1)[0]
	algs := []jose.SignatureAlgorithm{jose.ES256}
	b.ReportAllocs()
	for b.Loop() {
		jws, err := jose.ParseSigned(raw, algs)
		if err != nil {
			b.Fatal(err)
		}
		payload, err := jws.Verify(jws.Signatures[0].Protected.JSONWebKey.Key)
		if err != nil {
			b.Fatal(err)
		}
		var c struct {
			JTI string `json:"jti"`
			HTM string `json:"htm"`
			HTU string `json:"htu"`
			IAT int64  `json:"iat"`
			ATH string `json:"ath"`
		}
		if err := json.Unmarshal(payload, &c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkProof measures making an ES256 proof with ath.
func BenchmarkProof(b *testing.B) {
	p := prover(b, ecKey(b, elliptic.P256()))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Proof("GET", endpoint, "the-token", ""); err != nil {
			b.Fatal(err)
		}
	}
}
