package keys

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/store"
)

// Every key the manager adds or removes is a key.rotated event naming its
// kid and algorithm, and no event holds key material (issue 15 item 3).
func TestKeyEventsRecorded(t *testing.T) {
	st := openStore(t)
	w, err := audit.NewWriter(audit.Options{Sink: st})
	if err != nil {
		t.Fatal(err)
	}
	go w.Run(t.Context())
	c := &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	m, err := NewManager(st, testSecret, Options{ActivationDelay: time.Hour, Retention: 2 * time.Hour, Now: c.now,
		Rand: rand.Reader, Audit: w})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := m.Init(ctx); err != nil {
		t.Fatal(err)
	}
	first := listKeys(t, st)
	c.advance(time.Minute)
	staged, err := m.Rotate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c.advance(4 * time.Hour) // the staged keys sign; the first ones are past retention
	pruned, err := m.Prune(ctx)
	if err != nil {
		t.Fatal(err)
	}
	flush, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := w.Close(flush); err != nil {
		t.Fatal(err)
	}
	events, err := st.ListAuditEvents(ctx, store.AuditQuery{Types: []string{string(audit.KeyRotated)}})
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, e := range events {
		count[e.Details["action"]]++
		if e.Actor != "system" || e.Details["kid"] == "" || e.Details["alg"] == "" || len(e.Details) != 3 {
			t.Errorf("event %+v: want actor system and exactly action, kid, alg", e)
		}
	}
	if len(first) == 0 || len(staged) != len(first) || count["generated"] != len(first) || count["staged"] != len(staged) || count["retired"] != pruned || pruned != len(first) {
		t.Fatalf("events by action %v; want %d generated, %d staged, %d retired", count, len(first), len(staged), len(first))
	}
	all, _ := json.Marshal(events)
	for _, k := range first {
		if sealed := base64.StdEncoding.EncodeToString(k.Private); strings.Contains(string(all), sealed[:16]) {
			t.Fatal("an event holds sealed key material")
		}
	}
}
