package storetest

import (
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

func deviceTests() []subtest {
	return []subtest{
		{"DeviceCodeRoundTrip_S188", testDeviceRoundTrip},
		{"CreateDeviceCodeConflict_S193", testCreateDeviceConflict},
		{"DeviceCodeExpired_S193", testDeviceExpired},
		{"PollDeviceCodeInterval_S190", testPollInterval},
		{"PollDeviceCodeOtherClient_S191", testPollOtherClient},
		{"PollDeviceCodeAnyState_S190", testPollAnyState},
		{"DecideDeviceCodeOnce_S195", testDecideDevice},
		{"RedeemDeviceCode_S191", testRedeemDevice},
		{"RedeemDeviceCodeAtomic", testRedeemDeviceAtomic},
		{"DeleteClientAndUserRemoveDeviceCodes", testDeleteRemovesDevice},
	}
}

// newDevice is a pending device code of f.client with a 5 s interval,
// expiring at exp; its user code digest is "uc-" + digest.
func newDevice(digest string, f fixture, exp time.Time) store.DeviceCode {
	return store.DeviceCode{
		Digest:         digest,
		UserCodeDigest: "uc-" + digest,
		ClientID:       f.client.ID,
		Scopes:         []string{"openid", "offline_access"},
		Resources:      []string{"https://api.example", "https://files.example/"},
		Interval:       5 * time.Second,
		CreatedAt:      at(21 * ms),
		ExpiresAt:      exp,
	}
}

// poll calls PollDeviceCode by f.client and fails the test on an error.
func poll(t *testing.T, s store.Store, digest string, f fixture, now time.Time) store.DeviceCode {
	t.Helper()
	d, err := s.PollDeviceCode(t.Context(), digest, f.client.ID, now)
	must(t, err)
	return d
}

// getDevice reads the code with digest back by its user code at 0.
func getDevice(t *testing.T, s store.Store, digest string) store.DeviceCode {
	t.Helper()
	d, err := s.GetDeviceCodeByUserCode(t.Context(), "uc-"+digest, at(0))
	must(t, err)
	return d
}

func approval(f fixture, now time.Time) store.DeviceDecision {
	return store.DeviceDecision{UserID: f.user.ID, AuthTime: at(-time.Minute + 250*ms), Approved: true, At: now,
		AMR: []string{"pwd", "otp", "mfa"}, ACR: "urn:latchkey:acr:mfa"}
}

func testDeviceRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := setup(t, s)
	fresh := newDevice("dc-1", f, at(10*time.Minute+5*ms))
	must(t, s.CreateDeviceCode(ctx, fresh))
	same(t, "GetDeviceCodeByUserCode(fresh)", getDevice(t, s, "dc-1"), fresh)

	// Every field set, as a redeemed code has them.
	full := newDevice("dc-2", f, at(10*time.Minute))
	full.Interval, full.LastPollAt, full.SlowDown = 15*time.Second, at(40*ms), true
	full.UserID, full.AuthTime, full.ApprovedAt = f.user.ID, at(-time.Minute+250*ms), at(30*ms)
	full.ConsumedAt, full.GrantID = at(41*ms), "g1"
	full.AMR, full.ACR = []string{"pwd", "otp", "mfa"}, "urn:latchkey:acr:mfa"
	must(t, s.CreateDeviceCode(ctx, full))
	same(t, "GetDeviceCodeByUserCode(full)", getDevice(t, s, "dc-2"), full)

	_, err := s.GetDeviceCodeByUserCode(ctx, "uc-nope", at(0))
	wantErr(t, "GetDeviceCodeByUserCode(unknown)", err, store.ErrNotFound)
}

// testCreateDeviceConflict: a user code is unique among stored codes, so
// the one a person types finds one request only (S193).
func testCreateDeviceConflict(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := setup(t, s)
	must(t, s.CreateDeviceCode(ctx, newDevice("dc-1", f, at(time.Minute))))
	again := newDevice("dc-1", f, at(time.Minute))
	again.UserCodeDigest = "uc-other"
	wantErr(t, "CreateDeviceCode(same digest)", s.CreateDeviceCode(ctx, again), store.ErrConflict)
	sameUser := newDevice("dc-2", f, at(time.Minute))
	sameUser.UserCodeDigest = "uc-dc-1"
	wantErr(t, "CreateDeviceCode(same user code)", s.CreateDeviceCode(ctx, sameUser), store.ErrConflict)
}

func testDeviceExpired(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := setup(t, s)
	must(t, s.CreateDeviceCode(ctx, newDevice("dc-1", f, at(time.Minute))))
	_, err := s.GetDeviceCodeByUserCode(ctx, "uc-dc-1", at(time.Minute-ms))
	must(t, err)
	for _, now := range []time.Time{at(time.Minute), at(time.Hour)} {
		_, err := s.GetDeviceCodeByUserCode(ctx, "uc-dc-1", now)
		wantErr(t, "GetDeviceCodeByUserCode at "+now.String(), err, store.ErrNotFound)
	}
}

