package storetest

import (
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/testkit"
)

func factorTests() []subtest {
	return []subtest{
		{"FactorEnrolAndConfirm", testFactorEnrol},
		{"FactorCodeUsedOnce_RFC6238_5_2", testFactorUseOnce},
		{"FactorsDeleted", testFactorsDeleted},
		{"RecoveryCodesSingleUse", testRecoveryCodes},
		{"FactorsGoWithTheUser", testFactorsCascade},
		{"PasskeysSeveralPerUser", testPasskeysAdded},
		{"PasskeyCounterCompareAndSwap", testPasskeyCounter},
		{"PasskeyDeletedOneByOne", testPasskeyDeleted},
	}
}

// newFactor is an unconfirmed TOTP factor of userID created at created.
func newFactor(id, userID string, created time.Time) store.Factor {
	return store.Factor{ID: id, UserID: userID, Kind: store.FactorTOTP, Label: "phone",
		Data: []byte{0, 1, 2, 0xfe, 0xff, 'x'}, CreatedAt: created}
}

func listFactors(t *testing.T, s store.Store, userID string) []store.Factor {
	t.Helper()
	fs, err := s.ListFactors(t.Context(), userID)
	must(t, err)
	return fs
}

func testFactorEnrol(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := setup(t, s)
	a := newFactor("f-1", f.user.ID, at(10*ms))
	must(t, s.CreateFactor(ctx, a))
	wantErr(t, "CreateFactor with a taken id", s.CreateFactor(ctx, newFactor("f-1", f.user2.ID, at(0))), store.ErrConflict)
	got := listFactors(t, s, f.user.ID)
	if len(got) != 1 {
		t.Fatalf("ListFactors = %d factors, want 1", len(got))
	}
	same(t, "ListFactors[0]", got[0], a)
	if got[0].Confirmed() {
		t.Error("a new factor reads as confirmed")
	}
	// A second enrolment replaces the unconfirmed first one.
	b := newFactor("f-2", f.user.ID, at(20*ms))
	must(t, s.CreateFactor(ctx, b))
	if got := listFactors(t, s, f.user.ID); len(got) != 1 || got[0].ID != "f-2" {
		t.Fatalf("after a second enrolment ListFactors = %+v, want only f-2", got)
	}
	wantErr(t, "ConfirmFactor of the replaced one", s.ConfirmFactor(ctx, f.user.ID, "f-1", 5, at(time.Second), nil), store.ErrNotFound)
	wantErr(t, "ConfirmFactor of another user's", s.ConfirmFactor(ctx, f.user2.ID, "f-2", 5, at(time.Second), nil), store.ErrNotFound)
	// UseFactor refuses an unconfirmed factor.
	wantErr(t, "UseFactor before confirmation", s.UseFactor(ctx, f.user.ID, "f-2", 9, at(time.Second)), store.ErrNotFound)

	must(t, s.ConfirmFactor(ctx, f.user.ID, "f-2", 100, at(time.Second), []string{"d1", "d2"}))
	wantErr(t, "ConfirmFactor twice", s.ConfirmFactor(ctx, f.user.ID, "f-2", 101, at(time.Second), nil), store.ErrNotFound)
	got = listFactors(t, s, f.user.ID)
	if len(got) != 1 || !got[0].Confirmed() || got[0].Counter != 100 {
		t.Fatalf("after ConfirmFactor: %+v, want f-2 confirmed at counter 100", got)
	}
	sameTime(t, "ConfirmedAt", got[0].ConfirmedAt, at(time.Second))
	n, err := s.CountRecoveryCodes(ctx, f.user.ID)
	must(t, err)
	same(t, "CountRecoveryCodes after ConfirmFactor with codes", n, 2)

	// A new authenticator, once confirmed, replaces the confirmed one;
	// nil recovery codes leave the codes as they are.
	must(t, s.CreateFactor(ctx, newFactor("f-3", f.user.ID, at(2*time.Second))))
	if got := listFactors(t, s, f.user.ID); len(got) != 2 {
		t.Fatalf("an enrolment under way must not remove the confirmed factor: %+v", got)
	}
	must(t, s.ConfirmFactor(ctx, f.user.ID, "f-3", 200, at(3*time.Second), nil))
	if got := listFactors(t, s, f.user.ID); len(got) != 1 || got[0].ID != "f-3" {
		t.Fatalf("after confirming a new authenticator: %+v, want only f-3", got)
	}
	n, err = s.CountRecoveryCodes(ctx, f.user.ID)
	must(t, err)
	same(t, "CountRecoveryCodes after ConfirmFactor without codes", n, 2)
	if got := listFactors(t, s, f.user2.ID); len(got) != 0 {
		t.Errorf("the other user has factors: %+v", got)
	}
}

