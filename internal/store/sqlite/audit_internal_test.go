package sqlite

import (
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// TestAuditBatchesBesideOlderRows: events an older binary wrote a row each
// (audit_events) and the batches a newer one writes (audit_batches, a
// batch of more than 1024 split in two) list as one trail, in ID order
// both ways, filter alike, and retention removes the oldest of both while
// the events it keeps keep their IDs (issue 14 expand/contract: during a
// rolling upgrade both binaries write).
func TestAuditBatchesBesideOlderRows(t *testing.T) {
	ctx := t.Context()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "latchkey.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	base := time.UnixMilli(1764806400000).UTC()
	for i := range 3 {
		if _, err := s.w.db.ExecContext(ctx, `INSERT INTO audit_events (at, type, actor, client_id, user_id, details)
			VALUES (?, 'signin.success', 'user:u0', 'c0', 'u0', '{"method":"pwd"}')`, base.Add(time.Duration(i)*time.Second).UnixMilli()); err != nil {
			t.Fatal(err)
		}
	}
	var events []store.AuditEvent
	for i := range 1030 {
		events = append(events, store.AuditEvent{Time: base.Add(time.Minute + time.Duration(i)*time.Millisecond), Type: "token.issued",
			ClientID: "c1", UserID: []string{"u1", "u2"}[i%2], Details: map[string]string{"n": string(rune('a' + i%26))}})
	}
	if err := s.AppendAuditEvents(ctx, events); err != nil {
		t.Fatal(err)
	}
	var batches int
	if err := s.r.db.QueryRowContext(ctx, `SELECT count(*) FROM audit_batches`).Scan(&batches); err != nil || batches != 2 {
		t.Fatalf("%d batch rows (%v), want 2 for 1030 events", batches, err)
	}

	page := func(q store.AuditQuery) []store.AuditEvent {
		t.Helper()
		var all []store.AuditEvent
		for range 100 {
			got, err := s.ListAuditEvents(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) == 0 {
				return all
			}
			all = append(all, got...)
			q.Cursor = got[len(got)-1].ID
		}
		t.Fatal("paging never ended")
		return nil
	}
	asc := page(store.AuditQuery{Limit: 100})
	if len(asc) != 1033 || asc[0].UserID != "u0" || asc[2].UserID != "u0" || asc[3].UserID != "u1" || asc[1032].Details["n"] != events[1029].Details["n"] {
		t.Fatalf("ascending: %d events, first %+v, fourth %+v", len(asc), asc[0], asc[min(3, len(asc)-1)])
	}
	if !slices.IsSortedFunc(asc, func(a, b store.AuditEvent) int { return int(a.ID - b.ID) }) || asc[2].ID >= 1<<30 || asc[3].ID < 1<<30 {
		t.Fatal("IDs not increasing, or a batch ID not above the older rows'")
	}
	desc := page(store.AuditQuery{Limit: 70, Newest: true})
	slices.Reverse(desc)
	if !slices.EqualFunc(asc, desc, func(a, b store.AuditEvent) bool { return a.ID == b.ID }) {
		t.Fatal("newest first, reversed, is not the ascending listing")
	}
	if got := page(store.AuditQuery{UserID: "u2", Limit: 33}); len(got) != 515 {
		t.Fatalf("user u2: %d events, want 515", len(got))
	}
	if got := page(store.AuditQuery{UserID: "u0"}); len(got) != 3 || got[0].Details["method"] != "pwd" {
		t.Fatalf("user u0 (older rows): %+v", got)
	}
	if got := page(store.AuditQuery{Since: events[1000].Time, Until: events[1010].Time}); len(got) != 10 || got[0].Time != events[1000].Time {
		t.Fatalf("time window: %d events", len(got))
	}

	// The cut falls inside the first batch: 2 older rows, then 500 of the
	// batch's events, limit 300 a call.
	cut := events[500].Time
	removed := 0
	for range 10 {
		n, err := s.DeleteAuditEventsBefore(ctx, base.Add(1500*time.Millisecond), 300)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		removed += n
	}
	if removed != 2 {
		t.Fatalf("removed %d before the batches, want the 2 older rows", removed)
	}
	removed = 0
	for range 10 {
		n, err := s.DeleteAuditEventsBefore(ctx, cut, 300)
		if err != nil {
			t.Fatal(err)
		}
		if n > 300 {
			t.Fatalf("one call removed %d, limit 300", n)
		}
		if n == 0 {
			break
		}
		removed += n
	}
	if removed != 1+500 {
		t.Fatalf("removed %d, want the last older row and 500 batch events", removed)
	}
	kept := page(store.AuditQuery{})
	if len(kept) != 530 || kept[0].ID != asc[503].ID || kept[529].ID != asc[1032].ID {
		t.Fatalf("kept %d events, first ID %d (want %d): IDs must not move", len(kept), kept[0].ID, asc[503].ID)
	}
}
