package storetest

import (
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

func rotationTests() []subtest {
	return []subtest{
		{"Rotate_S133", testRotate},
		{"RotateReuseRevokesFamily_S133", testRotateReuse},
		{"RotateStoresSuccessorBindings_RFC8707_RFC9449", testRotateBindings},
		{"RotateReuseWithinGrace", testRotateGrace},
		{"RotateReuseAfterGrace_S133", testRotateAfterGrace},
		{"RotateReuseOtherSuccessor_S133", testRotateOtherSuccessor},
		{"RotateReuseSuccessorRotated_S133", testRotateSuccessorRotated},
		{"RotateWrongClient_S034_S035", testRotateWrongClient},
		{"RotateExpired_S034", testRotateExpired},
		{"RotateRevoked_S034", testRotateRevoked},
		{"RotateGrantExpired_S135", testRotateGrantExpired},
		{"RotateUnknown_S034", testRotateUnknown},
	}
}

// family stores an issue "g1" for f.client and f.user and returns it.
func family(t *testing.T, s store.Store) (fixture, store.Issue) {
	t.Helper()
	f := setup(t, s)
	iss := newIssue("g1", f)
	must(t, s.SaveIssue(t.Context(), iss))
	return f, iss
}

// rotation asks to rotate iss's token old into a new token next at now.
func rotation(iss store.Issue, old, next string, now time.Time, grace time.Duration) store.Rotation {
	a := newAccess(next+"-at", *iss.Grant, now.Add(time.Hour))
	return store.Rotation{
		OldDigest: old,
		ClientID:  iss.Grant.ClientID,
		Next:      newRefresh(next, *iss.Grant, now.Add(24*time.Hour)),
		Access:    &a,
		Now:       now,
		Grace:     grace,
	}
}

// checkRefresh fails unless the refresh token want.Digest reads back as want.
func checkRefresh(t *testing.T, s store.Store, what string, want store.RefreshToken) {
	t.Helper()
	got, err := s.GetRefreshToken(t.Context(), want.Digest)
	must(t, err)
	same(t, what, got, want)
}

// checkFamilyRevoked fails unless the grant, its refresh tokens and its
// opaque access tokens are all revoked.
func checkFamilyRevoked(t *testing.T, s store.Store, grantID string, refresh, access []string) {
	t.Helper()
	ctx := t.Context()
	g, err := s.GetGrant(ctx, grantID)
	must(t, err)
	if g.RevokedAt.IsZero() {
		t.Errorf("grant %s not revoked", grantID)
	}
	for _, d := range refresh {
		rt, err := s.GetRefreshToken(ctx, d)
		must(t, err)
		if rt.RevokedAt.IsZero() || rt.GrantRevokedAt.IsZero() {
			t.Errorf("refresh token %s: RevokedAt %v, GrantRevokedAt %v; want both set", d, rt.RevokedAt, rt.GrantRevokedAt)
		}
	}
	for _, d := range access {
		_, err := s.GetAccessToken(ctx, d)
		wantErr(t, "GetAccessToken("+d+") of a revoked family", err, store.ErrNotFound)
	}
	revoked, err := s.IsRevoked(ctx, "", grantID)
	must(t, err)
	if !revoked {
		t.Errorf(`IsRevoked("", %s) = false`, grantID)
	}
}

// checkFamilyStands fails if the grant was revoked.
func checkFamilyStands(t *testing.T, s store.Store, grantID string) {
	t.Helper()
	revoked, err := s.IsRevoked(t.Context(), "", grantID)
	must(t, err)
	if revoked {
		t.Fatalf("grant %s was revoked", grantID)
	}
}

func testRotate(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, iss := family(t, s)
	r := rotation(iss, "g1-rt", "rt2", at(time.Hour+7*ms), 0)
	got, err := s.RotateRefreshToken(ctx, r)
	must(t, err)
	same(t, "RotateRefreshToken result", got, r.Next)
	checkRefresh(t, s, "successor", r.Next)
	old := *iss.Refresh
	old.RotatedAt, old.Next = r.Now, "rt2"
	checkRefresh(t, s, "rotated token", old)
	checkIssueStored(t, s, store.Issue{Access: r.Access})
	checkIssueStored(t, s, store.Issue{Access: iss.Access}) // rotation revokes nothing
	checkFamilyStands(t, s, "g1")
}

// testRotateBindings checks that the successor keeps the resource
// indicators and DPoP binding that Next carries, whatever the old token's
// were (the server decides them), and that the grace answer returns them.
func testRotateBindings(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, iss := family(t, s)
	r := rotation(iss, "g1-rt", "rt2", at(time.Hour), 10*time.Second)
	r.Next.Resources = []string{"https://files.example/"}
	r.Next.JKT = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
	r.Access.JKT = r.Next.JKT
	got, err := s.RotateRefreshToken(ctx, r)
	must(t, err)
	same(t, "RotateRefreshToken result", got, r.Next)
	checkRefresh(t, s, "successor", r.Next)
	checkIssueStored(t, s, store.Issue{Access: r.Access})

	again := rotation(iss, "g1-rt", "rt2", at(time.Hour+time.Second), 10*time.Second)
	again.Access.Digest += "-again"
	got, err = s.RotateRefreshToken(ctx, again)
	must(t, err)
	same(t, "successor returned within grace", got, r.Next)

	unbound := rotation(iss, "rt2", "rt3", at(2*time.Hour), 0)
	unbound.Next.Resources, unbound.Next.JKT = nil, ""
	got, err = s.RotateRefreshToken(ctx, unbound)
	must(t, err)
	same(t, "RotateRefreshToken result without bindings", got, unbound.Next)
	checkRefresh(t, s, "successor without bindings", unbound.Next)
}

func testRotateReuse(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, iss := family(t, s)
	first := rotation(iss, "g1-rt", "rt2", at(time.Hour), 0)
	_, err := s.RotateRefreshToken(ctx, first)
	must(t, err)
	replay := rotation(iss, "g1-rt", "rt3", at(2*time.Hour), 0)
	_, err = s.RotateRefreshToken(ctx, replay)
	wantErr(t, "RotateRefreshToken(rotated token)", err, store.ErrReused)

	checkFamilyRevoked(t, s, "g1", []string{"g1-rt", "rt2"}, []string{"g1-at", "rt2-at"})
	checkIssueAbsent(t, s, store.Issue{Refresh: &replay.Next, Access: replay.Access})
	// The successor is revoked with the family.
	_, err = s.RotateRefreshToken(ctx, rotation(iss, "rt2", "rt4", at(3*time.Hour), 0))
	wantErr(t, "RotateRefreshToken(revoked successor)", err, store.ErrNotFound)
}

func testRotateGrace(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, iss := family(t, s)
	first := rotation(iss, "g1-rt", "rt2", at(time.Hour), 10*time.Second)
	want, err := s.RotateRefreshToken(ctx, first)
	must(t, err)
	// Within the grace window (its end included), with the same successor:
	// the stored successor again, and the new access token stored.
	for i, now := range []time.Time{at(time.Hour + 5*time.Second), at(time.Hour + 10*time.Second)} {
		again := rotation(iss, "g1-rt", "rt2", now, 10*time.Second)
		again.Access.Digest = again.Access.Digest + string(rune('a'+i))
		got, err := s.RotateRefreshToken(ctx, again)
		must(t, err)
		same(t, "successor returned within grace", got, want)
		checkIssueStored(t, s, store.Issue{Access: again.Access})
	}
	checkFamilyStands(t, s, "g1")
	checkRefresh(t, s, "successor", want)
}

func testRotateAfterGrace(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, iss := family(t, s)
	_, err := s.RotateRefreshToken(ctx, rotation(iss, "g1-rt", "rt2", at(time.Hour), 10*time.Second))
	must(t, err)
	late := rotation(iss, "g1-rt", "rt2", at(time.Hour+11*time.Second), 10*time.Second)
	_, err = s.RotateRefreshToken(ctx, late)
	wantErr(t, "reuse after the grace window", err, store.ErrReused)
	checkFamilyRevoked(t, s, "g1", []string{"g1-rt", "rt2"}, []string{"g1-at", "rt2-at"})
}

func testRotateOtherSuccessor(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, iss := family(t, s)
	_, err := s.RotateRefreshToken(ctx, rotation(iss, "g1-rt", "rt2", at(time.Hour), 10*time.Second))
	must(t, err)
	other := rotation(iss, "g1-rt", "rt-other", at(time.Hour+time.Second), 10*time.Second)
	_, err = s.RotateRefreshToken(ctx, other)
	wantErr(t, "reuse within grace with another successor", err, store.ErrReused)
	checkFamilyRevoked(t, s, "g1", []string{"g1-rt", "rt2"}, []string{"g1-at"})
}

func testRotateSuccessorRotated(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, iss := family(t, s)
	_, err := s.RotateRefreshToken(ctx, rotation(iss, "g1-rt", "rt2", at(time.Hour), 10*time.Second))
	must(t, err)
	_, err = s.RotateRefreshToken(ctx, rotation(iss, "rt2", "rt3", at(time.Hour+time.Second), 10*time.Second))
	must(t, err)
	stale := rotation(iss, "g1-rt", "rt2", at(time.Hour+2*time.Second), 10*time.Second)
	_, err = s.RotateRefreshToken(ctx, stale)
	wantErr(t, "reuse within grace of a successor rotated since", err, store.ErrReused)
	checkFamilyRevoked(t, s, "g1", []string{"g1-rt", "rt2", "rt3"}, []string{"g1-at", "rt2-at", "rt3-at"})
}

func testRotateWrongClient(t *testing.T, s store.Store) {
	ctx := t.Context()
	f, iss := family(t, s)
	r := rotation(iss, "g1-rt", "rt2", at(time.Hour), 0)
	r.ClientID = f.other.ID
	_, err := s.RotateRefreshToken(ctx, r)
	wantErr(t, "RotateRefreshToken by another client", err, store.ErrNotFound)
	checkRefresh(t, s, "token after a wrong client's try", *iss.Refresh)
	checkIssueAbsent(t, s, store.Issue{Refresh: &r.Next, Access: r.Access})

	// Another client presenting a rotated token is not a reuse either.
	_, err = s.RotateRefreshToken(ctx, rotation(iss, "g1-rt", "rt3", at(2*time.Hour), 0))
	must(t, err)
	r = rotation(iss, "g1-rt", "rt4", at(3*time.Hour), 0)
	r.ClientID = f.other.ID
	_, err = s.RotateRefreshToken(ctx, r)
	wantErr(t, "rotated token by another client", err, store.ErrNotFound)
	checkFamilyStands(t, s, "g1")
}

func testRotateExpired(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, iss := family(t, s)
	for _, now := range []time.Time{iss.Refresh.ExpiresAt, iss.Refresh.ExpiresAt.Add(time.Hour)} {
		r := rotation(iss, "g1-rt", "rt2", now, 0)
		_, err := s.RotateRefreshToken(ctx, r)
		wantErr(t, "RotateRefreshToken(expired)", err, store.ErrNotFound)
		checkIssueAbsent(t, s, store.Issue{Refresh: &r.Next, Access: r.Access})
	}
	checkRefresh(t, s, "expired token", *iss.Refresh)
	checkFamilyStands(t, s, "g1")
}

func testRotateRevoked(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, iss := family(t, s)
	must(t, s.RevokeGrant(ctx, "g1", at(time.Minute)))
	r := rotation(iss, "g1-rt", "rt2", at(time.Hour), 0)
	_, err := s.RotateRefreshToken(ctx, r)
	wantErr(t, "RotateRefreshToken(revoked)", err, store.ErrNotFound)
	checkIssueAbsent(t, s, store.Issue{Refresh: &r.Next, Access: r.Access})
}

func testRotateGrantExpired(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := setup(t, s)
	iss := newIssue("g1", f)
	iss.Grant.ExpiresAt = at(2 * time.Hour) // before the refresh token's expiry
	must(t, s.SaveIssue(ctx, iss))
	r := rotation(iss, "g1-rt", "rt2", at(3*time.Hour), 0)
	_, err := s.RotateRefreshToken(ctx, r)
	wantErr(t, "RotateRefreshToken past the grant's lifetime", err, store.ErrNotFound)
	checkRefresh(t, s, "token of an expired grant", *iss.Refresh)
}

func testRotateUnknown(t *testing.T, s store.Store) {
	_, iss := family(t, s)
	r := rotation(iss, "nope", "rt2", at(time.Hour), 0)
	_, err := s.RotateRefreshToken(t.Context(), r)
	wantErr(t, "RotateRefreshToken(unknown)", err, store.ErrNotFound)
	checkIssueAbsent(t, s, store.Issue{Refresh: &r.Next, Access: r.Access})
}
