package storetest

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// Bench measures the operations on the hot paths of the server — redeem a
// code, rotate a refresh token, read a client, check a revocation, record
// a DPoP proof's jti — on a
// fresh store from newStore for each, so that backends are compared on
// exactly the same work (go test -bench . -benchmem).
func Bench(b *testing.B, newStore func(b *testing.B) store.Store) {
	for _, bm := range []struct {
		name string
		run  func(*testing.B, store.Store)
	}{
		{"RedeemAuthCode", benchRedeemAuthCode},
		{"RotateRefreshToken", benchRotateRefreshToken},
		{"GetClient", benchGetClient},
		{"GetClientParallel", benchGetClientParallel},
		{"IsRevoked", benchIsRevoked},
		{"UseOnce", benchUseOnce},
		{"UseOnceParallel", benchUseOnceParallel},
	} {
		b.Run(bm.name, func(b *testing.B) { bm.run(b, benchStore(b, newStore(b))) })
	}
}

// benchStore stores one client and one user in s.
func benchStore(b *testing.B, s store.Store) store.Store {
	b.Helper()
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
var benchNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// benchRedeemAuthCode redeems a code into a grant and a refresh token,
// as the authorization code grant does with JWT access tokens.
func benchRedeemAuthCode(b *testing.B, s store.Store) {
	ctx := b.Context()
	for i := range b.N {
		code := store.AuthCode{Digest: fmt.Sprintf("code-%d", i), ClientID: "app", UserID: "u1",
			Scopes: []string{"openid"}, CreatedAt: benchNow, ExpiresAt: benchNow.Add(time.Minute)}
		if err := s.CreateAuthCode(ctx, code); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		g := store.Grant{ID: fmt.Sprintf("g-%d", i), ClientID: "app", UserID: "u1", Scopes: []string{"openid"},
			CreatedAt: benchNow, ExpiresAt: benchNow.Add(24 * time.Hour)}
		rt := store.RefreshToken{Digest: fmt.Sprintf("rt-%d", i), GrantID: g.ID, ClientID: "app", UserID: "u1",
			Scopes: g.Scopes, CreatedAt: benchNow, ExpiresAt: benchNow.Add(time.Hour)}
		err := s.RedeemAuthCode(ctx, fmt.Sprintf("code-%d", i), benchNow, store.Issue{Grant: &g, Refresh: &rt})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// benchRotateRefreshToken rotates one family's token again and again.
func benchRotateRefreshToken(b *testing.B, s store.Store) {
	ctx := b.Context()
	g := store.Grant{ID: "g", ClientID: "app", UserID: "u1", Scopes: []string{"openid"}, CreatedAt: benchNow}
	rt := store.RefreshToken{Digest: "rt-0", GrantID: "g", ClientID: "app", UserID: "u1", Scopes: g.Scopes,
		CreatedAt: benchNow, ExpiresAt: benchNow.Add(time.Hour)}
	if err := s.SaveIssue(ctx, store.Issue{Grant: &g, Refresh: &rt}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		next := rt
		next.Digest = fmt.Sprintf("rt-%d", i+1)
		r := store.Rotation{OldDigest: fmt.Sprintf("rt-%d", i), ClientID: "app", Next: next, Now: benchNow}
		if _, err := s.RotateRefreshToken(ctx, r); err != nil {
			b.Fatal(err)
		}
	}
}

// benchGetClient reads a client, as every token request does.
func benchGetClient(b *testing.B, s store.Store) {
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.GetClient(ctx, "app"); err != nil {
			b.Fatal(err)
		}
	}
}

// benchGetClientParallel reads a client from many goroutines, to show
// the read pool working beside the writer.
func benchGetClientParallel(b *testing.B, s store.Store) {
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

// benchIsRevoked checks a jti and a grant, as introspection does.
func benchIsRevoked(b *testing.B, s store.Store) {
	ctx := b.Context()
	g := store.Grant{ID: "g", ClientID: "app", UserID: "u1", CreatedAt: benchNow}
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

// benchUseOnceParallel is benchUseOnce from 16 goroutines at once, as a
// loaded token endpoint calls it (a backend may group the calls).
func benchUseOnceParallel(b *testing.B, s store.Store) {
	ctx := b.Context()
	b.ReportAllocs()
	var n atomic.Int64
	b.SetParallelism(8) // 16 callers on 2 cores
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			sum := sha256.Sum256([]byte(strconv.FormatInt(n.Add(1), 10)))
			fresh, err := s.UseOnce(ctx, "dpop:"+base64.RawURLEncoding.EncodeToString(sum[:]), benchNow.Add(time.Minute), benchNow)
			if err != nil || !fresh {
				b.Errorf("UseOnce of a fresh key: %v, %v", fresh, err)
				return
			}
		}
	})
}

// benchUseOnce records a fresh key, as every DPoP proof does (RFC 9449
// §11.1): a digest like the verifier's, living for the proof window.
func benchUseOnce(b *testing.B, s store.Store) {
	ctx := b.Context()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		sum := sha256.Sum256([]byte(strconv.Itoa(i)))
		fresh, err := s.UseOnce(ctx, "dpop:"+base64.RawURLEncoding.EncodeToString(sum[:]), benchNow.Add(time.Minute), benchNow)
		if err != nil || !fresh {
			b.Fatalf("UseOnce of a fresh key: %v, %v", fresh, err)
		}
	}
}