func testFactorUseOnce(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := setup(t, s)
	must(t, s.CreateFactor(ctx, newFactor("f-1", f.user.ID, at(0))))
	must(t, s.ConfirmFactor(ctx, f.user.ID, "f-1", 100, at(0), nil))
	wantErr(t, "UseFactor at the confirmation's step", s.UseFactor(ctx, f.user.ID, "f-1", 100, at(time.Second)), store.ErrConflict)
	wantErr(t, "UseFactor at an earlier step", s.UseFactor(ctx, f.user.ID, "f-1", 99, at(time.Second)), store.ErrConflict)
	must(t, s.UseFactor(ctx, f.user.ID, "f-1", 101, at(2*time.Second)))
	wantErr(t, "UseFactor of the same step again", s.UseFactor(ctx, f.user.ID, "f-1", 101, at(2*time.Second)), store.ErrConflict)
	wantErr(t, "UseFactor as another user", s.UseFactor(ctx, f.user2.ID, "f-1", 105, at(2*time.Second)), store.ErrNotFound)
	wantErr(t, "UseFactor of an unknown factor", s.UseFactor(ctx, f.user.ID, "nope", 105, at(2*time.Second)), store.ErrNotFound)
	got := listFactors(t, s, f.user.ID)
	same(t, "Counter", got[0].Counter, int64(101))
	sameTime(t, "LastUsedAt", got[0].LastUsedAt, at(2*time.Second))

	// Concurrent uses of one step: exactly one wins.
	errs := testkit.AtOnce(workers, func(int) error {
		return s.UseFactor(ctx, f.user.ID, "f-1", 102, at(3*time.Second))
	})
	winner(t, "UseFactor", errs, store.ErrConflict)
}

func testFactorsDeleted(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := setup(t, s)
	must(t, s.CreateFactor(ctx, newFactor("f-1", f.user.ID, at(0))))
	must(t, s.ConfirmFactor(ctx, f.user.ID, "f-1", 1, at(0), []string{"a", "b", "c"}))
	must(t, s.CreateFactor(ctx, newFactor("f-2", f.user.ID, at(time.Second))))
	must(t, s.CreateFactor(ctx, newFactor("f-3", f.user2.ID, at(time.Second))))
	n, err := s.DeleteFactors(ctx, f.user.ID)
	must(t, err)
	same(t, "DeleteFactors count", n, 2)
	if got := listFactors(t, s, f.user.ID); len(got) != 0 {
		t.Errorf("factors left after DeleteFactors: %+v", got)
	}
	left, err := s.CountRecoveryCodes(ctx, f.user.ID)
	must(t, err)
	same(t, "recovery codes left after DeleteFactors", left, 0)
	if got := listFactors(t, s, f.user2.ID); len(got) != 1 {
		t.Errorf("DeleteFactors removed another user's factor: %+v", got)
	}
	n, err = s.DeleteFactors(ctx, f.user.ID)
	must(t, err)
	same(t, "DeleteFactors of nothing", n, 0)
}

