package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

func cleanupTests() []subtest {
	return []subtest{
		{"DeleteExpired", testDeleteExpired},
		{"DeleteExpiredLimit", testDeleteExpiredLimit},
		{"DeleteClientCascades", testDeleteClientCascades},
		{"DeleteUserCascades", testDeleteUserCascades},
	}
}

// seedExpiry stores expired and live rows of every kind for a DeleteExpired
// at 10h, and returns how many rows are expired and the live issue.
func seedExpiry(t *testing.T, s store.Store, f fixture) (int, store.Issue) {
	t.Helper()
	ctx := t.Context()
	must(t, s.CreateAuthCode(ctx, newCode("code-old", f, at(time.Minute))))
	must(t, s.CreateAuthCode(ctx, newCode("code-live", f, at(11*time.Hour))))

	// An expired grant whose tokens expired too: all three go.
	old := newIssue("g-old", f)
	old.Grant.ExpiresAt, old.Refresh.ExpiresAt, old.Access.ExpiresAt = at(2*time.Hour), at(time.Hour), at(time.Hour)
	must(t, s.SaveIssue(ctx, old))
	// A live grant with live tokens.
	live := newIssue("g-live", f)
	live.Access.ExpiresAt = at(11 * time.Hour)
	must(t, s.SaveIssue(ctx, live))
	// A grant without absolute lifetime and without rows of its own may
	// still stand behind JWT access tokens: it stays.
	jwtOnly := newGrant("g-jwt", f.client.ID, f.user.ID)
	jwtOnly.ExpiresAt = time.Time{}
	must(t, s.SaveIssue(ctx, store.Issue{Grant: &jwtOnly}))
	// A revoked grant without rows of its own goes: gone reads as revoked.
	revoked := newGrant("g-revoked", f.client.ID, f.user.ID)
	must(t, s.SaveIssue(ctx, store.Issue{Grant: &revoked}))
	must(t, s.RevokeGrant(ctx, "g-revoked", at(time.Minute)))
	// A revoked grant whose refresh token has a month to live: the token is
	// refused either way, so both go now rather than in a month (a gc that
	// kept them would walk every such grant on every pass).
	revokedFamily := newIssue("g-revoked-family", f)
	revokedFamily.Access = nil
	must(t, s.SaveIssue(ctx, revokedFamily))
	must(t, s.RevokeGrant(ctx, "g-revoked-family", at(time.Minute)))
	// A grant past its absolute lifetime whose last refresh token (issued
	// late in its life) would live on: refused either way, so both go now.
	pastAbsolute := newIssue("g-past-absolute", f)
	pastAbsolute.Access = nil
	pastAbsolute.Grant.ExpiresAt = at(2 * time.Hour)
	must(t, s.SaveIssue(ctx, pastAbsolute))

	must(t, s.RevokeJTI(ctx, "jti-old", at(time.Hour)))
	must(t, s.RevokeJTI(ctx, "jti-live", at(11*time.Hour)))
	must(t, s.CreateSession(ctx, newSession("sess-old", f.user.ID, at(time.Hour))))
	must(t, s.CreateSession(ctx, newSession("sess-live", f.user.ID, at(11*time.Hour))))
	_, err := s.AddFailure(ctx, "throttle-old", at(0), time.Minute)
	must(t, err)
	_, err = s.AddFailure(ctx, "throttle-live", at(9*time.Hour+59*time.Minute), time.Hour)
	must(t, err)
	for key, exp := range map[string]time.Time{"replay-old": at(time.Hour), "replay-live": at(11 * time.Hour)} {
		if !useOnce(t, s, key, exp, at(0)) {
			t.Fatalf("UseOnce(%s) of a fresh key = false", key)
		}
	}
	must(t, s.CreatePushedRequest(ctx, newPushed("par-old", f.client.ID, at(time.Hour))))
	must(t, s.CreatePushedRequest(ctx, newPushed("par-live", f.client.ID, at(11*time.Hour))))
	must(t, s.CreateDeviceCode(ctx, newDevice("device-old", f, at(time.Hour))))
	must(t, s.CreateDeviceCode(ctx, newDevice("device-live", f, at(11*time.Hour))))
	// code, 4 grants, 3 refresh tokens, access token, jti, session,
	// throttle, replay record, pushed request, device code
	return 15, live
}

