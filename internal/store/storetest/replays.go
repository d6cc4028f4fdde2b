package storetest

import (
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

func replayTests() []subtest {
	return []subtest{
		{"UseOnce_RFC9449_11_1", testUseOnce},
		{"UseOnceKeepsFirstExpiry", testUseOnceKeepsExpiry},
		{"PushedRequestTakenOnce_RFC9126_4", testTakePushedRequest},
		{"PushedRequestExpired_RFC9126_2_2", testPushedRequestExpired},
		{"PushedRequestOtherClient_RFC9126_4", testPushedRequestOtherClient},
		{"CreatePushedRequestConflict", testCreatePushedRequestConflict},
		{"DeleteClientRemovesPushedRequests", testDeleteClientRemovesPushed},
	}
}

// useOnce calls UseOnce and fails the test on an error.
func useOnce(t *testing.T, s store.Store, key string, exp, now time.Time) bool {
	t.Helper()
	ok, err := s.UseOnce(t.Context(), key, exp, now)
	must(t, err)
	return ok
}

func testUseOnce(t *testing.T, s store.Store) {
	for _, tc := range []struct {
		what     string
		key      string
		exp, now time.Time
		want     bool
	}{
		{"fresh key", "jti-1", at(time.Minute + 5*ms), at(0), true},
		{"repeat", "jti-1", at(time.Minute + 5*ms), at(time.Second), false},
		{"repeat just before expiry", "jti-1", at(2 * time.Minute), at(time.Minute + 4*ms), false},
		{"other key", "jti-2", at(time.Minute), at(time.Second), true},
		{"after expiry (at its ExpiresAt)", "jti-1", at(3 * time.Minute), at(time.Minute + 5*ms), true},
		{"repeat of the new record", "jti-1", at(3 * time.Minute), at(2 * time.Minute), false},
		{"after the new record's expiry", "jti-1", at(4 * time.Minute), at(3 * time.Minute), true},
	} {
		if got := useOnce(t, s, tc.key, tc.exp, tc.now); got != tc.want {
			t.Fatalf("UseOnce(%s, exp %v, now %v), %s = %v, want %v", tc.key, tc.exp, tc.now, tc.what, got, tc.want)
		}
	}
}

// testUseOnceKeepsExpiry checks that a refused call does not move the
// record's expiry: a replay attempt must not keep a key alive, nor shorten
// its life.
func testUseOnceKeepsExpiry(t *testing.T, s store.Store) {
	if !useOnce(t, s, "jti-1", at(time.Minute), at(0)) {
		t.Fatal("UseOnce of a fresh key = false")
	}
	if useOnce(t, s, "jti-1", at(time.Hour), at(time.Second)) {
		t.Fatal("UseOnce of a live key = true")
	}
	if !useOnce(t, s, "jti-1", at(2*time.Minute), at(time.Minute)) {
		t.Error("UseOnce at the first expiry = false: the refused call extended the record")
	}
	if !useOnce(t, s, "jti-2", at(time.Hour), at(0)) {
		t.Fatal("UseOnce of a fresh key = false")
	}
	if useOnce(t, s, "jti-2", at(time.Second), at(time.Second)) {
		t.Fatal("UseOnce of a live key = true")
	}
	if useOnce(t, s, "jti-2", at(time.Hour), at(time.Minute)) {
		t.Error("UseOnce before the first expiry = true: the refused call shortened the record")
	}
}

func testTakePushedRequest(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := setup(t, s)
	p := newPushed("par-1", f.client.ID, at(time.Minute+5*ms))
	must(t, s.CreatePushedRequest(ctx, p))
	got, err := s.TakePushedRequest(ctx, "par-1", f.client.ID, at(10*time.Second))
	must(t, err)
	same(t, "TakePushedRequest", got, p)
	_, err = s.TakePushedRequest(ctx, "par-1", f.client.ID, at(11*time.Second))
	wantErr(t, "TakePushedRequest twice", err, store.ErrNotFound)
	_, err = s.TakePushedRequest(ctx, "nope", f.client.ID, at(0))
	wantErr(t, "TakePushedRequest(unknown)", err, store.ErrNotFound)

	// Without a DPoP binding.
	bare := store.PushedRequest{Digest: "par-2", ClientID: f.client.ID, Params: "response_type=code",
		CreatedAt: at(0), ExpiresAt: at(time.Minute)}
	must(t, s.CreatePushedRequest(ctx, bare))
	got, err = s.TakePushedRequest(ctx, "par-2", f.client.ID, at(0))
	must(t, err)
	same(t, "TakePushedRequest(bare)", got, bare)
}

func testPushedRequestExpired(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := setup(t, s)
	p := newPushed("par-1", f.client.ID, at(time.Minute+5*ms))
	must(t, s.CreatePushedRequest(ctx, p))
	_, err := s.TakePushedRequest(ctx, "par-1", f.client.ID, p.ExpiresAt)
	wantErr(t, "TakePushedRequest at its ExpiresAt", err, store.ErrNotFound)
	_, err = s.TakePushedRequest(ctx, "par-1", f.client.ID, at(time.Hour))
	wantErr(t, "TakePushedRequest after expiry", err, store.ErrNotFound)
}

func testPushedRequestOtherClient(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := setup(t, s)
	p := newPushed("par-1", f.client.ID, at(time.Minute))
	must(t, s.CreatePushedRequest(ctx, p))
	for _, clientID := range []string{f.other.ID, "", "nope"} {
		_, err := s.TakePushedRequest(ctx, "par-1", clientID, at(time.Second))
		wantErr(t, "TakePushedRequest by client "+clientID, err, store.ErrNotFound)
	}
	got, err := s.TakePushedRequest(ctx, "par-1", f.client.ID, at(2*time.Second))
	must(t, err)
	same(t, "TakePushedRequest by its client after other clients tried", got, p)
}

func testCreatePushedRequestConflict(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := setup(t, s)
	first := newPushed("par-1", f.client.ID, at(time.Minute))
	must(t, s.CreatePushedRequest(ctx, first))
	second := newPushed("par-1", f.client.ID, at(time.Hour))
	second.Params = "response_type=code&scope=admin"
	wantErr(t, "CreatePushedRequest twice", s.CreatePushedRequest(ctx, second), store.ErrConflict)
	got, err := s.TakePushedRequest(ctx, "par-1", f.client.ID, at(0))
	must(t, err)
	same(t, "pushed request after conflict", got, first)
}

func testDeleteClientRemovesPushed(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := setup(t, s)
	must(t, s.CreatePushedRequest(ctx, newPushed("par-1", f.client.ID, at(time.Minute))))
	must(t, s.CreatePushedRequest(ctx, newPushed("par-2", f.other.ID, at(time.Minute))))
	must(t, s.DeleteClient(ctx, f.client.ID))
	must(t, s.CreateClient(ctx, f.client)) // a new client with the old id gets nothing
	_, err := s.TakePushedRequest(ctx, "par-1", f.client.ID, at(0))
	wantErr(t, "TakePushedRequest of a deleted client's request", err, store.ErrNotFound)
	_, err = s.TakePushedRequest(ctx, "par-2", f.other.ID, at(0))
	must(t, err)
}
