package storetest

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

func sessionTests() []subtest {
	return []subtest{
		{"SessionExpires", testSession},
		{"ConsentReplaced", testConsent},
		{"ListAndTouchSessions", testListSessions},
		{"ListAndDeleteConsents", testListConsents},
		{"ListUserGrants", testListUserGrants},
		{"AddFailureCounts_S025", testAddFailure},
		{"GetThrottles_S025", testGetThrottles},
		{"ClearFailures", testClearFailures},
	}
}

// newSession is a session of user created at 0 expiring at exp.
func newSession(digest, userID string, exp time.Time) store.Session {
	return store.Session{
		Digest:     digest,
		UserID:     userID,
		SID:        "sid-" + digest,
		UserAgent:  "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0",
		IP:         "192.0.2.7",
		AuthTime:   at(-time.Second + 111*ms),
		AMR:        []string{"pwd", "otp", "mfa"},
		ACR:        "urn:latchkey:acr:mfa",
		CreatedAt:  at(222 * ms),
		LastSeenAt: at(222 * ms),
		ExpiresAt:  exp,
	}
}

func testSession(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := setup(t, s)
	sess := newSession("sess-1", f.user.ID, at(8*time.Hour+333*ms))
	must(t, s.CreateSession(ctx, sess))
	wantErr(t, "CreateSession twice", s.CreateSession(ctx, sess), store.ErrConflict)
	got, err := s.GetSession(ctx, "sess-1", at(time.Hour))
	must(t, err)
	same(t, "GetSession", got, sess)

	// Expired at ExpiresAt and after.
	for _, now := range []time.Time{sess.ExpiresAt, at(9 * time.Hour)} {
		_, err = s.GetSession(ctx, "sess-1", now)
		wantErr(t, "GetSession at "+now.String(), err, store.ErrNotFound)
	}
	_, err = s.GetSession(ctx, "nope", at(0))
	wantErr(t, "GetSession(unknown)", err, store.ErrNotFound)

	must(t, s.DeleteSession(ctx, "sess-1"))
	_, err = s.GetSession(ctx, "sess-1", at(time.Hour))
	wantErr(t, "GetSession after DeleteSession", err, store.ErrNotFound)
	must(t, s.DeleteSession(ctx, "sess-1")) // unknown digests are not an error
}

func testConsent(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := setup(t, s)
	_, err := s.GetConsent(ctx, f.user.ID, f.client.ID)
	wantErr(t, "GetConsent before SaveConsent", err, store.ErrNotFound)

	first := store.Consent{UserID: f.user.ID, ClientID: f.client.ID,
		Scopes: []string{"openid", "profile"}, Resources: []string{"https://api.example", "https://files.example"}, GrantedAt: at(444 * ms)}
	must(t, s.SaveConsent(ctx, first))
	got, err := s.GetConsent(ctx, f.user.ID, f.client.ID)
	must(t, err)
	same(t, "GetConsent", got, first)

	second := store.Consent{UserID: f.user.ID, ClientID: f.client.ID,
		Scopes: []string{"email"}, GrantedAt: at(time.Hour + 555*ms)}
	must(t, s.SaveConsent(ctx, second))
	got, err = s.GetConsent(ctx, f.user.ID, f.client.ID)
	must(t, err)
	same(t, "GetConsent after a second SaveConsent", got, second)

	// Consents are per user and client.
	_, err = s.GetConsent(ctx, f.user2.ID, f.client.ID)
	wantErr(t, "GetConsent of another user", err, store.ErrNotFound)
	_, err = s.GetConsent(ctx, f.user.ID, f.other.ID)
	wantErr(t, "GetConsent to another client", err, store.ErrNotFound)
}

func testAddFailure(t *testing.T, s store.Store) {
	ctx := t.Context()
	const window = 15 * time.Minute
	steps := []struct {
		now  time.Time
		want int
	}{
		{at(0), 1},
		{at(time.Minute + 1*ms), 2},
		{at(2*time.Minute + 2*ms), 3},
		// More than a window after the last failure: counting starts again.
		{at(2*time.Minute + window + time.Second), 1},
		{at(3*time.Minute + window), 2},
	}
	for _, step := range steps {
		got, err := s.AddFailure(ctx, "user:alice", step.now, window)
		must(t, err)
		want := store.Throttle{Key: "user:alice", Failures: step.want, LastFailure: step.now, ExpiresAt: step.now.Add(window)}
		same(t, "AddFailure at "+step.now.String(), got, want)
	}
}

func testGetThrottles(t *testing.T, s store.Store) {
	ctx := t.Context()
	got, err := s.GetThrottles(ctx, nil, at(0))
	must(t, err)
	sameList(t, "GetThrottles(no keys)", got, nil)

	long, err := s.AddFailure(ctx, "ip:192.0.2.1", at(0), time.Hour)
	must(t, err)
	short, err := s.AddFailure(ctx, "user:bob", at(0), time.Minute)
	must(t, err)
	keys := []string{"user:bob", "missing", "ip:192.0.2.1"}

	got, err = s.GetThrottles(ctx, keys, at(30*time.Second))
	must(t, err)
	sameList(t, "GetThrottles while both count", sortThrottles(got), []store.Throttle{long, short})
	got, err = s.GetThrottles(ctx, keys, at(2*time.Minute))
	must(t, err)
	sameList(t, "GetThrottles after the short window", got, []store.Throttle{long})
}

