package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/testkit"
)

// workers is how many goroutines race for a single-use record.
const workers = 8

func concurrencyTests() []subtest {
	return []subtest{
		{"RedeemAuthCodeOnce_S019_S142", testConcurrentRedeem},
		{"RotateRefreshTokenOnce_S133", testConcurrentRotate},
		{"RotateRefreshTokenGrace", testConcurrentRotateGrace},
		{"AddKeyOnce", testConcurrentAddKey},
		{"AddFailureCountsAll_S025", testConcurrentAddFailure},
		{"UseOnceOnce_RFC9449_11_1", testConcurrentUseOnce},
		{"UseOnceOnceAfterExpiry_RFC9449_11_1", testConcurrentUseOnceExpired},
		{"TakePushedRequestOnce_RFC9126_4", testConcurrentTakePushed},
		{"RedeemDeviceCodeOnce_S191", testConcurrentRedeemDevice},
		{"DecideDeviceCodeOnce_S195", testConcurrentDecideDevice},
		{"PollDeviceCodeCountsAll_S190", testConcurrentPollDevice},
		{"RegisterClientNeverPassesMax_S196", testConcurrentRegisterCapped},
		{"UseInitialTokenLastUseOnce_S196", testConcurrentUseInitialToken},
		{"UpdateRegisteredClientOnceperToken_RFC7592", testConcurrentUpdateRegistered},
	}
}

func testConcurrentRedeemDevice(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := setup(t, s)
	must(t, s.CreateDeviceCode(ctx, newDevice("dc-1", f, at(time.Minute))))
	must(t, s.DecideDeviceCode(ctx, "uc-dc-1", approval(f, at(time.Second))))
	issues := racingIssues(f)
	errs := testkit.AtOnce(workers, func(i int) error {
		return s.RedeemDeviceCode(ctx, "dc-1", f.client.ID, at(2*time.Second), issues[i])
	})
	won := winner(t, "RedeemDeviceCode", errs, store.ErrConflict)
	if got := getDevice(t, s, "dc-1"); got.GrantID != issues[won].Grant.ID {
		t.Errorf("device code GrantID = %q, want the winner's %q", got.GrantID, issues[won].Grant.ID)
	}
	checkOnlyWinnerStored(t, s, issues, won)
}

func testConcurrentDecideDevice(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := setup(t, s)
	must(t, s.CreateDeviceCode(ctx, newDevice("dc-1", f, at(time.Minute))))
	errs := testkit.AtOnce(workers, func(i int) error {
		d := approval(f, at(time.Second))
		d.Approved = i%2 == 0 // approvals and denials race
		d.AuthTime = at(time.Duration(i) * time.Millisecond)
		return s.DecideDeviceCode(ctx, "uc-dc-1", d)
	})
	won := winner(t, "DecideDeviceCode", errs, store.ErrConflict)
	got := getDevice(t, s, "dc-1")
	if (won%2 == 0) != !got.ApprovedAt.IsZero() || got.ApprovedAt.IsZero() == got.DeniedAt.IsZero() {
		t.Errorf("after the race caller %d won, the code reads %+v", won, got)
	}
	sameTime(t, "AuthTime of the winner", got.AuthTime, at(time.Duration(won)*time.Millisecond))
}

// testConcurrentPollDevice: polls that arrive together are counted one
// after the other, so all but the first are too soon and each adds its 5 s.
func testConcurrentPollDevice(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := setup(t, s)
	must(t, s.CreateDeviceCode(ctx, newDevice("dc-1", f, at(time.Hour))))
	slowed := make([]bool, workers)
	errs := testkit.AtOnce(workers, func(i int) error {
		d, err := s.PollDeviceCode(ctx, "dc-1", f.client.ID, at(time.Second))
		slowed[i] = d.SlowDown
		return err
	})
	n := 0
	for i, err := range errs {
		must(t, err)
		if slowed[i] {
			n++
		}
	}
	if n != workers-1 {
		t.Errorf("%d of %d simultaneous polls were slowed down, want %d", n, workers, workers-1)
	}
	want := 5*time.Second + time.Duration(workers-1)*store.SlowDownStep
	if got := getDevice(t, s, "dc-1"); got.Interval != want {
		t.Errorf("Interval after %d simultaneous polls = %v, want %v", workers, got.Interval, want)
	}
}

// winner checks that exactly one error is nil and every other one is
// loser, and returns the index of the nil one.
func winner(t *testing.T, what string, errs []error, loser error) int {
	t.Helper()
	won := -1
	for i, err := range errs {
		switch {
		case err == nil && won >= 0:
			t.Fatalf("%s: callers %d and %d both succeeded", what, won, i)
		case err == nil:
			won = i
		case !errors.Is(err, loser):
			t.Fatalf("%s: caller %d: got %v, want %v", what, i, err, loser)
		}
	}
	if won < 0 {
		t.Fatalf("%s: no caller succeeded: %v", what, errs)
	}
	return won
}

func testConcurrentRedeem(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := setup(t, s)
	must(t, s.CreateAuthCode(ctx, newCode("code-1", f, at(time.Minute))))
	issues := racingIssues(f)
	errs := testkit.AtOnce(workers, func(i int) error {
		return s.RedeemAuthCode(ctx, "code-1", at(time.Second), issues[i])
	})
	won := winner(t, "RedeemAuthCode", errs, store.ErrConflict)

	code, err := s.GetAuthCode(ctx, "code-1")
	must(t, err)
	if code.GrantID != issues[won].Grant.ID {
		t.Errorf("code GrantID = %q, want the winner's %q", code.GrantID, issues[won].Grant.ID)
	}
	checkOnlyWinnerStored(t, s, issues, won)
}

