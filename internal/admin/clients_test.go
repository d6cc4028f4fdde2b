package admin_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/latchkey/latchkey/internal/admin"
	"github.com/latchkey/latchkey/internal/store"
)

const reportsBody = `{"id":"reports","grant_types":["client_credentials"],"scopes":["read","write"]}`

// TestAdminClientLifecycle: create (the secret shown once works at the
// token endpoint), read with an ETag, replace under If-Match, rotate the
// secret, delete twice.
func TestAdminClientLifecycle(t *testing.T) {
	f := start(t)
	tok := f.token(t, admin.ScopeClientsWrite)

	r := f.call(t, "POST", "/clients", tok, reportsBody)
	wantStatus(t, "create", r, http.StatusCreated)
	created, createdETag := r.json(t), r.Header.Get("ETag")
	secret, _ := created["client_secret"].(string)
	if !strings.HasPrefix(secret, "lk_cs_") || created["source"] != "admin" || created["has_secret"] != true {
		t.Fatalf("create: %s", r.Body)
	}
	if r.Header.Get("Location") != admin.Prefix+"/clients/reports" || r.Header.Get("ETag") == "" {
		t.Fatalf("create: Location %q ETag %q", r.Header.Get("Location"), r.Header.Get("ETag"))
	}
	if err := f.clientToken(t, "reports", secret, "read"); err != nil {
		t.Fatalf("the new secret does not work: %v", err)
	}
	stored, err := f.env.Store.GetClient(t.Context(), "reports")
	if err != nil || stored.SecretHash == "" || strings.Contains(stored.SecretHash, secret) {
		t.Fatalf("stored: %v, %v", stored.SecretHash, err)
	}

	r = f.call(t, "GET", "/clients/reports", tok, "")
	wantStatus(t, "get", r, http.StatusOK)
	etag := r.Header.Get("ETag")
	if etag != createdETag || strings.Contains(string(r.Body), "lk_cs_") || strings.Contains(string(r.Body), "sha256:") {
		t.Fatalf("get: ETag %q body %s", etag, r.Body)
	}

	// What a GET returned, edited, goes back as it is.
	edited := strings.Replace(string(r.Body), `"name":"reports"`, `"name":"Reports"`, 1)
	wantProblem(t, "PUT without If-Match", f.call(t, "PUT", "/clients/reports", tok, edited), http.StatusPreconditionRequired)
	r = f.call(t, "PUT", "/clients/reports", tok, edited, "If-Match", etag)
	wantStatus(t, "PUT", r, http.StatusOK)
	if r.json(t)["name"] != "Reports" || r.Header.Get("ETag") == etag {
		t.Fatalf("PUT: ETag %q body %s", r.Header.Get("ETag"), r.Body)
	}
	wantProblem(t, "PUT with the old ETag", f.call(t, "PUT", "/clients/reports", tok, edited, "If-Match", etag), http.StatusPreconditionFailed)
	wantProblem(t, "PUT with a weak ETag", f.call(t, "PUT", "/clients/reports", tok, edited, "If-Match", "W/"+r.Header.Get("ETag")), http.StatusPreconditionFailed)
	if err := f.clientToken(t, "reports", secret, "read"); err != nil {
		t.Fatalf("a replace must keep the secret: %v", err)
	}

	r = f.call(t, "POST", "/clients/reports/secret", tok, "")
	wantStatus(t, "rotate", r, http.StatusOK)
	fresh, _ := r.json(t)["client_secret"].(string)
	if fresh == "" || fresh == secret {
		t.Fatalf("rotate: %s", r.Body)
	}
	if err := f.clientToken(t, "reports", secret, "read"); err == nil {
		t.Fatal("the old secret still works after rotation")
	}
	if err := f.clientToken(t, "reports", fresh, "read"); err != nil {
		t.Fatalf("the rotated secret does not work: %v", err)
	}

	wantStatus(t, "delete", f.call(t, "DELETE", "/clients/reports", tok, ""), http.StatusNoContent)
	wantStatus(t, "delete again", f.call(t, "DELETE", "/clients/reports", tok, ""), http.StatusNoContent)
	wantProblem(t, "get deleted", f.call(t, "GET", "/clients/reports", tok, ""), http.StatusNotFound)
	if err := f.clientToken(t, "reports", fresh, "read"); err == nil {
		t.Fatal("a deleted client still gets tokens")
	}
}

