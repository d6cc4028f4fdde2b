package storetest

import (
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

func codeTests() []subtest {
	return []subtest{
		{"AuthCodeRoundTrip", testAuthCodeRoundTrip},
		{"CreateAuthCodeConflict", testCreateAuthCodeConflict},
		{"CodeChallengeOncePerClient_S068", testChallengeOnce},
		{"RedeemAuthCodeStoresIssue_S017", testRedeemAuthCode},
		{"RedeemAuthCodeTwice_S019_S142", testRedeemTwice},
		{"RedeemAuthCodeUnknown", testRedeemUnknown},
		{"RedeemAuthCodeExpired_S017", testRedeemExpired},
		{"RedeemAuthCodeAtomic", testRedeemAtomic},
		{"SaveIssue", testSaveIssue},
	}
}

func testAuthCodeRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := setup(t, s)
	code := newCode("code-1", f, at(time.Minute+5*ms))
	must(t, s.CreateAuthCode(ctx, code))
	got, err := s.GetAuthCode(ctx, "code-1")
	must(t, err)
	same(t, "GetAuthCode", got, code)

	// Optional fields empty: no redirect URI given, no nonce, no session.
	bare := store.AuthCode{Digest: "code-2", ClientID: f.client.ID, UserID: f.user.ID,
		CodeChallenge: "x", CreatedAt: at(0), ExpiresAt: at(time.Minute)}
	must(t, s.CreateAuthCode(ctx, bare))
	got, err = s.GetAuthCode(ctx, "code-2")
	must(t, err)
	same(t, "GetAuthCode(bare)", got, bare)

	_, err = s.GetAuthCode(ctx, "nope")
	wantErr(t, "GetAuthCode(unknown)", err, store.ErrNotFound)
}

func testCreateAuthCodeConflict(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := setup(t, s)
	must(t, s.CreateAuthCode(ctx, newCode("code-1", f, at(time.Minute))))
	wantErr(t, "CreateAuthCode twice", s.CreateAuthCode(ctx, newCode("code-1", f, at(time.Hour))), store.ErrConflict)
}

func testRedeemAuthCode(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := setup(t, s)
	code := newCode("code-1", f, at(time.Minute))
	must(t, s.CreateAuthCode(ctx, code))
	iss := newIssue("g1", f)
	now := at(10*time.Second + 5*ms)
	must(t, s.RedeemAuthCode(ctx, "code-1", now, iss))

	got, err := s.GetAuthCode(ctx, "code-1")
	must(t, err)
	code.ConsumedAt, code.GrantID = now, iss.Grant.ID
	same(t, "redeemed code", got, code)
	checkIssueStored(t, s, iss)
}

// checkIssueStored fails unless every part of iss reads back as stored.
func checkIssueStored(t *testing.T, s store.Store, iss store.Issue) {
	t.Helper()
	ctx := t.Context()
	if iss.Grant != nil {
		g, err := s.GetGrant(ctx, iss.Grant.ID)
		must(t, err)
		same(t, "GetGrant", g, *iss.Grant)
	}
	if iss.Refresh != nil {
		rt, err := s.GetRefreshToken(ctx, iss.Refresh.Digest)
		must(t, err)
		same(t, "GetRefreshToken", rt, *iss.Refresh)
	}
	if iss.Access != nil {
		a, err := s.GetAccessToken(ctx, iss.Access.Digest)
		must(t, err)
		same(t, "GetAccessToken", a, *iss.Access)
	}
}

// checkIssueAbsent fails unless no part of iss was stored.
func checkIssueAbsent(t *testing.T, s store.Store, iss store.Issue) {
	t.Helper()
	ctx := t.Context()
	if iss.Grant != nil {
		_, err := s.GetGrant(ctx, iss.Grant.ID)
		wantErr(t, "GetGrant("+iss.Grant.ID+")", err, store.ErrNotFound)
	}
	if iss.Refresh != nil {
		_, err := s.GetRefreshToken(ctx, iss.Refresh.Digest)
		wantErr(t, "GetRefreshToken("+iss.Refresh.Digest+")", err, store.ErrNotFound)
	}
	if iss.Access != nil {
		_, err := s.GetAccessToken(ctx, iss.Access.Digest)
		wantErr(t, "GetAccessToken("+iss.Access.Digest+")", err, store.ErrNotFound)
	}
}

func testRedeemTwice(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := setup(t, s)
	must(t, s.CreateAuthCode(ctx, newCode("code-1", f, at(time.Minute))))
	first, second := newIssue("g1", f), newIssue("g2", f)
	must(t, s.RedeemAuthCode(ctx, "code-1", at(time.Second), first))
	err := s.RedeemAuthCode(ctx, "code-1", at(2*time.Second), second)
	wantErr(t, "second RedeemAuthCode", err, store.ErrConflict)

	got, err := s.GetAuthCode(ctx, "code-1")
	must(t, err)
	if got.GrantID != "g1" {
		t.Errorf("GrantID after replay = %q, want the first redemption's g1", got.GrantID)
	}
	sameTime(t, "ConsumedAt after replay", got.ConsumedAt, at(time.Second))
	checkIssueStored(t, s, first)
	checkIssueAbsent(t, s, second)
}

