package storetest

import (
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

func auditTests() []subtest {
	return []subtest{
		{"AuditAppendAndList", testAuditAppendAndList},
		{"AuditFilters", testAuditFilters},
		{"AuditCursorPaging", testAuditCursorPaging},
		{"AuditDeleteBefore", testAuditDeleteBefore},
	}
}

// auditEvent is an event at base+d of type typ about user and client.
func auditEvent(d time.Duration, typ, user, client string) store.AuditEvent {
	return store.AuditEvent{Time: at(d + 7*ms), Type: typ, Actor: user, UserID: user, ClientID: client,
		IP: "192.0.2.1", Reason: "wrong_password", Details: map[string]string{"jti": "j-" + typ}}
}

// listAudit lists the events q selects and fails the test on error.
func listAudit(t *testing.T, s store.Store, q store.AuditQuery) []store.AuditEvent {
	t.Helper()
	got, err := s.ListAuditEvents(t.Context(), q)
	must(t, err)
	return got
}

// withoutIDs drops the store-assigned IDs so events compare with what was appended.
func withoutIDs(events []store.AuditEvent) []store.AuditEvent {
	out := make([]store.AuditEvent, len(events))
	for i, e := range events {
		e.ID = 0
		out[i] = e
	}
	return out
}

// The audit trail keeps every field of every event, in the order appended
// (S243 style: what is stored is what a reader is shown).
func testAuditAppendAndList(t *testing.T, s store.Store) {
	want := []store.AuditEvent{
		auditEvent(0, "signin.failure", "u1", ""),
		auditEvent(time.Second, "token.issued", "u1", "c1"),
		{Time: at(2 * time.Second), Type: "key.rotated", Actor: "system"},
	}
	must(t, s.AppendAuditEvents(t.Context(), want))
	must(t, s.AppendAuditEvents(t.Context(), nil))
	got := listAudit(t, s, store.AuditQuery{})
	sameList(t, "events", withoutIDs(got), want)
	for i := 1; i < len(got); i++ {
		if got[i].ID <= got[i-1].ID {
			t.Fatalf("IDs not increasing: %d then %d", got[i-1].ID, got[i].ID)
		}
	}
	newest := listAudit(t, s, store.AuditQuery{Newest: true, Limit: 1})
	if len(newest) != 1 || newest[0].Type != "key.rotated" {
		t.Fatalf("newest first, limit 1: got %+v", newest)
	}
}

// Each filter keeps exactly the events it names; filters combine with AND.
func testAuditFilters(t *testing.T, s store.Store) {
	all := []store.AuditEvent{
		auditEvent(0, "signin.failure", "u1", ""),
		auditEvent(time.Minute, "token.issued", "u1", "c1"),
		auditEvent(2*time.Minute, "token.issued", "u2", "c1"),
		auditEvent(3*time.Minute, "token.revoked", "u2", "c2"),
	}
	must(t, s.AppendAuditEvents(t.Context(), all))
	for _, tc := range []struct {
		name string
		q    store.AuditQuery
		want []store.AuditEvent
	}{
		{"user", store.AuditQuery{UserID: "u1"}, all[:2]},
		{"client", store.AuditQuery{ClientID: "c1"}, all[1:3]},
		{"type", store.AuditQuery{Types: []string{"token.issued"}}, all[1:3]},
		{"types", store.AuditQuery{Types: []string{"signin.failure", "token.revoked"}}, []store.AuditEvent{all[0], all[3]}},
		{"since inclusive", store.AuditQuery{Since: all[2].Time}, all[2:]},
		{"until exclusive", store.AuditQuery{Until: all[2].Time}, all[:2]},
		{"user and client", store.AuditQuery{UserID: "u2", ClientID: "c1"}, all[2:3]},
		{"nothing", store.AuditQuery{UserID: "nobody"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sameList(t, "events", withoutIDs(listAudit(t, s, tc.q)), tc.want)
		})
	}
}

// A cursor continues a listing where the last page ended, both ways.
func testAuditCursorPaging(t *testing.T, s store.Store) {
	var all []store.AuditEvent
	for i := range 7 {
		all = append(all, auditEvent(time.Duration(i)*time.Second, "token.issued", "u1", "c1"))
	}
	must(t, s.AppendAuditEvents(t.Context(), all))
	for _, newest := range []bool{false, true} {
		var seen []store.AuditEvent
		cursor := int64(0)
		for range 10 {
			page := listAudit(t, s, store.AuditQuery{UserID: "u1", Cursor: cursor, Newest: newest, Limit: 3})
			if len(page) == 0 {
				break
			}
			if len(page) > 3 {
				t.Fatalf("page of %d events, limit 3", len(page))
			}
			seen = append(seen, page...)
			cursor = page[len(page)-1].ID
		}
		want := all
		if newest {
			want = make([]store.AuditEvent, len(all))
			for i, e := range all {
				want[len(all)-1-i] = e
			}
		}
		sameList(t, "paged events", withoutIDs(seen), want)
	}
}

// Retention removes events older than the cut-off, at most limit a call,
// and keeps the rest.
func testAuditDeleteBefore(t *testing.T, s store.Store) {
	var all []store.AuditEvent
	for i := range 5 {
		all = append(all, auditEvent(time.Duration(i)*time.Hour, "token.issued", "u1", "c1"))
	}
	must(t, s.AppendAuditEvents(t.Context(), all))
	cut := at(3 * time.Hour) // events at 0h, 1h, 2h (plus 7ms) are older
	n, err := s.DeleteAuditEventsBefore(t.Context(), cut, 2)
	must(t, err)
	if n != 2 {
		t.Fatalf("first batch removed %d, want 2 (the limit)", n)
	}
	n, err = s.DeleteAuditEventsBefore(t.Context(), cut, 2)
	must(t, err)
	if n != 1 {
		t.Fatalf("second batch removed %d, want 1", n)
	}
	if n, _ := s.DeleteAuditEventsBefore(t.Context(), cut, 0); n != 0 {
		t.Fatalf("limit 0 removed %d", n)
	}
	sameList(t, "kept events", withoutIDs(listAudit(t, s, store.AuditQuery{})), all[3:])
}