// TestAdminClientRefusals: every refusal is a problem with the right
// status, field errors from the config file's rules, and nothing stored.
func TestAdminClientRefusals(t *testing.T) {
	f := start(t)
	tok := f.token(t, admin.ScopeAll)
	f.env.AddClientWithSecret(t, storeClient("from-config", "read"), strings.Repeat("s", 32))
	pub := f.call(t, "POST", "/clients", tok, `{"id":"spa","public":true,"grant_types":["authorization_code"],"scopes":["openid"],"redirect_uris":["http://127.0.0.1:9/cb"]}`)
	wantStatus(t, "public client", pub, http.StatusCreated)
	if _, has := pub.json(t)["client_secret"]; has {
		t.Fatalf("a public client got a secret: %s", pub.Body)
	}
	for _, tc := range []struct {
		name, method, path, body string
		headers                  []string
		status                   int
		fields                   []string
	}{
		{"unknown grant", "POST", "/clients", `{"id":"a","grant_types":["magic"],"scopes":["read"]}`, nil, 400, []string{"grant_types"}},
		{"code without redirect", "POST", "/clients", `{"id":"a","grant_types":["authorization_code"]}`, nil, 400, []string{"redirect_uris"}},
		{"no id", "POST", "/clients", `{"grant_types":["client_credentials"]}`, nil, 400, []string{"id"}},
		{"secret given", "POST", "/clients", `{"id":"a","secret":"` + strings.Repeat("x", 40) + `","grant_types":["client_credentials"]}`, nil, 400, []string{"secret"}},
		{"unknown member", "POST", "/clients", `{"id":"a","colour":"red"}`, nil, 400, nil},
		{"wrong type", "POST", "/clients", `{"id":"a","scopes":"read"}`, nil, 400, nil},
		{"not JSON", "POST", "/clients", `id: a`, nil, 400, nil},
		{"two values", "POST", "/clients", `{"id":"a"} {"id":"b"}`, nil, 400, nil},
		{"wrong media type", "POST", "/clients", reportsBody, []string{"Content-Type", "text/plain"}, 415, nil},
		{"taken", "POST", "/clients", `{"id":"spa","public":true,"grant_types":["authorization_code"],"scopes":["openid"],"redirect_uris":["http://127.0.0.1:9/cb"]}`, nil, 409, nil},
		{"config client replace", "PUT", "/clients/from-config", reportsBody, []string{"If-Match", "*"}, 409, nil},
		{"config client delete", "DELETE", "/clients/from-config", "", nil, 409, nil},
		{"config client secret", "POST", "/clients/from-config/secret", "", nil, 409, nil},
		{"public has no secret", "POST", "/clients/spa/secret", "", nil, 409, nil},
		{"id changed", "PUT", "/clients/spa", `{"id":"other","public":true}`, []string{"If-Match", "*"}, 400, []string{"id"}},
		{"replace unknown", "PUT", "/clients/nope", reportsBody, []string{"If-Match", "*"}, 404, nil},
		{"rotate unknown", "POST", "/clients/nope/secret", "", nil, 404, nil},
		{"limit too big", "GET", "/clients?limit=1000", "", nil, 400, []string{"limit"}},
		{"limit zero", "GET", "/clients?limit=0", "", nil, 400, []string{"limit"}},
		{"bad cursor", "GET", "/clients?cursor=!!!", "", nil, 400, []string{"cursor"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := f.call(t, tc.method, tc.path, tok, tc.body, tc.headers...)
			wantProblem(t, tc.name, r, tc.status, tc.fields...)
		})
	}
	all, err := f.env.Store.ListClients(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 { // the admin's, from-config, spa
		t.Fatalf("refusals stored clients: %d stored", len(all))
	}
}

// TestAdminRacingUpdates: ten administrators replace one client from the
// same ETag at once; exactly one wins, the others get 412.
func TestAdminRacingUpdates(t *testing.T) {
	f := start(t)
	tok := f.token(t, admin.ScopeClientsWrite)
	wantStatus(t, "create", f.call(t, "POST", "/clients", tok, reportsBody), http.StatusCreated)
	etag := f.call(t, "GET", "/clients/reports", tok, "").Header.Get("ETag")
	statuses := make([]int, 10)
	var wg sync.WaitGroup
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := fmt.Sprintf(`{"name":"editor %d","grant_types":["client_credentials"],"scopes":["read"]}`, i)
			statuses[i] = f.call(t, "PUT", "/clients/reports", tok, body, "If-Match", etag).Status
		}()
	}
	wg.Wait()
	won := 0
	for _, s := range statuses {
		switch s {
		case http.StatusOK:
			won++
		case http.StatusPreconditionFailed:
		default:
			t.Fatalf("statuses %v", statuses)
		}
	}
	if won != 1 {
		t.Fatalf("%d updates won, want exactly 1: %v", won, statuses)
	}
}

