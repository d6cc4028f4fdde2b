// Package storetest is the conformance suite of store.Store: every backend
// runs it unchanged from a few lines of its own test file,
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { ... a fresh, empty store ... })
//	}
//
// and so proves that it keeps the contract written in the doc comments of
// package store. Test names cite the STANDARDS lines they guard (S019: a code
// is used once; S133: refresh token reuse revokes the family).
//
// Times are compared at millisecond precision, the least a backend must
// keep; lists and maps compare equal when both are empty, whether nil or not.
//
// Where the doc comments leave a choice open, the suite pins one, so that
// every backend makes the same:
//   - a code, session or refresh token has expired at its ExpiresAt;
//   - a consumed code presented again is ErrConflict even once expired, so
//     that the replay is still detected (S019);
//   - creating a record whose key exists (code digest, grant ID, kid,
//     session digest, pushed request digest) is ErrConflict; so is
//     UpsertUser of a new username whose ID is taken;
//   - a replay record or pushed request has expired at its ExpiresAt, and
//     UseOnce refused leaves the record's expiry as it was;
//   - RotateRefreshToken checks, in order: unknown, another client's or
//     expired → ErrNotFound (nothing changes); rotated already → the grace
//     successor (the end of the window included) or ErrReused, even when the
//     family was revoked already; revoked, or the grant revoked or past its
//     ExpiresAt → ErrNotFound;
//   - a device code has expired at its ExpiresAt; a poll exactly its
//     Interval after the one before is not too soon; a decided or consumed
//     code presented again is ErrConflict even once expired;
//   - DeleteExpired removes a grant once no refresh or opaque access token
//     refers to it and it is revoked or past its ExpiresAt; a grant with
//     neither stays, as JWT access tokens may rest on it (IsRevoked reports
//     a missing grant as revoked).
package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// Run runs every subtest of the suite against a fresh store from newStore,
// then the concurrency subtests under "Concurrency". newStore is called
// inside each subtest and must return an empty store; it should register
// its own cleanup (Close) with t.Cleanup.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Helper()
	var all []subtest
	for _, group := range [][]subtest{
		clientTests(), userTests(), keyTests(), codeTests(), tokenTests(),
		rotationTests(), sessionTests(), replayTests(), deviceTests(), cleanupTests(), readAfterWriteTests(),
		exchangeTests(), registrationTests(), adminTests(), auditTests(), originTests(), factorTests(),
	} {
		all = append(all, group...)
	}
	for _, tc := range all {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, newStore(t)) })
	}
	t.Run("Concurrency", func(t *testing.T) {
		for _, tc := range concurrencyTests() {
			t.Run(tc.name, func(t *testing.T) { tc.run(t, newStore(t)) })
		}
	})
}

// subtest is one named check run against a fresh store.
type subtest struct {
	name string
	run  func(t *testing.T, s store.Store)
}

// at returns the suite's fixed base time plus d: stores are given their
// "now" explicitly, so nothing here depends on the clock.
func at(d time.Duration) time.Time {
	return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).Add(d)
}

// ms is a millisecond, to give times a sub-second part that must survive.
const ms = time.Millisecond

// must fails the test at once when err is not nil.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wantErr fails the test unless errors.Is(err, target).
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
}

// same fails the test when got and want, two records of the same type,
// differ after normalize, and lists the fields that differ.
func same[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if d := diff(got, want); d != "" {
		t.Fatalf("%s differs:\n%s", what, d)
	}
}

// sameList is same for lists, which must have the same order.
func sameList[T any](t *testing.T, what string, got, want []T) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d items, want %d:\ngot  %+v\nwant %+v", what, len(got), len(want), got, want)
	}
	for i := range got {
		if d := diff(got[i], want[i]); d != "" {
			t.Fatalf("%s[%d] differs:\n%s", what, i, d)
		}
	}
}

// diff lists the fields in which two records differ after normalize.
func diff[T any](got, want T) string {
	g, w := reflect.ValueOf(normalize(got)), reflect.ValueOf(normalize(want))
	if g.Kind() != reflect.Struct {
		if reflect.DeepEqual(g.Interface(), w.Interface()) {
			return ""
		}
		return fmt.Sprintf("got  %#v\nwant %#v", got, want)
	}
	var b strings.Builder
	for i := range g.NumField() {
		gf, wf := g.Field(i).Interface(), w.Field(i).Interface()
		if !reflect.DeepEqual(gf, wf) {
			fmt.Fprintf(&b, "  %s: got %#v, want %#v\n", g.Type().Field(i).Name, gf, wf)
		}
	}
	return b.String()
}

// normalize returns a copy of a record struct in which times are truncated
// to milliseconds in UTC (the zero time stays zero), and empty slices and
// maps are nil.
func normalize(v any) any {
	rv := reflect.New(reflect.TypeOf(v)).Elem()
	rv.Set(reflect.ValueOf(v))
	if rv.Kind() != reflect.Struct {
		return v
	}
	for i := range rv.NumField() {
		f := rv.Field(i)
		if tm, ok := f.Interface().(time.Time); ok {
			f.Set(reflect.ValueOf(truncMS(tm)))
			continue
		}
		if (f.Kind() == reflect.Slice || f.Kind() == reflect.Map) && f.Len() == 0 {
			f.Set(reflect.Zero(f.Type()))
		}
	}
	return rv.Interface()
}

// truncMS is t at millisecond precision in UTC; the zero time stays zero.
func truncMS(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.Truncate(time.Millisecond).UTC()
}

// sameTime fails the test unless got and want are the same instant at
// millisecond precision (or both zero).
func sameTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !truncMS(got).Equal(truncMS(want)) || got.IsZero() != want.IsZero() {
		t.Fatalf("%s: got %v, want %v", what, got, want)
	}
}
