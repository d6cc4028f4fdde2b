package clientjwt_test

import (
	"context"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey/internal/clientjwt"
)

// BenchmarkVerifyES256 is the cost of one private_key_jwt authentication
// with an ES256 key from an inline jwks, parsed once and cached: header
// checks, go-jose's parse and ECDSA verification, the claims. The replay
// cache forgets (alwaysFirst), since in the server it is the store's
// write, measured with the store.
func BenchmarkVerifyES256(b *testing.B) {
	clk := newClock()
	k := newKey(b, jose.ES256, "k")
	v := newVerifier(clk)
	v.Replay = alwaysFirst{}
	client := clientjwt.Client{ID: clientA, JWKS: jwksOf(b, k)}
	raw := k.sign(b, map[jose.HeaderKey]any{"typ": "client-authentication+jwt"}, claimsFor(clientA, clk.Now()))
	if err := v.Verify(context.Background(), raw, client); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := v.Verify(ctx, raw, client); err != nil {
			b.Fatal(err)
		}
	}
}
