package admin_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/admin"
	"github.com/latchkey/latchkey/internal/store"
)

// TestAdminChangesAudited: every write records an admin.change event
// naming the admin client, the object and what changed, never a secret;
// GET /audit lists them, filtered and paged.
func TestAdminChangesAudited(t *testing.T) {
	f := start(t)
	tok := f.token(t, admin.ScopeAll) // admin-1
	r := f.call(t, "POST", "/clients", tok, reportsBody)
	wantStatus(t, "create", r, http.StatusCreated)
	secret := r.json(t)["client_secret"].(string)
	etag := r.Header.Get("ETag")
	wantStatus(t, "update", f.call(t, "PUT", "/clients/reports", tok, `{"grant_types":["client_credentials"],"scopes":["read"]}`, "If-Match", etag), http.StatusOK)
	rotated := f.call(t, "POST", "/clients/reports/secret", tok, "").json(t)["client_secret"].(string)
	wantStatus(t, "delete", f.call(t, "DELETE", "/clients/reports", tok, ""), http.StatusNoContent)
	wantStatus(t, "user", f.call(t, "POST", "/users", tok, `{"username":"ann","password":"ann's long password"}`), http.StatusCreated)

	var items []any
	deadline := time.Now().Add(5 * time.Second)
	for len(items) < 5 && time.Now().Before(deadline) { // the Writer stores in batches
		time.Sleep(10 * time.Millisecond)
		items = f.call(t, "GET", "/audit?type=admin.change&order=oldest", tok, "").json(t)["items"].([]any)
	}
	if len(items) != 5 {
		t.Fatalf("%d admin.change events, want 5", len(items))
	}
	raw, _ := json.Marshal(items)
	for _, leak := range []string{secret, rotated, "ann's long password", "sha256:", "argon2"} {
		if strings.Contains(string(raw), leak) {
			t.Fatalf("the audit trail holds a secret (%q): %s", leak, raw)
		}
	}
	want := []struct{ object, action string }{{"client", "create"}, {"client", "update"}, {"client", "rotate_secret"}, {"client", "delete"}, {"user", "create"}}
	for i, it := range items {
		e := it.(map[string]any)
		d := e["details"].(map[string]any)
		if e["actor"] != "client:admin-1" || d["object"] != want[i].object || d["action"] != want[i].action {
			t.Fatalf("event %d: %v, want %v by client:admin-1", i, e, want[i])
		}
	}
	update := items[1].(map[string]any)["details"].(map[string]any)
	if update["before"] != `{"scopes":["read","write"]}` || update["after"] != `{"scopes":["read"]}` {
		t.Fatalf("update before/after: %v", update)
	}
	page := f.call(t, "GET", "/audit?client_id=reports&limit=2", tok, "").json(t)
	if len(page["items"].([]any)) != 2 || page["next_cursor"] == nil {
		t.Fatalf("a page of 2 of reports' events: %v", page)
	}
	next := f.call(t, "GET", "/audit?client_id=reports&limit=2&cursor="+page["next_cursor"].(string), tok, "").json(t)
	if len(next["items"].([]any)) != 2 || next["items"].([]any)[0].(map[string]any)["details"].(map[string]any)["action"] != "update" {
		t.Fatalf("the second page, newest first: %v", next)
	}
	wantProblem(t, "bad since", f.call(t, "GET", "/audit?since=yesterday", tok, ""), http.StatusBadRequest, "since")
}

// TestResetFactorsAudited: DELETE /users/{id}/factors removes the factors
// and records mfa.removed (how many, by which admin) beside admin.change;
// the user's mfa_required is part of the resource and of PATCH.
func TestResetFactorsAudited(t *testing.T) {
	f := start(t)
	tok := f.token(t, admin.ScopeAll)
	r := f.call(t, "POST", "/users", tok, `{"username":"ann","password":"ann's long password","mfa_required":true}`)
	wantStatus(t, "create", r, http.StatusCreated)
	u := r.json(t)
	if u["mfa_required"] != true {
		t.Fatalf("created user: %v", u)
	}
	id := u["id"].(string)
	now := f.env.Clock.Now()
	if err := f.env.Store.CreateFactor(t.Context(), store.Factor{ID: "f1", UserID: id, Kind: store.FactorTOTP, Data: []byte("x"), CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := f.env.Store.ConfirmFactor(t.Context(), id, "f1", 1, now, []string{"d"}); err != nil {
		t.Fatal(err)
	}
	reset := f.call(t, "DELETE", "/users/"+id+"/factors", tok, "")
	wantStatus(t, "reset", reset, http.StatusOK)
	if fs, _ := f.env.Store.ListFactors(t.Context(), id); len(fs) != 0 {
		t.Fatalf("factors after reset: %+v", fs)
	}
	var items []any
	deadline := time.Now().Add(5 * time.Second)
	for len(items) < 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		items = f.call(t, "GET", "/audit?type=mfa.removed", tok, "").json(t)["items"].([]any)
	}
	if len(items) != 1 {
		t.Fatalf("%d mfa.removed events, want 1", len(items))
	}
	e := items[0].(map[string]any)
	d := e["details"].(map[string]any)
	if e["user_id"] != id || e["actor"] != "client:admin-1" || d["via"] != "admin" || d["factors"] != "1" {
		t.Fatalf("mfa.removed: %v", e)
	}
	patched := f.call(t, "PATCH", "/users/"+id, tok, `{"mfa_required":false}`, "If-Match", "*")
	wantStatus(t, "patch", patched, http.StatusOK)
	if patched.json(t)["mfa_required"] != false {
		t.Fatalf("after PATCH: %s", patched.Body)
	}
}
