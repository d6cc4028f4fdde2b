package storetest

import (
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

func tokenTests() []subtest {
	return []subtest{
		{"RefreshTokenRoundTrip", testRefreshRoundTrip},
		{"IssueWithoutBindingsRoundTrip", testIssueWithoutBindings},
		{"RevokeGrant_S069_S072", testRevokeGrant},
		{"AccessTokenNotFound_S079", testAccessTokenNotFound},
		{"RevokeJTI_S069", testRevokeJTI},
		{"IsRevokedGrant", testIsRevokedGrant},
	}
}

func testRefreshRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := setup(t, s)
	iss := newIssue("g1", f)
	must(t, s.SaveIssue(ctx, iss))
	got, err := s.GetRefreshToken(ctx, iss.Refresh.Digest)
	must(t, err)
	same(t, "GetRefreshToken", got, *iss.Refresh)
	_, err = s.GetRefreshToken(ctx, "nope")
	wantErr(t, "GetRefreshToken(unknown)", err, store.ErrNotFound)
}

// testIssueWithoutBindings stores a grant and tokens without resource
// indicators or DPoP bindings (newIssue has both), and one whose tokens are
// bound to different keys, as a confidential client's refresh token is not
// bound (RFC 9449 §5).
func testIssueWithoutBindings(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := setup(t, s)
	bare := newIssue("g1", f)
	bare.Grant.Resources, bare.Refresh.Resources, bare.Refresh.JKT, bare.Access.JKT = nil, nil, "", ""
	must(t, s.SaveIssue(ctx, bare))
	checkIssueStored(t, s, bare)

	mixed := newIssue("g2", f)
	mixed.Refresh.JKT = ""
	mixed.Access.JKT = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
	mixed.Refresh.Resources = []string{"https://files.example/"}
	must(t, s.SaveIssue(ctx, mixed))
	checkIssueStored(t, s, mixed)
}

func testRevokeGrant(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := setup(t, s)
	iss, other := newIssue("g1", f), newIssue("g2", f)
	must(t, s.SaveIssue(ctx, iss))
	must(t, s.SaveIssue(ctx, other))
	now := at(2*time.Hour + 2*ms)
	must(t, s.RevokeGrant(ctx, "g1", now))

	g, err := s.GetGrant(ctx, "g1")
	must(t, err)
	want := *iss.Grant
	want.RevokedAt = now
	same(t, "revoked grant", g, want)
	rt, err := s.GetRefreshToken(ctx, iss.Refresh.Digest)
	must(t, err)
	wantRT := *iss.Refresh
	wantRT.RevokedAt, wantRT.GrantRevokedAt = now, now
	same(t, "refresh token of a revoked grant", rt, wantRT)
	_, err = s.GetAccessToken(ctx, iss.Access.Digest)
	wantErr(t, "GetAccessToken of a revoked grant", err, store.ErrNotFound)
	revoked, err := s.IsRevoked(ctx, "", "g1")
	must(t, err)
	if !revoked {
		t.Error(`IsRevoked("", revoked grant) = false`)
	}

	checkIssueStored(t, s, other) // untouched
	must(t, s.RevokeGrant(ctx, "nope", now))
}

func testAccessTokenNotFound(t *testing.T, s store.Store) {
	_, err := s.GetAccessToken(t.Context(), "nope")
	wantErr(t, "GetAccessToken(unknown)", err, store.ErrNotFound)
}

func testRevokeJTI(t *testing.T, s store.Store) {
	ctx := t.Context()
	isRevoked := func(jti string) bool {
		t.Helper()
		revoked, err := s.IsRevoked(ctx, jti, "")
		must(t, err)
		return revoked
	}
	if isRevoked("jti-1") {
		t.Fatal("IsRevoked(jti-1) = true before RevokeJTI")
	}
	must(t, s.RevokeJTI(ctx, "jti-1", at(time.Hour)))
	must(t, s.RevokeJTI(ctx, "jti-1", at(time.Hour))) // twice is not an error
	if !isRevoked("jti-1") {
		t.Error("IsRevoked(jti-1) = false after RevokeJTI")
	}
	if isRevoked("jti-2") {
		t.Error("IsRevoked(jti-2) = true, only jti-1 was revoked")
	}
	if isRevoked("") {
		t.Error(`IsRevoked("", "") = true`)
	}
}

func testIsRevokedGrant(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := setup(t, s)
	must(t, s.SaveIssue(ctx, newIssue("live", f)))
	must(t, s.RevokeJTI(ctx, "jti-revoked", at(time.Hour)))
	tests := []struct {
		jti, grant string
		want       bool
	}{
		{"jti-ok", "live", false},
		{"", "live", false},
		{"jti-revoked", "live", true}, // the jti alone is enough
		{"jti-ok", "gone", true},      // an unknown grant is gone
		{"", "gone", true},
	}
	for _, tc := range tests {
		got, err := s.IsRevoked(ctx, tc.jti, tc.grant)
		must(t, err)
		if got != tc.want {
			t.Errorf("IsRevoked(%q, %q) = %v, want %v", tc.jti, tc.grant, got, tc.want)
		}
	}
}