func testClearFailures(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.AddFailure(ctx, "user:alice", at(0), time.Hour)
	must(t, err)
	must(t, s.ClearFailures(ctx, "user:alice"))
	got, err := s.GetThrottles(ctx, []string{"user:alice"}, at(time.Second))
	must(t, err)
	sameList(t, "GetThrottles after ClearFailures", got, nil)
	again, err := s.AddFailure(ctx, "user:alice", at(2*time.Second), time.Hour)
	must(t, err)
	if again.Failures != 1 {
		t.Errorf("AddFailure after ClearFailures: Failures = %d, want 1", again.Failures)
	}
	must(t, s.ClearFailures(ctx, "nope")) // unknown keys are not an error
}

// sortThrottles orders throttles by key (GetThrottles promises no order).
func sortThrottles(ts []store.Throttle) []store.Throttle {
	out := slices.Clone(ts)
	slices.SortFunc(out, func(a, b store.Throttle) int { return strings.Compare(a.Key, b.Key) })
	return out
}

// testListSessions: a user's live sessions, newest first, with what the
// account page shows; TouchSession moves last seen and the address.
func testListSessions(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := setup(t, s)
	older := newSession("sess-old", f.user.ID, at(8*time.Hour))
	newer := newSession("sess-new", f.user.ID, at(8*time.Hour))
	newer.CreatedAt = at(time.Minute + 5*ms)
	expired := newSession("sess-gone", f.user.ID, at(time.Hour))
	bobs := newSession("sess-bob", f.user2.ID, at(8*time.Hour))
	for _, sess := range []store.Session{older, newer, expired, bobs} {
		must(t, s.CreateSession(ctx, sess))
	}
	got, err := s.ListSessions(ctx, f.user.ID, at(2*time.Hour))
	must(t, err)
	same(t, "ListSessions", got, []store.Session{newer, older})

	must(t, s.TouchSession(ctx, "sess-old", at(3*time.Hour+7*ms), "2001:db8::1"))
	older.LastSeenAt, older.IP = at(3*time.Hour+7*ms), "2001:db8::1"
	one, err := s.GetSession(ctx, "sess-old", at(3*time.Hour))
	must(t, err)
	same(t, "GetSession after TouchSession", one, older)
	must(t, s.TouchSession(ctx, "nope", at(0), "192.0.2.1")) // unknown is not an error

	none, err := s.ListSessions(ctx, "u-nobody", at(0))
	must(t, err)
	if len(none) != 0 {
		t.Errorf("ListSessions(unknown user) = %v, want none", none)
	}
}

// testListConsents: a user's consents by client id; DeleteConsent forgets
// one and leaves the others.
func testListConsents(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := setup(t, s)
	app := store.Consent{UserID: f.user.ID, ClientID: f.client.ID, Scopes: []string{"openid", "profile"},
		Resources: []string{"https://api.example"}, GrantedAt: at(5 * ms)}
	other := store.Consent{UserID: f.user.ID, ClientID: f.other.ID, Scopes: []string{"openid"}, GrantedAt: at(6 * ms)}
	bobs := store.Consent{UserID: f.user2.ID, ClientID: f.client.ID, Scopes: []string{"openid"}, GrantedAt: at(7 * ms)}
	for _, c := range []store.Consent{other, app, bobs} {
		must(t, s.SaveConsent(ctx, c))
	}
	got, err := s.ListConsents(ctx, f.user.ID)
	must(t, err)
	same(t, "ListConsents", got, []store.Consent{app, other})

	must(t, s.DeleteConsent(ctx, f.user.ID, f.client.ID))
	must(t, s.DeleteConsent(ctx, f.user.ID, f.client.ID)) // twice is not an error
	got, err = s.ListConsents(ctx, f.user.ID)
	must(t, err)
	same(t, "ListConsents after DeleteConsent", got, []store.Consent{other})
	_, err = s.GetConsent(ctx, f.user2.ID, f.client.ID)
	must(t, err) // bob's consent to the same client stays
}

// testListUserGrants: live grants only (not revoked, not expired), all
// clients or one, with the session they came from.
func testListUserGrants(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := setup(t, s)
	first := newIssue("g-first", f)
	second := newIssue("g-second", f)
	second.Grant.CreatedAt = at(time.Minute)
	revoked := newIssue("g-revoked", f)
	short := newIssue("g-short", f)
	short.Grant.ExpiresAt = at(time.Hour)
	otherG := newGrant("g-other", f.other.ID, f.user.ID)
	bobs := newGrant("g-bob", f.client.ID, f.user2.ID)
	for _, iss := range []store.Issue{first, second, revoked, short, {Grant: &otherG}, {Grant: &bobs}} {
		must(t, s.SaveIssue(ctx, iss))
	}
	must(t, s.RevokeGrant(ctx, "g-revoked", at(time.Second)))

	all, err := s.ListUserGrants(ctx, f.user.ID, "", at(2*time.Hour))
	must(t, err)
	same(t, "ListUserGrants(all clients)", all, []store.Grant{*first.Grant, otherG, *second.Grant})
	app, err := s.ListUserGrants(ctx, f.user.ID, f.client.ID, at(30*time.Minute))
	must(t, err)
	same(t, "ListUserGrants(app)", app, []store.Grant{*first.Grant, *short.Grant, *second.Grant})
}
