package storetest

import (
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

func keyTests() []subtest {
	return []subtest{
		{"KeyRoundTripOldestFirst", testKeyRoundTrip},
		{"AddKeyNotSince", testAddKeyNotSince},
		{"AddKeyDuplicateKID", testAddKeyDuplicateKID},
		{"DeleteKey", testDeleteKey},
		{"Ping", testPing},
	}
}

// newKey is a signing key of alg created at created, active an hour later.
func newKey(kid, alg string, created time.Time) store.Key {
	return store.Key{
		KID:       kid,
		Alg:       alg,
		Private:   []byte("encrypted private key of " + kid + "\x00\xff"),
		Public:    []byte(`{"kty":"EC","kid":"` + kid + `"}`),
		CreatedAt: created,
		ActiveAt:  created.Add(time.Hour),
	}
}

func testKeyRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	got, err := s.ListKeys(ctx)
	must(t, err)
	sameList(t, "ListKeys of an empty store", got, nil)

	newer := newKey("k-newer", "ES256", at(time.Hour+11*ms))
	older := newKey("k-older", "RS256", at(22*ms))
	unscheduled := newKey("k-now", "EdDSA", at(2*time.Hour))
	unscheduled.ActiveAt = time.Time{}
	for _, k := range []store.Key{newer, older, unscheduled} {
		ok, err := s.AddKey(ctx, k, k.CreatedAt)
		must(t, err)
		if !ok {
			t.Fatalf("AddKey(%s) = false on a store without %s keys", k.KID, k.Alg)
		}
	}
	got, err = s.ListKeys(ctx)
	must(t, err)
	sameList(t, "ListKeys", got, []store.Key{older, newer, unscheduled})
}

func testAddKeyNotSince(t *testing.T, s store.Store) {
	ctx := t.Context()
	tests := []struct {
		key      store.Key
		notSince time.Time
		want     bool
	}{
		{newKey("k1", "ES256", at(0)), at(-24 * time.Hour), true},
		// k1 was created after notSince: no new ES256 key.
		{newKey("k2", "ES256", at(time.Hour)), at(-time.Hour), false},
		// "at or after": a key created exactly at notSince counts.
		{newKey("k3", "ES256", at(time.Hour)), at(0), false},
		// k1 is older than notSince: rotate.
		{newKey("k4", "ES256", at(time.Hour)), at(1 * ms), true},
		// Another algorithm is counted on its own.
		{newKey("k5", "RS256", at(2*time.Hour)), at(-time.Hour), true},
	}
	for _, tc := range tests {
		got, err := s.AddKey(ctx, tc.key, tc.notSince)
		must(t, err)
		if got != tc.want {
			t.Errorf("AddKey(%s, notSince %v) = %v, want %v", tc.key.KID, tc.notSince, got, tc.want)
		}
	}
	keys, err := s.ListKeys(ctx)
	must(t, err)
	sameList(t, "ListKeys", keys, []store.Key{tests[0].key, tests[3].key, tests[4].key})
}

func testAddKeyDuplicateKID(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.AddKey(ctx, newKey("k1", "ES256", at(0)), at(0))
	must(t, err)
	_, err = s.AddKey(ctx, newKey("k1", "RS256", at(0)), at(0))
	wantErr(t, "AddKey with a taken kid", err, store.ErrConflict)
}

func testDeleteKey(t *testing.T, s store.Store) {
	ctx := t.Context()
	keep, gone := newKey("keep", "ES256", at(0)), newKey("gone", "RS256", at(0))
	for _, k := range []store.Key{keep, gone} {
		_, err := s.AddKey(ctx, k, k.CreatedAt)
		must(t, err)
	}
	must(t, s.DeleteKey(ctx, "gone"))
	wantErr(t, "DeleteKey twice", s.DeleteKey(ctx, "gone"), store.ErrNotFound)
	got, err := s.ListKeys(ctx)
	must(t, err)
	sameList(t, "ListKeys", got, []store.Key{keep})
}

func testPing(t *testing.T, s store.Store) {
	must(t, s.Ping(t.Context()))
}