func testDeleteExpired(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := setup(t, s)
	want, live := seedExpiry(t, s, f)
	now := at(10 * time.Hour)

	// A backend may need more than one call to remove a grant whose tokens
	// it removes in the same call; the total is what counts.
	total := 0
	for range 5 {
		n, err := s.DeleteExpired(ctx, now, 100)
		must(t, err)
		if n == 0 {
			break
		}
		total += n
	}
	if total != want {
		t.Errorf("DeleteExpired removed %d rows, want %d", total, want)
	}

	_, err := s.GetAuthCode(ctx, "code-old")
	wantErr(t, "GetAuthCode(code-old)", err, store.ErrNotFound)
	_, err = s.GetAuthCode(ctx, "code-live")
	must(t, err)
	checkIssueAbsent(t, s, newIssue("g-old", f))
	checkIssueStored(t, s, live)
	_, err = s.GetGrant(ctx, "g-jwt")
	must(t, err)
	_, err = s.GetGrant(ctx, "g-revoked")
	wantErr(t, "GetGrant(g-revoked)", err, store.ErrNotFound)
	checkIssueAbsent(t, s, newIssue("g-revoked-family", f))
	checkIssueAbsent(t, s, newIssue("g-past-absolute", f))

	for jti, want := range map[string]bool{"jti-old": false, "jti-live": true} {
		got, err := s.IsRevoked(ctx, jti, "")
		must(t, err)
		if got != want {
			t.Errorf("IsRevoked(%s) after DeleteExpired = %v, want %v", jti, got, want)
		}
	}
	_, err = s.GetSession(ctx, "sess-old", at(0)) // would be live at 0 if kept
	wantErr(t, "GetSession(sess-old)", err, store.ErrNotFound)
	_, err = s.GetSession(ctx, "sess-live", now)
	must(t, err)
	got, err := s.GetThrottles(ctx, []string{"throttle-old"}, at(0)) // would count at 0 if kept
	must(t, err)
	if len(got) != 0 {
		t.Errorf("GetThrottles(throttle-old) after DeleteExpired = %+v, want it gone", got)
	}
	got, err = s.GetThrottles(ctx, []string{"throttle-live"}, now)
	must(t, err)
	if len(got) != 1 {
		t.Errorf("GetThrottles(throttle-live) = %+v, want it kept", got)
	}
	if !useOnce(t, s, "replay-old", at(time.Hour), at(0)) { // refused at 0 if kept
		t.Error("UseOnce(replay-old) after DeleteExpired = false, want its record gone")
	}
	if useOnce(t, s, "replay-live", at(12*time.Hour), now) {
		t.Error("UseOnce(replay-live) after DeleteExpired = true, want its record kept")
	}
	_, err = s.TakePushedRequest(ctx, "par-old", f.client.ID, at(0)) // takeable at 0 if kept
	wantErr(t, "TakePushedRequest(par-old)", err, store.ErrNotFound)
	_, err = s.TakePushedRequest(ctx, "par-live", f.client.ID, now)
	must(t, err)
	// A poll finds a code at any age unless it was removed.
	_, err = s.PollDeviceCode(ctx, "device-old", f.client.ID, now)
	wantErr(t, "PollDeviceCode(device-old)", err, store.ErrNotFound)
	_, err = s.PollDeviceCode(ctx, "device-live", f.client.ID, now)
	must(t, err)
}

func testDeleteExpiredLimit(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := setup(t, s)
	for _, d := range []string{"c1", "c2", "c3", "c4", "c5"} {
		must(t, s.CreateAuthCode(ctx, newCode(d, f, at(time.Minute))))
	}
	must(t, s.CreateAuthCode(ctx, newCode("live", f, at(time.Hour))))
	// The limit is per kind: replay records, pushed requests and device
	// codes too.
	for i := range 5 {
		if !useOnce(t, s, fmt.Sprintf("replay-%d", i), at(time.Minute), at(0)) {
			t.Fatalf("UseOnce(replay-%d) of a fresh key = false", i)
		}
		must(t, s.CreatePushedRequest(ctx, newPushed(fmt.Sprintf("par-%d", i), f.client.ID, at(time.Minute))))
		must(t, s.CreateDeviceCode(ctx, newDevice(fmt.Sprintf("device-%d", i), f, at(time.Minute))))
	}
	for i, want := range []int{8, 8, 4, 0} {
		n, err := s.DeleteExpired(ctx, at(30*time.Minute), 2)
		must(t, err)
		if n != want {
			t.Fatalf("DeleteExpired call %d with limit 2 removed %d rows, want %d", i+1, n, want)
		}
	}
	_, err := s.GetAuthCode(ctx, "live")
	must(t, err)
}

