package storetest

import (
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// readAfterWriteTests read a client or a revocation answer, change it,
// and read it again: on a plain backend they restate the contract, and
// through a read cache (readcache) they prove that every write which can
// change one of those answers is seen by the next read.
func readAfterWriteTests() []subtest {
	return []subtest{
		{"ReadAfterSetClientSecret", testReadAfterSetClientSecret},
		{"ReadAfterUpsertClient", testReadAfterUpsertClient},
		{"ReadAfterDeleteClient_S069", testReadAfterDeleteClient},
		{"ReadAfterDeleteUser_S069", testReadAfterDeleteUser},
		{"ReadAfterRevokeGrant_S069", testReadAfterRevokeGrant},
		{"ReadAfterRevokeJTI_S069", testReadAfterRevokeJTI},
		{"ReadAfterRefreshReuse_S133", testReadAfterRefreshReuse},
		{"ReadAfterDeleteExpired", testReadAfterDeleteExpired},
	}
}

// revoked asks IsRevoked and fails the test on an error.
func revoked(t *testing.T, s store.Store, jti, grantID string) bool {
	t.Helper()
	r, err := s.IsRevoked(t.Context(), jti, grantID)
	must(t, err)
	return r
}

// wantRevocation checks that a write turned IsRevoked from false to true.
func wantRevocation(t *testing.T, s store.Store, jti, grantID string, write func()) {
	t.Helper()
	if revoked(t, s, jti, grantID) {
		t.Fatalf("IsRevoked(%q, %q) = true before the write", jti, grantID)
	}
	write()
	if !revoked(t, s, jti, grantID) {
		t.Errorf("IsRevoked(%q, %q) = false after the write", jti, grantID)
	}
}

func testReadAfterSetClientSecret(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := setup(t, s)
	_, err := s.GetClient(ctx, f.client.ID)
	must(t, err)
	must(t, s.SetClientSecret(ctx, f.client.ID, "sha256:rotated", at(time.Hour)))
	c, err := s.GetClient(ctx, f.client.ID)
	must(t, err)
	if c.SecretHash != "sha256:rotated" {
		t.Errorf("GetClient after SetClientSecret: secret hash %q", c.SecretHash)
	}
}

func testReadAfterUpsertClient(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := setup(t, s)
	_, err := s.GetClient(ctx, f.client.ID)
	must(t, err)
	changed := f.client
	changed.Scopes, changed.UpdatedAt = []string{"read"}, at(time.Hour)
	must(t, s.UpsertClient(ctx, changed))
	c, err := s.GetClient(ctx, f.client.ID)
	must(t, err)
	sameList(t, "scopes after UpsertClient", c.Scopes, changed.Scopes)
}

func testReadAfterDeleteClient(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := setup(t, s)
	must(t, s.SaveIssue(ctx, newIssue("g1", f)))
	_, err := s.GetClient(ctx, f.client.ID)
	must(t, err)
	wantRevocation(t, s, "", "g1", func() { must(t, s.DeleteClient(ctx, f.client.ID)) })
	_, err = s.GetClient(ctx, f.client.ID)
	wantErr(t, "GetClient after DeleteClient", err, store.ErrNotFound)
}

func testReadAfterDeleteUser(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := setup(t, s)
	must(t, s.SaveIssue(ctx, newIssue("g1", f)))
	wantRevocation(t, s, "", "g1", func() { must(t, s.DeleteUser(ctx, f.user.ID)) })
}

func testReadAfterRevokeGrant(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := setup(t, s)
	must(t, s.SaveIssue(ctx, newIssue("g1", f)))
	wantRevocation(t, s, "jti-1", "g1", func() { must(t, s.RevokeGrant(ctx, "g1", at(time.Hour))) })
}

func testReadAfterRevokeJTI(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := setup(t, s)
	must(t, s.SaveIssue(ctx, newIssue("g1", f)))
	wantRevocation(t, s, "jti-1", "g1", func() { must(t, s.RevokeJTI(ctx, "jti-1", at(24*time.Hour))) })
}

func testReadAfterRefreshReuse(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, iss := family(t, s)
	_, err := s.RotateRefreshToken(ctx, rotation(iss, "g1-rt", "rt2", at(time.Hour), 0))
	must(t, err)
	wantRevocation(t, s, "", "g1", func() {
		_, err := s.RotateRefreshToken(ctx, rotation(iss, "g1-rt", "rt3", at(2*time.Hour), 0))
		wantErr(t, "RotateRefreshToken(rotated token)", err, store.ErrReused)
	})
}

func testReadAfterDeleteExpired(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := setup(t, s)
	g := newGrant("g1", f.client.ID, f.user.ID) // no tokens: only JWTs rest on it
	must(t, s.SaveIssue(ctx, store.Issue{Grant: &g}))
	wantRevocation(t, s, "", "g1", func() {
		_, err := s.DeleteExpired(ctx, g.ExpiresAt.Add(time.Second), 100)
		must(t, err)
	})
}
