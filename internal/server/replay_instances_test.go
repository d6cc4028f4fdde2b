package server_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey/dpop"
	"github.com/latchkey/latchkey/internal/protocol"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/postgres"
	"github.com/latchkey/latchkey/internal/store/postgres/pgtest"
	"github.com/latchkey/latchkey/internal/testenv"
)

// TestReplayAcrossInstances: the jti caches of DPoP proofs (S174, A19), of
// client assertions (S214) and of trusted issuers' tokens live in the store, so what one instance
// accepted every other instance on the same PostgreSQL refuses.
//
// The two instances are two complete servers in this process, each with
// its own connection pool to one fresh schema (as two processes would
// have) and its own in-memory state, read cache and listener; nothing but
// the database joins them. That is enough here, since what is tested is
// where the caches live, and it runs in a second; internal/cluster's real
// processes would add only start-up time, and catch one thing more: a
// cache in a package variable, shared by both servers here, which the
// style rules out (no global state). Both serve the same
// issuer, as instances behind one load balancer do, so a proof's htu
// (made for that URL) suits either; each request goes to its instance's
// own listener.
func TestReplayAcrossInstances(t *testing.T) {
	dsn := pgtest.DSN(t)
	ci := newPKKey(t, jose.ES256, "ci-1")
	trust := func(c *server.Config) {
		generous(c)
		c.TrustedIssuers = []server.TrustedIssuer{{Name: "github", Issuer: ghIss, JWKS: pkJWKS(t, ci),
			AllowedClients: []string{"app"}, Audience: "https://github.com/octo-org"}}
	}
	a := testenv.New(t, testenv.Options{Store: openPostgres(t, dsn), Configure: trust})
	b := testenv.New(t, testenv.Options{Store: openPostgres(t, dsn), Configure: func(c *server.Config) {
		trust(c)
		c.Issuer = a.URL
	}})
	secret := a.AddClient(t, store.Client{ID: "app", GrantTypes: []string{"client_credentials", protocol.GrantJWTBearer}})
	k := newPKKey(t, jose.ES256, "k1")
	pkClient(t, a, "svc", k)
	cc := formOf("grant_type", "client_credentials")

	t.Run("DPoP proof", func(t *testing.T) {
		key, err := dpop.GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		prover, err := dpop.NewProver(key)
		if err != nil {
			t.Fatal(err)
		}
		proof := func() string {
			p, err := prover.Proof(http.MethodPost, a.URL+"/token", "", "")
			if err != nil {
				t.Fatal(err)
			}
			return p
		}
		p := proof()
		wantDPoPToken(t, post(t, a, "/token", cc, basic("app", secret), header("DPoP", p)))
		wantOAuthError(t, post(t, b, "/token", cc, basic("app", secret), header("DPoP", p)),
			http.StatusBadRequest, "invalid_dpop_proof")
		// B takes a fresh proof: the refusal was the replay, not B.
		wantDPoPToken(t, post(t, b, "/token", cc, basic("app", secret), header("DPoP", proof())))
	})
	t.Run("client assertion", func(t *testing.T) {
		as := k.sign(t, pkClaims(a, "svc"), nil)
		wantToken(t, post(t, a, "/token", ccWithAssertion(as)))
		wantOAuthError(t, post(t, b, "/token", ccWithAssertion(as)), http.StatusUnauthorized, "invalid_client")
		wantRefusedFor(t, b, "used before")
		// and the other way round
		as = k.sign(t, pkClaims(b, "svc"), nil)
		wantToken(t, post(t, b, "/token", ccWithAssertion(as)))
		wantOAuthError(t, post(t, a, "/token", ccWithAssertion(as)), http.StatusUnauthorized, "invalid_client")
	})
	t.Run("trusted issuer token", func(t *testing.T) {
		job := ci.sign(t, ghClaims(a), nil)
		wantToken(t, post(t, a, "/token", bearerForm(job), basic("app", secret)))
		wantOAuthError(t, post(t, b, "/token", bearerForm(job), basic("app", secret)), http.StatusBadRequest, "invalid_grant")
		wantTrustRefusedFor(t, b, "used before")
		wantToken(t, post(t, b, "/token", bearerForm(ci.sign(t, ghClaims(a), nil)), basic("app", secret)))
	})
}

// wantDPoPToken checks a token response binding the token to a DPoP key
// (S163: token_type DPoP).
func wantDPoPToken(t *testing.T, r result) {
	t.Helper()
	if r.Status != http.StatusOK || r.str(t, "token_type") != "DPoP" {
		t.Fatalf("token response = %d %s, want 200 with token_type DPoP", r.Status, r.Body)
	}
}

// openPostgres opens a store of its own on dsn (an instance's pool),
// closed when t ends.
func openPostgres(t testing.TB, dsn string) store.Store {
	t.Helper()
	st, err := postgres.Open(context.Background(), dsn, postgres.Options{})
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