// seedOwned stores, for client c and user u, a code, an issue, an opaque
// access token without grant, a consent and a session, named after name.
func seedOwned(t *testing.T, s store.Store, name string, c store.Client, u store.User) {
	t.Helper()
	ctx := t.Context()
	f := fixture{client: c, user: u}
	must(t, s.CreateAuthCode(ctx, newCode(name+"-code", f, at(time.Minute))))
	iss := newIssue(name, f)
	must(t, s.SaveIssue(ctx, iss))
	lone := newAccess(name+"-lone", store.Grant{ClientID: c.ID, UserID: u.ID}, at(time.Hour))
	must(t, s.SaveIssue(ctx, store.Issue{Access: &lone}))
	must(t, s.SaveConsent(ctx, store.Consent{UserID: u.ID, ClientID: c.ID, Scopes: []string{"openid"}, GrantedAt: at(0)}))
	must(t, s.CreateSession(ctx, newSession(name+"-sess", u.ID, at(time.Hour))))
}

// checkOwned fails unless what seedOwned stored under name is all there
// (gone false) or all gone, grant unusable (gone true). The session is
// checked only when session is set (sessions belong to users only).
func checkOwned(t *testing.T, s store.Store, name string, c store.Client, u store.User, gone, session bool) {
	t.Helper()
	ctx := t.Context()
	iss := newIssue(name, fixture{client: c, user: u})
	lone := newAccess(name+"-lone", store.Grant{ClientID: c.ID, UserID: u.ID}, at(time.Hour))
	_, codeErr := s.GetAuthCode(ctx, name+"-code")
	_, consentErr := s.GetConsent(ctx, u.ID, c.ID)
	_, sessErr := s.GetSession(ctx, name+"-sess", at(0))
	revoked, err := s.IsRevoked(ctx, "", iss.Grant.ID)
	must(t, err)
	if !gone {
		must(t, codeErr)
		must(t, consentErr)
		must(t, sessErr)
		checkIssueStored(t, s, iss)
		checkIssueStored(t, s, store.Issue{Access: &lone})
		return
	}
	wantErr(t, "GetAuthCode("+name+"-code)", codeErr, store.ErrNotFound)
	wantErr(t, "GetConsent", consentErr, store.ErrNotFound)
	if session {
		wantErr(t, "GetSession("+name+"-sess)", sessErr, store.ErrNotFound)
	}
	checkIssueAbsent(t, s, iss)
	checkIssueAbsent(t, s, store.Issue{Access: &lone})
	if !revoked {
		t.Errorf(`IsRevoked("", %s) = false after its owner was deleted`, iss.Grant.ID)
	}
}

func testDeleteClientCascades(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := setup(t, s)
	seedOwned(t, s, "mine", f.client, f.user)
	seedOwned(t, s, "theirs", f.other, f.user2)
	must(t, s.DeleteClient(ctx, f.client.ID))

	_, err := s.GetClient(ctx, f.client.ID)
	wantErr(t, "GetClient after DeleteClient", err, store.ErrNotFound)
	checkOwned(t, s, "mine", f.client, f.user, true, false)
	checkOwned(t, s, "theirs", f.other, f.user2, false, false)
	_, err = s.GetUser(ctx, f.user.ID)
	must(t, err)
	_, err = s.GetSession(ctx, "mine-sess", at(0)) // the user's session stays
	must(t, err)
	wantErr(t, "DeleteClient twice", s.DeleteClient(ctx, f.client.ID), store.ErrNotFound)
}

func testDeleteUserCascades(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := setup(t, s)
	seedOwned(t, s, "mine", f.client, f.user)
	seedOwned(t, s, "theirs", f.client, f.user2)
	must(t, s.DeleteUser(ctx, f.user.ID))

	_, err := s.GetUser(ctx, f.user.ID)
	wantErr(t, "GetUser after DeleteUser", err, store.ErrNotFound)
	checkOwned(t, s, "mine", f.client, f.user, true, true)
	checkOwned(t, s, "theirs", f.client, f.user2, false, false)
	_, err = s.GetClient(ctx, f.client.ID)
	must(t, err)
	wantErr(t, "DeleteUser twice", s.DeleteUser(ctx, f.user.ID), store.ErrNotFound)
}