func testRedeemUnknown(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := setup(t, s)
	iss := newIssue("g1", f)
	wantErr(t, "RedeemAuthCode(unknown)", s.RedeemAuthCode(ctx, "nope", at(0), iss), store.ErrNotFound)
	checkIssueAbsent(t, s, iss)
}

func testRedeemExpired(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := setup(t, s)
	code := newCode("code-1", f, at(time.Minute))
	must(t, s.CreateAuthCode(ctx, code))
	iss := newIssue("g1", f)
	// A code is expired at its ExpiresAt and after.
	for _, now := range []time.Time{at(time.Minute), at(time.Hour)} {
		err := s.RedeemAuthCode(ctx, "code-1", now, iss)
		wantErr(t, "RedeemAuthCode at "+now.String(), err, store.ErrNotFound)
	}
	got, err := s.GetAuthCode(ctx, "code-1")
	must(t, err)
	same(t, "expired code", got, code)
	checkIssueAbsent(t, s, iss)

	// A code used in time and replayed after expiry is still a replay.
	must(t, s.CreateAuthCode(ctx, newCode("code-2", f, at(time.Minute))))
	must(t, s.RedeemAuthCode(ctx, "code-2", at(time.Second), newIssue("g2", f)))
	err = s.RedeemAuthCode(ctx, "code-2", at(time.Hour), newIssue("g3", f))
	wantErr(t, "replay after expiry", err, store.ErrConflict)
}

func testRedeemAtomic(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := setup(t, s)
	taken := newIssue("g0", f)
	must(t, s.SaveIssue(ctx, taken))
	code := newCode("code-1", f, at(time.Minute))
	must(t, s.CreateAuthCode(ctx, code))

	// The issue cannot be stored (its refresh token digest exists): the
	// code must stay unconsumed and nothing of the issue may remain.
	bad := newIssue("g1", f)
	bad.Refresh.Digest = taken.Refresh.Digest
	if err := s.RedeemAuthCode(ctx, "code-1", at(time.Second), bad); err == nil {
		t.Fatal("RedeemAuthCode stored an issue whose refresh token digest was taken")
	}
	got, err := s.GetAuthCode(ctx, "code-1")
	must(t, err)
	same(t, "code after a failed redemption", got, code)
	checkIssueAbsent(t, s, store.Issue{Grant: bad.Grant, Access: bad.Access})

	good := newIssue("g2", f)
	must(t, s.RedeemAuthCode(ctx, "code-1", at(2*time.Second), good))
	checkIssueStored(t, s, good)
}

func testSaveIssue(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := setup(t, s)
	full := newIssue("g1", f)
	must(t, s.SaveIssue(ctx, full))
	checkIssueStored(t, s, full)

	// Client credentials with an opaque access token: no user, no
	// auth_time, no absolute lifetime, no refresh token.
	g := newGrant("cc", f.client.ID, "")
	g.AuthTime, g.Nonce, g.ExpiresAt = time.Time{}, "", time.Time{}
	a := newAccess("cc-at", g, at(time.Hour))
	cc := store.Issue{Grant: &g, Access: &a}
	must(t, s.SaveIssue(ctx, cc))
	checkIssueStored(t, s, cc)

	// An opaque access token without a grant.
	lone := newAccess("lone-at", store.Grant{ClientID: f.client.ID}, at(time.Hour))
	must(t, s.SaveIssue(ctx, store.Issue{Access: &lone}))
	checkIssueStored(t, s, store.Issue{Access: &lone})

	_, err := s.GetGrant(ctx, "nope")
	wantErr(t, "GetGrant(unknown)", err, store.ErrNotFound)
	wantErr(t, "SaveIssue of a taken grant ID", s.SaveIssue(ctx, newIssue("g1", f)), store.ErrConflict)
}

// testChallengeOnce: a client may not use one PKCE challenge for two codes
// (S068); another client may, and codes without a challenge never collide.
func testChallengeOnce(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := setup(t, s)
	first := newCode("code-1", f, at(time.Minute))
	must(t, s.CreateAuthCode(ctx, first))
	again := newCode("code-2", f, at(time.Minute))
	again.CodeChallenge = first.CodeChallenge
	wantErr(t, "CreateAuthCode(same client, same challenge)", s.CreateAuthCode(ctx, again), store.ErrConflict)
	other := again
	other.ClientID = f.other.ID
	must(t, s.CreateAuthCode(ctx, other))
	for _, d := range []string{"plain-1", "plain-2"} {
		c := newCode(d, f, at(time.Minute))
		c.CodeChallenge = ""
		must(t, s.CreateAuthCode(ctx, c))
	}
}