// racingIssues are the issues of workers racing for one single-use record.
func racingIssues(f fixture) []store.Issue {
	issues := make([]store.Issue, workers)
	for i := range issues {
		issues[i] = newIssue(fmt.Sprintf("g%d", i), f)
	}
	return issues
}

// checkOnlyWinnerStored fails unless the winner's issue is stored and no
// loser's is.
func checkOnlyWinnerStored(t *testing.T, s store.Store, issues []store.Issue, won int) {
	t.Helper()
	for i, iss := range issues {
		if i == won {
			checkIssueStored(t, s, iss)
		} else {
			checkIssueAbsent(t, s, iss)
		}
	}
}

func testConcurrentRotate(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, iss := family(t, s)
	rotations := make([]store.Rotation, workers)
	for i := range rotations {
		rotations[i] = rotation(iss, "g1-rt", fmt.Sprintf("rt-%d", i), at(time.Hour), 0)
	}
	errs := testkit.AtOnce(workers, func(i int) error {
		_, err := s.RotateRefreshToken(ctx, rotations[i])
		return err
	})
	won := winner(t, "RotateRefreshToken", errs, store.ErrReused)
	// Every loser presented a rotated token: the family is revoked, the
	// winner's successor with it.
	checkFamilyRevoked(t, s, "g1", []string{"g1-rt", rotations[won].Next.Digest},
		[]string{"g1-at", rotations[won].Access.Digest})
}

func testConcurrentRotateGrace(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, iss := family(t, s)
	results := make([]store.RefreshToken, workers)
	accesses := make([]store.AccessToken, workers)
	errs := testkit.AtOnce(workers, func(i int) error {
		// The same successor (a server derives it from the old token), and
		// an access token of each caller's own.
		r := rotation(iss, "g1-rt", "rt2", at(time.Hour), 10*time.Second)
		r.Access.Digest = fmt.Sprintf("at-%d", i)
		accesses[i] = *r.Access
		var err error
		results[i], err = s.RotateRefreshToken(ctx, r)
		return err
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("RotateRefreshToken within grace, caller %d: %v", i, err)
		}
		if results[i].Digest != "rt2" {
			t.Errorf("caller %d got successor %q, want rt2", i, results[i].Digest)
		}
		checkIssueStored(t, s, store.Issue{Access: &accesses[i]})
	}
	checkFamilyStands(t, s, "g1")
}

func testConcurrentAddKey(t *testing.T, s store.Store) {
	ctx := t.Context()
	stored := make([]bool, workers)
	errs := testkit.AtOnce(workers, func(i int) error {
		var err error
		stored[i], err = s.AddKey(ctx, newKey(fmt.Sprintf("k%d", i), "ES256", at(0)), at(0))
		return err
	})
	n := 0
	for i, err := range errs {
		must(t, err)
		if stored[i] {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d concurrent AddKey calls with the same notSince stored %d keys, want 1", workers, n)
	}
	keys, err := s.ListKeys(ctx)
	must(t, err)
	if len(keys) != 1 {
		t.Errorf("ListKeys after concurrent AddKey: %d keys, want 1", len(keys))
	}
}

func testConcurrentAddFailure(t *testing.T, s store.Store) {
	ctx := t.Context()
	errs := testkit.AtOnce(workers, func(int) error {
		_, err := s.AddFailure(ctx, "user:alice", at(time.Second), time.Hour)
		return err
	})
	for _, err := range errs {
		must(t, err)
	}
	got, err := s.GetThrottles(ctx, []string{"user:alice"}, at(time.Second))
	must(t, err)
	if len(got) != 1 || got[0].Failures != workers {
		t.Errorf("after %d concurrent AddFailure calls: %+v, want one counter at %d", workers, got, workers)
	}
}

// errUsed stands for UseOnce reporting false, so that winner can count.
var errUsed = errors.New("key used already")

// raceUseOnce has workers call UseOnce(key, exp, now) at once and checks
// that exactly one of them gets true.
func raceUseOnce(t *testing.T, s store.Store, key string, exp, now time.Time) {
	t.Helper()
	errs := testkit.AtOnce(workers, func(int) error {
		ok, err := s.UseOnce(t.Context(), key, exp, now)
		if err == nil && !ok {
			return errUsed
		}
		return err
	})
	winner(t, "UseOnce", errs, errUsed)
}

func testConcurrentUseOnce(t *testing.T, s store.Store) {
	raceUseOnce(t, s, "jti-1", at(time.Minute), at(0))
}

// testConcurrentUseOnceExpired races callers for a key whose record has
// expired: the record is replaced once.
func testConcurrentUseOnceExpired(t *testing.T, s store.Store) {
	ok, err := s.UseOnce(t.Context(), "jti-1", at(time.Minute), at(0))
	must(t, err)
	if !ok {
		t.Fatal("UseOnce of a fresh key = false")
	}
	raceUseOnce(t, s, "jti-1", at(3*time.Minute), at(2*time.Minute))
}

func testConcurrentTakePushed(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := setup(t, s)
	p := newPushed("par-1", f.client.ID, at(time.Minute))
	must(t, s.CreatePushedRequest(ctx, p))
	got := make([]store.PushedRequest, workers)
	errs := testkit.AtOnce(workers, func(i int) error {
		var err error
		got[i], err = s.TakePushedRequest(ctx, "par-1", f.client.ID, at(time.Second))
		return err
	})
	won := winner(t, "TakePushedRequest", errs, store.ErrNotFound)
	same(t, "the winner's pushed request", got[won], p)
}