// testPollInterval: a poll sooner than the interval (less the tolerance)
// slows the code down by 5 s, for good; one that waits long enough is not
// slowed (S190).
func testPollInterval(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := setup(t, s)
	must(t, s.CreateDeviceCode(ctx, newDevice("dc-1", f, at(time.Hour))))
	const tol = store.PollTolerance
	for i, tc := range []struct {
		now      time.Time
		slow     bool
		interval time.Duration
	}{
		{at(time.Second), false, 5 * time.Second},                      // the first poll
		{at(6*time.Second - tol - ms), true, 10 * time.Second},         // 1 ms too soon
		{at(16*time.Second - 2*tol - 2*ms), true, 15 * time.Second},    // 1 ms too soon for 10 s
		{at(31*time.Second - 3*tol - 2*ms), false, 15 * time.Second},   // just in time
		{at(50 * time.Second), false, 15 * time.Second},                // later still
		{at(50*time.Second + 200*ms), true, 20 * time.Second},          // at once again
		{at(50*time.Second + 20200*ms), false, 20 * time.Second},       // the grown interval holds
		{at(50*time.Second + 40200*ms - tol), false, 20 * time.Second}, // the tolerance is in time
	} {
		got := poll(t, s, "dc-1", f, tc.now)
		if got.SlowDown != tc.slow || got.Interval != tc.interval {
			t.Fatalf("poll %d at %v: SlowDown %v, Interval %v; want %v, %v", i+1, tc.now, got.SlowDown, got.Interval, tc.slow, tc.interval)
		}
		sameTime(t, "LastPollAt", got.LastPollAt, tc.now)
		same(t, "the code read back after the poll", getDevice(t, s, "dc-1"), got)
	}
}

// testPollOtherClient: another client's poll finds nothing and leaves no
// trace (S191).
func testPollOtherClient(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := setup(t, s)
	code := newDevice("dc-1", f, at(time.Hour))
	must(t, s.CreateDeviceCode(ctx, code))
	_, err := s.PollDeviceCode(ctx, "dc-1", f.other.ID, at(time.Second))
	wantErr(t, "PollDeviceCode(another client)", err, store.ErrNotFound)
	_, err = s.PollDeviceCode(ctx, "nope", f.client.ID, at(time.Second))
	wantErr(t, "PollDeviceCode(unknown)", err, store.ErrNotFound)
	same(t, "the code after another client's poll", getDevice(t, s, "dc-1"), code)
}

// testPollAnyState: a poll returns the code whatever became of it, so the
// server can answer access_denied or expired_token (S190).
func testPollAnyState(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := setup(t, s)
	must(t, s.CreateDeviceCode(ctx, newDevice("dc-1", f, at(time.Minute))))
	must(t, s.DecideDeviceCode(ctx, "uc-dc-1", approval(f, at(time.Second))))
	got := poll(t, s, "dc-1", f, at(2*time.Second))
	if got.UserID != f.user.ID || got.ApprovedAt.IsZero() {
		t.Fatalf("poll of an approved code = %+v", got)
	}
	got = poll(t, s, "dc-1", f, at(time.Hour))
	sameTime(t, "ExpiresAt of an expired code's poll", got.ExpiresAt, at(time.Minute))
}

func testDecideDevice(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := setup(t, s)
	must(t, s.CreateDeviceCode(ctx, newDevice("dc-1", f, at(time.Minute))))
	must(t, s.CreateDeviceCode(ctx, newDevice("dc-2", f, at(time.Minute))))

	yes := approval(f, at(time.Second+5*ms))
	must(t, s.DecideDeviceCode(ctx, "uc-dc-1", yes))
	want := newDevice("dc-1", f, at(time.Minute))
	want.UserID, want.AuthTime, want.ApprovedAt = f.user.ID, yes.AuthTime, yes.At
	want.AMR, want.ACR = yes.AMR, yes.ACR
	same(t, "approved code", getDevice(t, s, "dc-1"), want)

	no := store.DeviceDecision{UserID: f.user2.ID, AuthTime: at(0), At: at(2 * time.Second)}
	wantErr(t, "DecideDeviceCode of an approved code", s.DecideDeviceCode(ctx, "uc-dc-1", no), store.ErrConflict)
	same(t, "approved code after a second decision", getDevice(t, s, "dc-1"), want)

	must(t, s.DecideDeviceCode(ctx, "uc-dc-2", no))
	denied := getDevice(t, s, "dc-2")
	if denied.UserID != f.user2.ID || denied.ApprovedAt != (time.Time{}) {
		t.Fatalf("denied code = %+v", denied)
	}
	sameTime(t, "DeniedAt", denied.DeniedAt, no.At)
	wantErr(t, "DecideDeviceCode of a denied code", s.DecideDeviceCode(ctx, "uc-dc-2", yes), store.ErrConflict)
	// Decided and then expired is still decided; undecided and expired is gone.
	wantErr(t, "DecideDeviceCode of a decided, expired code",
		s.DecideDeviceCode(ctx, "uc-dc-2", approval(f, at(time.Hour))), store.ErrConflict)
	must(t, s.CreateDeviceCode(ctx, newDevice("dc-3", f, at(time.Minute))))
	wantErr(t, "DecideDeviceCode at ExpiresAt", s.DecideDeviceCode(ctx, "uc-dc-3", approval(f, at(time.Minute))), store.ErrNotFound)
	wantErr(t, "DecideDeviceCode(unknown)", s.DecideDeviceCode(ctx, "uc-nope", yes), store.ErrNotFound)
}

