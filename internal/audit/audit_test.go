package audit_test

import (
	"testing"

	"github.com/latchkey/latchkey/internal/audit"
)

// Every listed type is valid and distinct; anything else is not.
func TestTypesClosedSet(t *testing.T) {
	seen := map[audit.Type]bool{}
	for _, typ := range audit.Types() {
		if !typ.Valid() || seen[typ] {
			t.Fatalf("type %q invalid or listed twice", typ)
		}
		seen[typ] = true
	}
	if len(seen) != 19 {
		t.Fatalf("%d types, want the 13 of issue 15 and the 6 of issue 16", len(seen))
	}
	for _, bad := range []audit.Type{"", "token", "TOKEN.ISSUED", "token.issued "} {
		if bad.Valid() {
			t.Errorf("%q is valid", bad)
		}
	}
}

// Sanitize redacts token-shaped values and bounds long ones, leaving ids alone.
func TestSanitize(t *testing.T) {
	long := make([]byte, 2000)
	for i := range long {
		long[i] = 'a'
	}
	e := audit.Sanitize(audit.Event{Type: audit.TokenIssued, Details: map[string]string{
		"jti": "5f0c2b9d8e7a4c1b", "rt": "x lk_rt_abc", "code": "lk_ac_abc", "jwt": "eyJhbGciOiJFUzI1NiJ9.eyJ9.c2ln", "long": string(long)}})
	want := map[string]string{"jti": "5f0c2b9d8e7a4c1b", "rt": "[redacted]", "code": "[redacted]", "jwt": "[redacted]"}
	for k, v := range want {
		if e.Details[k] != v {
			t.Errorf("details[%s] = %q, want %q", k, e.Details[k], v)
		}
	}
	if len(e.Details["long"]) != 512 {
		t.Errorf("a long detail kept %d bytes, want 512", len(e.Details["long"]))
	}
}

// Change builds the admin.change event the admin API records.
func TestChange(t *testing.T) {
	e := audit.Change("admin:ops", "client", "reports", "update", "scopes=read", "scopes=read,write")
	if e.Type != audit.AdminChange || e.Actor != "admin:ops" || e.Details["object"] != "client" || e.Details["id"] != "reports" ||
		e.Details["action"] != "update" || e.Details["before"] != "scopes=read" || e.Details["after"] != "scopes=read,write" {
		t.Fatalf("Change = %+v", e)
	}
	if d := audit.Change("cli", "user", "u1", "delete", "username=alice", "").Details; d["after"] != "" || len(d) != 4 {
		t.Fatalf("delete details = %v", d)
	}
}
