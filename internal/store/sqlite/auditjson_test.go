package sqlite

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// FuzzEncodeDetails: the hand-written details encoding decodes to what
// encoding/json's encoding of the same map decodes to, for any strings
// (quotes, control characters, invalid UTF-8, U+2028).
func FuzzEncodeDetails(f *testing.F) {
	f.Add("jti", "5f0c2b9d", "username", "ali\"ce\\\n\x01\u2028", "ip", "\xff\xfe<&>")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2, k3, v3 string) {
		d := map[string]string{k1: v1, k2: v2, k3: v3, "scope": "read write"}
		got := encodeDetails(d)
		want, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		var g, w map[string]string
		if err := json.Unmarshal([]byte(got), &g); err != nil {
			t.Fatalf("invalid JSON %q: %v", got, err)
		}
		if err := json.Unmarshal(want, &w); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(g, w) {
			t.Fatalf("decodes to %#v, encoding/json's to %#v", g, w)
		}
		if encodeDetails(nil) != "{}" {
			t.Fatal("no details must store {}")
		}
	})
}

// FuzzEncodeAuditBatch: a batch written by hand decodes, through the
// auditRecord the listing uses, to the events it was given.
func FuzzEncodeAuditBatch(f *testing.F) {
	f.Add(int64(1764806400123), "token.issued", "client:svc", "svc", "", "192.0.2.1", "", "jti", "5f0c\"\\\n")
	f.Add(int64(-1), "", "\xff", "\u2028", "ü", "", "bad_password", "", "")
	f.Fuzz(func(t *testing.T, at int64, typ, actor, client, user, ip, reason, k, v string) {
		e := store.AuditEvent{Time: time.UnixMilli(at), Type: typ, Actor: actor, ClientID: client, UserID: user,
			IP: ip, Reason: reason}
		if k != "" {
			e.Details = map[string]string{k: v}
		}
		var got []*auditRecord
		if err := json.Unmarshal([]byte(encodeAuditBatch([]store.AuditEvent{e, e})), &got); err != nil {
			t.Fatalf("invalid JSON: %v", err)
		}
		// What encoding/json makes of the same strings (invalid UTF-8
		// becomes U+FFFD either way).
		want, err := json.Marshal(auditRecord{At: at, Type: typ, Actor: actor, ClientID: client, UserID: user, IP: ip,
			Reason: reason, Details: e.Details})
		if err != nil {
			t.Fatal(err)
		}
		var w auditRecord
		if err := json.Unmarshal(want, &w); err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0] == nil || !reflect.DeepEqual(*got[0], w) || !reflect.DeepEqual(*got[1], w) {
			t.Fatalf("decodes to %+v, want %+v twice", got, w)
		}
	})
}