func testRedeemDevice(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := setup(t, s)
	must(t, s.CreateDeviceCode(ctx, newDevice("dc-1", f, at(time.Minute))))
	iss := newIssue("g1", f)
	wantErr(t, "RedeemDeviceCode(pending)", s.RedeemDeviceCode(ctx, "dc-1", f.client.ID, at(time.Second), iss), store.ErrNotFound)
	checkIssueAbsent(t, s, iss)

	must(t, s.DecideDeviceCode(ctx, "uc-dc-1", approval(f, at(2*time.Second))))
	wantErr(t, "RedeemDeviceCode(another client)", s.RedeemDeviceCode(ctx, "dc-1", f.other.ID, at(3*time.Second), iss), store.ErrNotFound)
	wantErr(t, "RedeemDeviceCode(unknown)", s.RedeemDeviceCode(ctx, "nope", f.client.ID, at(3*time.Second), iss), store.ErrNotFound)
	wantErr(t, "RedeemDeviceCode(expired)", s.RedeemDeviceCode(ctx, "dc-1", f.client.ID, at(time.Minute), iss), store.ErrNotFound)
	checkIssueAbsent(t, s, iss)

	now := at(3*time.Second + 7*ms)
	must(t, s.RedeemDeviceCode(ctx, "dc-1", f.client.ID, now, iss))
	checkIssueStored(t, s, iss)
	got := getDevice(t, s, "dc-1")
	sameTime(t, "ConsumedAt", got.ConsumedAt, now)
	if got.GrantID != "g1" {
		t.Fatalf("GrantID = %q, want g1", got.GrantID)
	}
	second := newIssue("g2", f)
	err := s.RedeemDeviceCode(ctx, "dc-1", f.client.ID, at(4*time.Second), second)
	wantErr(t, "second RedeemDeviceCode", err, store.ErrConflict)
	err = s.RedeemDeviceCode(ctx, "dc-1", f.client.ID, at(time.Hour), second)
	wantErr(t, "RedeemDeviceCode replayed after expiry", err, store.ErrConflict)
	checkIssueAbsent(t, s, second)

	must(t, s.CreateDeviceCode(ctx, newDevice("dc-2", f, at(time.Minute))))
	no := approval(f, at(time.Second))
	no.Approved = false
	must(t, s.DecideDeviceCode(ctx, "uc-dc-2", no))
	wantErr(t, "RedeemDeviceCode(denied)", s.RedeemDeviceCode(ctx, "dc-2", f.client.ID, at(2*time.Second), second), store.ErrNotFound)
	checkIssueAbsent(t, s, second)
}

// testRedeemDeviceAtomic: an issue that cannot be stored leaves the code
// as it was.
func testRedeemDeviceAtomic(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := setup(t, s)
	taken := newIssue("g0", f)
	must(t, s.SaveIssue(ctx, taken))
	must(t, s.CreateDeviceCode(ctx, newDevice("dc-1", f, at(time.Minute))))
	must(t, s.DecideDeviceCode(ctx, "uc-dc-1", approval(f, at(time.Second))))
	before := getDevice(t, s, "dc-1")
	bad := newIssue("g1", f)
	bad.Refresh.Digest = taken.Refresh.Digest
	if err := s.RedeemDeviceCode(ctx, "dc-1", f.client.ID, at(2*time.Second), bad); err == nil {
		t.Fatal("RedeemDeviceCode stored an issue whose refresh token digest was taken")
	}
	same(t, "code after a failed redemption", getDevice(t, s, "dc-1"), before)
	checkIssueAbsent(t, s, store.Issue{Grant: bad.Grant, Access: bad.Access})
	good := newIssue("g2", f)
	must(t, s.RedeemDeviceCode(ctx, "dc-1", f.client.ID, at(3*time.Second), good))
	checkIssueStored(t, s, good)
}

func testDeleteRemovesDevice(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := setup(t, s)
	must(t, s.CreateDeviceCode(ctx, newDevice("dc-1", f, at(time.Minute))))
	must(t, s.DecideDeviceCode(ctx, "uc-dc-1", approval(f, at(time.Second))))
	other := newDevice("dc-2", f, at(time.Minute))
	other.ClientID = f.other.ID
	must(t, s.CreateDeviceCode(ctx, other))

	must(t, s.DeleteUser(ctx, f.user.ID))
	_, err := s.GetDeviceCodeByUserCode(ctx, "uc-dc-1", at(0))
	wantErr(t, "the code the deleted user approved", err, store.ErrNotFound)
	getDevice(t, s, "dc-2")
	must(t, s.DeleteClient(ctx, f.other.ID))
	_, err = s.GetDeviceCodeByUserCode(ctx, "uc-dc-2", at(0))
	wantErr(t, "the deleted client's code", err, store.ErrNotFound)
}