func testRecoveryCodes(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := setup(t, s)
	must(t, s.ReplaceRecoveryCodes(ctx, f.user.ID, []string{"d1", "d2", "d3"}, at(0)))
	must(t, s.ReplaceRecoveryCodes(ctx, f.user2.ID, []string{"d1", "d9"}, at(0)))
	must(t, s.UseRecoveryCode(ctx, f.user.ID, "d2", at(time.Second)))
	wantErr(t, "UseRecoveryCode twice", s.UseRecoveryCode(ctx, f.user.ID, "d2", at(time.Second)), store.ErrNotFound)
	wantErr(t, "UseRecoveryCode of another user's", s.UseRecoveryCode(ctx, f.user.ID, "d9", at(time.Second)), store.ErrNotFound)
	n, err := s.CountRecoveryCodes(ctx, f.user.ID)
	must(t, err)
	same(t, "CountRecoveryCodes", n, 2)
	// The same digest of another user is theirs alone.
	must(t, s.UseRecoveryCode(ctx, f.user2.ID, "d1", at(time.Second)))
	must(t, s.UseRecoveryCode(ctx, f.user.ID, "d1", at(time.Second)))

	// Regenerating replaces every code, used or not.
	must(t, s.ReplaceRecoveryCodes(ctx, f.user.ID, []string{"e1", "d2"}, at(time.Minute)))
	n, err = s.CountRecoveryCodes(ctx, f.user.ID)
	must(t, err)
	same(t, "CountRecoveryCodes after ReplaceRecoveryCodes", n, 2)
	wantErr(t, "UseRecoveryCode of a replaced code", s.UseRecoveryCode(ctx, f.user.ID, "d3", at(time.Minute)), store.ErrNotFound)
	must(t, s.UseRecoveryCode(ctx, f.user.ID, "d2", at(time.Minute)))

	errs := testkit.AtOnce(workers, func(int) error {
		return s.UseRecoveryCode(ctx, f.user.ID, "e1", at(2*time.Minute))
	})
	winner(t, "UseRecoveryCode", errs, store.ErrNotFound)
}

func testFactorsCascade(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := setup(t, s)
	must(t, s.CreateFactor(ctx, newFactor("f-1", f.user.ID, at(0))))
	must(t, s.ConfirmFactor(ctx, f.user.ID, "f-1", 1, at(0), []string{"a"}))
	must(t, s.DeleteUser(ctx, f.user.ID))
	if got := listFactors(t, s, f.user.ID); len(got) != 0 {
		t.Errorf("factors outlived their user: %+v", got)
	}
	n, err := s.CountRecoveryCodes(ctx, f.user.ID)
	must(t, err)
	same(t, "recovery codes after DeleteUser", n, 0)
}

// newPasskey is a confirmed passkey of userID added at added.
func newPasskey(id, userID string, added time.Time) store.Factor {
	return store.Factor{ID: id, UserID: userID, Kind: store.FactorWebAuthn, Label: "laptop " + id,
		Data: []byte{'{', 0, 0xff, '}'}, CreatedAt: added, ConfirmedAt: added}
}

func testPasskeysAdded(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := setup(t, s)
	// A TOTP enrolment under way and a confirmed app stay beside passkeys.
	must(t, s.CreateFactor(ctx, newFactor("totp-1", f.user.ID, at(0))))
	must(t, s.ConfirmFactor(ctx, f.user.ID, "totp-1", 7, at(0), nil))
	a, b := newPasskey("pk-1", f.user.ID, at(time.Second)), newPasskey("pk-2", f.user.ID, at(2*time.Second))
	b.Counter = 5
	must(t, s.AddFactor(ctx, a, []string{"r1", "r2", "r3"}))
	must(t, s.AddFactor(ctx, b, nil))
	wantErr(t, "AddFactor with a taken id", s.AddFactor(ctx, newPasskey("pk-1", f.user2.ID, at(0)), nil), store.ErrConflict)
	got := listFactors(t, s, f.user.ID)
	if len(got) != 3 || got[0].ID != "totp-1" {
		t.Fatalf("ListFactors = %+v, want totp-1, pk-1, pk-2", got)
	}
	b.LastUsedAt, a.LastUsedAt = b.ConfirmedAt, a.ConfirmedAt
	same(t, "ListFactors[1]", got[1], a)
	same(t, "ListFactors[2]", got[2], b)
	if !got[1].Confirmed() || !got[2].Confirmed() {
		t.Error("an added passkey reads as unconfirmed")
	}
	n, err := s.CountRecoveryCodes(ctx, f.user.ID)
	must(t, err)
	same(t, "CountRecoveryCodes after AddFactor with codes", n, 3)
	// A TOTP enrolment later does not remove the passkeys.
	must(t, s.CreateFactor(ctx, newFactor("totp-2", f.user.ID, at(3*time.Second))))
	must(t, s.ConfirmFactor(ctx, f.user.ID, "totp-2", 9, at(3*time.Second), nil))
	if got := listFactors(t, s, f.user.ID); len(got) != 3 || got[0].ID != "pk-1" || got[2].ID != "totp-2" {
		t.Fatalf("after a new app: %+v, want pk-1, pk-2, totp-2", got)
	}
	if got := listFactors(t, s, f.user2.ID); len(got) != 0 {
		t.Errorf("the other user has factors: %+v", got)
	}
}

