package postgres_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/postgres"
	"github.com/latchkey/latchkey/internal/store/postgres/pgtest"
)

// benchStore opens a fresh store holding one client and one user.
func benchStore(b *testing.B) *postgres.Store {
	b.Helper()
	s := open(b, pgtest.DSN(b))
	c := store.Client{ID: "app", Name: "App", SecretHash: "sha256:x", RedirectURIs: []string{"https://app.example/cb"},
		GrantTypes: []string{"authorization_code", "refresh_token"}, Scopes: []string{"openid", "offline_access"}}
	if err := s.CreateClient(b.Context(), c); err != nil {
		b.Fatal(err)
	}
	if err := s.CreateUser(b.Context(), store.User{ID: "u1", Username: "alice"}); err != nil {
		b.Fatal(err)
	}
	return s
}

// benchNow is the fixed "now" of the benchmarks.
func benchNow() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }

// BenchmarkRedeemAuthCode redeems a code into a grant and a refresh token,
// as the authorization code grant does with JWT access tokens.
func BenchmarkRedeemAuthCode(b *testing.B) {
	s := benchStore(b)
	ctx := b.Context()
	for i := range b.N {
		code := store.AuthCode{Digest: fmt.Sprintf("code-%d", i), ClientID: "app", UserID: "u1",
			Scopes: []string{"openid"}, CreatedAt: benchNow(), ExpiresAt: benchNow().Add(time.Minute)}
		if err := s.CreateAuthCode(ctx, code); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		g := store.Grant{ID: fmt.Sprintf("g-%d", i), ClientID: "app", UserID: "u1", Scopes: []string{"openid"},
			CreatedAt: benchNow(), ExpiresAt: benchNow().Add(24 * time.Hour)}
		rt := store.RefreshToken{Digest: fmt.Sprintf("rt-%d", i), GrantID: g.ID, ClientID: "app", UserID: "u1",
			Scopes: g.Scopes, CreatedAt: benchNow(), ExpiresAt: benchNow().Add(time.Hour)}
		err := s.RedeemAuthCode(ctx, fmt.Sprintf("code-%d", i), benchNow(), store.Issue{Grant: &g, Refresh: &rt})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRotateRefreshToken rotates one family's token again and again.
func BenchmarkRotateRefreshToken(b *testing.B) {
	s := benchStore(b)
	ctx := b.Context()
	g := store.Grant{ID: "g", ClientID: "app", UserID: "u1", Scopes: []string{"openid"}, CreatedAt: benchNow()}
	rt := store.RefreshToken{Digest: "rt-0", GrantID: "g", ClientID: "app", UserID: "u1", Scopes: g.Scopes,
		CreatedAt: benchNow(), ExpiresAt: benchNow().Add(time.Hour)}
	if err := s.SaveIssue(ctx, store.Issue{Grant: &g, Refresh: &rt}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		next := rt
		next.Digest = fmt.Sprintf("rt-%d", i+1)
		r := store.Rotation{OldDigest: fmt.Sprintf("rt-%d", i), ClientID: "app", Next: next, Now: benchNow()}
		if _, err := s.RotateRefreshToken(ctx, r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetClient reads a client, as every token request does.
func BenchmarkGetClient(b *testing.B) {
	s := benchStore(b)
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.GetClient(ctx, "app"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetClientParallel reads a client from many goroutines, to show
// the pool serving concurrent readers.
func BenchmarkGetClientParallel(b *testing.B) {
	s := benchStore(b)
	ctx := b.Context()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.GetClient(ctx, "app"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkIsRevoked checks a jti and a grant, as introspection does.
func BenchmarkIsRevoked(b *testing.B) {
	s := benchStore(b)
	ctx := b.Context()
	g := store.Grant{ID: "g", ClientID: "app", UserID: "u1", CreatedAt: benchNow()}
	if err := s.SaveIssue(ctx, store.Issue{Grant: &g}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.IsRevoked(ctx, "jti-1", "g"); err != nil {
			b.Fatal(err)
		}
	}
}
