package admin_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/latchkey/latchkey/internal/admin"
)

// TestAdminUsersByEmail: ?email= keeps the users whose email claim is
// the address, ignoring case, paged by username like the whole list.
func TestAdminUsersByEmail(t *testing.T) {
	f := start(t)
	tok := f.token(t, admin.ScopeUsersWrite)
	for _, u := range []struct{ name, email string }{
		{"alice", "Alice@Example.com"}, {"alice2", "alice@example.com"}, {"bob", "bob@example.com"}, {"carol", "alice@example.com.evil"},
	} {
		body := `{"username":"` + u.name + `","password":"a long enough password","claims":{"email":"` + u.email + `"}}`
		wantStatus(t, "create "+u.name, f.call(t, "POST", "/users", tok, body), http.StatusCreated)
	}
	wantStatus(t, "no email", f.call(t, "POST", "/users", tok, `{"username":"dan","password":"a long enough password"}`), http.StatusCreated)

	names := func(query string) (out []string, next string) {
		t.Helper()
		r := f.call(t, "GET", "/users?"+query, tok, "")
		wantStatus(t, query, r, http.StatusOK)
		m := r.json(t)
		for _, it := range m["items"].([]any) {
			out = append(out, it.(map[string]any)["username"].(string))
		}
		next, _ = m["next_cursor"].(string)
		return out, next
	}
	first, next := names("email=" + url.QueryEscape("ALICE@example.COM") + "&limit=1")
	if len(first) != 1 || first[0] != "alice" || next == "" {
		t.Fatalf("first page: %v, next %q", first, next)
	}
	rest, next := names("email=alice%40example.com&limit=1&cursor=" + next)
	if len(rest) != 1 || rest[0] != "alice2" {
		t.Fatalf("second page: %v", rest)
	}
	if next != "" {
		if more, _ := names("email=alice%40example.com&limit=1&cursor=" + next); len(more) != 0 {
			t.Fatalf("third page: %v", more)
		}
	}
	if got, _ := names("email=nobody%40example.com"); len(got) != 0 {
		t.Fatalf("no such email: %v", got)
	}
	if got, _ := names("email=bob%40example.com&username_prefix=al"); len(got) != 0 {
		t.Fatalf("email and a prefix that excludes it: %v", got)
	}
	if got, _ := names(""); len(got) != 5 {
		t.Fatalf("without a filter: %v", got)
	}
}