func testPasskeyCounter(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := setup(t, s)
	pk := newPasskey("pk-1", f.user.ID, at(0))
	pk.Counter = 10
	must(t, s.AddFactor(ctx, pk, nil))
	must(t, s.UpdateFactor(ctx, f.user.ID, "pk-1", 10, 11, []byte("new data"), at(time.Second)))
	got := listFactors(t, s, f.user.ID)
	same(t, "Counter", got[0].Counter, int64(11))
	same(t, "Data", got[0].Data, []byte("new data"))
	sameTime(t, "LastUsedAt", got[0].LastUsedAt, at(time.Second))
	// A stale counter: someone else's use got there first.
	wantErr(t, "UpdateFactor from a stale counter", s.UpdateFactor(ctx, f.user.ID, "pk-1", 10, 12, []byte("x"), at(2*time.Second)), store.ErrConflict)
	// An authenticator without a counter keeps 0: 0 to 0 is a use.
	zero := newPasskey("pk-0", f.user.ID, at(0))
	must(t, s.AddFactor(ctx, zero, nil))
	must(t, s.UpdateFactor(ctx, f.user.ID, "pk-0", 0, 0, []byte("z"), at(time.Second)))
	wantErr(t, "UpdateFactor as another user", s.UpdateFactor(ctx, f.user2.ID, "pk-1", 11, 12, nil, at(time.Second)), store.ErrNotFound)
	wantErr(t, "UpdateFactor of an unknown factor", s.UpdateFactor(ctx, f.user.ID, "nope", 0, 1, nil, at(time.Second)), store.ErrNotFound)
	must(t, s.CreateFactor(ctx, newFactor("totp-u", f.user.ID, at(0))))
	wantErr(t, "UpdateFactor of an unconfirmed factor", s.UpdateFactor(ctx, f.user.ID, "totp-u", 0, 1, nil, at(time.Second)), store.ErrNotFound)
	for _, g := range listFactors(t, s, f.user.ID) {
		if g.ID == "pk-1" && (g.Counter != 11 || string(g.Data) != "new data") {
			t.Fatalf("a refused update changed the factor: %+v", g)
		}
	}

	// Concurrent uses that read the same counter: exactly one wins.
	errs := testkit.AtOnce(workers, func(i int) error {
		return s.UpdateFactor(ctx, f.user.ID, "pk-1", 11, 12+int64(i), []byte("race"), at(3*time.Second))
	})
	winner(t, "UpdateFactor", errs, store.ErrConflict)
}

func testPasskeyDeleted(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := setup(t, s)
	must(t, s.AddFactor(ctx, newPasskey("pk-1", f.user.ID, at(0)), []string{"r1", "r2"}))
	must(t, s.AddFactor(ctx, newPasskey("pk-2", f.user.ID, at(time.Second)), nil))
	must(t, s.AddFactor(ctx, newPasskey("pk-3", f.user2.ID, at(time.Second)), []string{"r1"}))
	must(t, s.CreateFactor(ctx, newFactor("totp-u", f.user.ID, at(0)))) // unconfirmed: not a factor left
	_, err := s.DeleteFactor(ctx, f.user2.ID, "pk-1")
	wantErr(t, "DeleteFactor of another user's", err, store.ErrNotFound)
	left, err := s.DeleteFactor(ctx, f.user.ID, "pk-1")
	must(t, err)
	same(t, "confirmed factors left", left, 1)
	n, err := s.CountRecoveryCodes(ctx, f.user.ID)
	must(t, err)
	same(t, "recovery codes while a factor is left", n, 2)
	_, err = s.DeleteFactor(ctx, f.user.ID, "pk-1")
	wantErr(t, "DeleteFactor twice", err, store.ErrNotFound)
	left, err = s.DeleteFactor(ctx, f.user.ID, "pk-2")
	must(t, err)
	same(t, "confirmed factors left", left, 0)
	n, err = s.CountRecoveryCodes(ctx, f.user.ID)
	must(t, err)
	same(t, "recovery codes after the last factor", n, 0)
	if got := listFactors(t, s, f.user2.ID); len(got) != 1 {
		t.Errorf("DeleteFactor touched another user: %+v", got)
	}
	n, err = s.CountRecoveryCodes(ctx, f.user2.ID)
	must(t, err)
	same(t, "the other user's recovery codes", n, 1)
}
