package server_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey/internal/safefetch"
	"github.com/latchkey/latchkey/internal/server"
)

// BenchmarkJWTBearer is the JWT bearer grant (RFC 7523 §2.1) through the
// whole handler: client authentication, the ES256 assertion verified
// against the issuer's key set (fetched once from its jwks_uri, then
// cached), a JWT access token minted. single-use records each jti in the
// store (the default); reuse presents one token again and again
// (allow_token_reuse), so it measures verification without the write.
func BenchmarkJWTBearer(b *testing.B) {
	key := newPKKey(b, jose.ES256, "sa-1")
	host := newJWKSHost(b, pkJWKS(b, key), false, nil)
	f := newFixture(b, func(c *server.Config) {
		generous(c)
		c.JWKSFetcher = trustingFetcher(host, safefetch.Options{})
		c.TrustedIssuers = []server.TrustedIssuer{
			{Name: "k8s", Issuer: k8sIss, JWKSURI: host.URL + "/jwks", AllowedClients: []string{"deployer"}, Scopes: []string{"payments.read"}},
			{Name: "k8s-reuse", Issuer: k8sIss + "/reuse", JWKSURI: host.URL + "/jwks", AllowedClients: []string{"deployer"},
				Scopes: []string{"payments.read"}, AllowTokenReuse: true},
		}
	})
	secret := f.AddClient(b, bearerClient("deployer"))
	serve := func(b *testing.B, assertion string) {
		req := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader(bearerForm(assertion).Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("deployer", url.QueryEscape(secret))
		rec := httptest.NewRecorder()
		f.Server.Config.Handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("token: %d %s", rec.Code, rec.Body)
		}
	}
	b.Run("single-use", func(b *testing.B) {
		tokens := make([]string, b.N)
		for i := range tokens {
			tokens[i] = key.sign(b, saClaims(f.Env), nil)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			serve(b, tokens[i])
		}
	})
	b.Run("reuse", func(b *testing.B) {
		tok := key.sign(b, pkWith(saClaims(f.Env), "iss", k8sIss+"/reuse"), nil)
		b.ReportAllocs()
		for b.Loop() {
			serve(b, tok)
		}
	})
}