// TestAdminPaging1000Clients pages through 1,000 clients (and clients
// added while paging, before the cursor and after it) with no duplicate
// and no gap, then filters.
func TestAdminPaging1000Clients(t *testing.T) {
	f := start(t)
	tok := f.token(t, admin.ScopeClientsRead) // admin-1
	want := map[string]bool{"admin-1": true}
	for i := range 1000 {
		c := storeClient(fmt.Sprintf("c%04d", i), "read")
		c.Source = "cli"
		if i%10 == 0 {
			c.Source = "admin"
		}
		if err := f.env.Store.CreateClient(context.Background(), c); err != nil {
			t.Fatal(err)
		}
		want[c.ID] = true
	}
	seen := map[string]bool{}
	cursor, pages := "", 0
	for {
		r := f.call(t, "GET", "/clients?limit=37&cursor="+cursor, tok, "")
		wantStatus(t, "page", r, http.StatusOK)
		body := r.json(t)
		for _, it := range body["items"].([]any) {
			id := it.(map[string]any)["id"].(string)
			if seen[id] {
				t.Fatalf("page %d: %s twice", pages, id)
			}
			seen[id] = true
		}
		pages++
		if pages == 5 { // inserts behind and ahead of the cursor
			for _, id := range []string{"a-behind", "zz-ahead"} {
				if err := f.env.Store.CreateClient(context.Background(), storeClient(id)); err != nil {
					t.Fatal(err)
				}
			}
			want["zz-ahead"] = true
		}
		next, _ := body["next_cursor"].(string)
		if next == "" {
			break
		}
		cursor = next
	}
	for id := range want {
		if !seen[id] {
			t.Fatalf("%s missing after %d pages", id, pages)
		}
	}
	if len(seen) != len(want) || pages != (len(want)+36)/37 {
		t.Fatalf("saw %d clients in %d pages, want %d", len(seen), pages, len(want))
	}
	r := f.call(t, "GET", "/clients?limit=200&source=admin&id_prefix=c00", tok, "")
	items := r.json(t)["items"].([]any)
	if len(items) != 10 || items[0].(map[string]any)["id"] != "c0000" {
		t.Fatalf("filter: %d items, first %v", len(items), items[0])
	}
}

// storeIDs lists stored client ids (for debugging failed assertions).
func storeIDs(t *testing.T, st store.Store) []string {
	all, _ := st.ListClients(context.Background())
	var ids []string
	for _, c := range all {
		ids = append(ids, c.ID)
	}
	return ids
}
