package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

func adminTests() []subtest {
	return []subtest{
		{"ClientPagesFilters", testClientPages},
		{"ReplaceClientCompareAndSwap", testReplaceClient},
		{"ReplaceClientRaceOneWins", testReplaceClientRace},
		{"DeleteClientIfCompareAndDelete", testDeleteClientIf},
		{"DeleteIfAgainstReplaceOneWins", testDeleteIfRace},
		{"DeleteUserIfCompareAndDelete", testDeleteUserIf},
		{"UserPagesPrefix", testUserPages},
		{"ReplaceUserCompareAndSwap", testReplaceUser},
		{"UserPagesEmail", testUserPagesEmail},
		{"ClientGrantsPagesLiveOnly", testClientGrantPages},
	}
}

// admin returns s as an AdminStore; every backend must be one.
func admin(t *testing.T, s store.Store) store.AdminStore {
	t.Helper()
	a, ok := s.(store.AdminStore)
	if !ok {
		t.Fatalf("%T does not implement store.AdminStore", s)
	}
	return a
}

func testClientPages(t *testing.T, s store.Store) {
	ctx := t.Context()
	for i := range 7 {
		c := store.Client{ID: fmt.Sprintf("app-%02d", i), Source: "cli", GrantTypes: []string{"client_credentials"}}
		if i%2 == 0 {
			c.Source, c.GrantTypes = "admin", []string{"authorization_code", "refresh_token"}
		}
		must(t, s.CreateClient(ctx, c))
	}
	must(t, s.CreateClient(ctx, store.Client{ID: "app", Source: "config"}))
	must(t, s.CreateClient(ctx, store.Client{ID: "zed", Source: "admin", GrantTypes: []string{"refresh_token"}}))
	a := admin(t, s)
	pages := func(q store.ClientQuery) []string {
		var ids []string
		for {
			page, err := a.ListClientsPage(ctx, q)
			must(t, err)
			for _, c := range page {
				ids = append(ids, c.ID)
			}
			if len(page) < q.Limit {
				return ids
			}
			q.After = page[len(page)-1].ID
		}
	}
	same(t, "all, 3 a page", pages(store.ClientQuery{Limit: 3}),
		[]string{"app", "app-00", "app-01", "app-02", "app-03", "app-04", "app-05", "app-06", "zed"})
	same(t, "prefix app-", pages(store.ClientQuery{Limit: 2, IDPrefix: "app-"}),
		[]string{"app-00", "app-01", "app-02", "app-03", "app-04", "app-05", "app-06"})
	same(t, "prefix app (itself included)", pages(store.ClientQuery{Limit: 4, IDPrefix: "app"})[:2], []string{"app", "app-00"})
	same(t, "source admin", pages(store.ClientQuery{Limit: 2, Source: "admin"}), []string{"app-00", "app-02", "app-04", "app-06", "zed"})
	same(t, "grant refresh_token, prefix app", pages(store.ClientQuery{Limit: 10, GrantType: "refresh_token", IDPrefix: "app"}),
		[]string{"app-00", "app-02", "app-04", "app-06"})
	same(t, "after the prefix's range", pages(store.ClientQuery{Limit: 10, IDPrefix: "app-", After: "app-05"}), []string{"app-06"})
	same(t, "no match", pages(store.ClientQuery{Limit: 10, IDPrefix: "nope"}), []string(nil))
}

func testReplaceClient(t *testing.T, s store.Store) {
	ctx := t.Context()
	orig := fullClient("app")
	must(t, s.CreateClient(ctx, orig))
	a := admin(t, s)
	next := orig
	next.Name, next.Scopes, next.Source, next.CreatedAt, next.UpdatedAt = "Renamed", []string{"only"}, "other", at(99), at(5)
	wantErr(t, "ReplaceClient refused", a.ReplaceClient(ctx, next, func(store.Client) bool { return false }), store.ErrStale)
	got, err := s.GetClient(ctx, "app")
	must(t, err)
	same(t, "unchanged after a refusal", got, orig)
	must(t, a.ReplaceClient(ctx, next, func(cur store.Client) bool { return cur.Name == orig.Name }))
	got, err = s.GetClient(ctx, "app")
	must(t, err)
	next.Source, next.CreatedAt = orig.Source, orig.CreatedAt // never replaced
	same(t, "replaced", got, next)
	wantErr(t, "ReplaceClient unknown", a.ReplaceClient(ctx, store.Client{ID: "nope"}, func(store.Client) bool { return true }), store.ErrNotFound)
}

// testReplaceClientRace: ten writers that all read the same version; the
// match of each sees the name it read, so exactly one may win.
func testReplaceClientRace(t *testing.T, s store.Store) {
	ctx := t.Context()
	must(t, s.CreateClient(ctx, store.Client{ID: "app", Name: "v0", Source: "admin"}))
	a := admin(t, s)
	var wg sync.WaitGroup
	errs := make([]error, 10)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := store.Client{ID: "app", Name: fmt.Sprintf("v%d", i+1)}
			errs[i] = a.ReplaceClient(ctx, c, func(cur store.Client) bool { return cur.Name == "v0" })
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, store.ErrStale):
			t.Fatalf("a losing writer got %v, want ErrStale", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d writers won, want exactly 1", won)
	}
}

// testDeleteClientIf: a refused delete changes nothing; an accepted one
// removes the client with its grants; an unknown client is ErrNotFound.
func testDeleteClientIf(t *testing.T, s store.Store) {
	ctx := t.Context()
	orig := fullClient("app")
	must(t, s.CreateClient(ctx, orig))
	must(t, s.CreateUser(ctx, fullUser("u1", "alice")))
	g := store.Grant{ID: "g1", ClientID: "app", UserID: "u1", Scopes: []string{"openid"}, CreatedAt: at(0)}
	must(t, s.SaveIssue(ctx, store.Issue{Grant: &g}))
	a := admin(t, s)
	wantErr(t, "DeleteClientIf refused", a.DeleteClientIf(ctx, "app", func(store.Client) bool { return false }), store.ErrStale)
	got, err := s.GetClient(ctx, "app")
	must(t, err)
	same(t, "kept after a refusal", got, orig)
	var seen store.Client
	must(t, a.DeleteClientIf(ctx, "app", func(cur store.Client) bool { seen = cur; return cur.Name == orig.Name }))
	same(t, "the record match saw", seen, orig)
	_, err = s.GetClient(ctx, "app")
	wantErr(t, "GetClient after the delete", err, store.ErrNotFound)
	_, err = s.GetGrant(ctx, "g1")
	wantErr(t, "the client's grant after the delete", err, store.ErrNotFound)
	wantErr(t, "DeleteClientIf unknown", a.DeleteClientIf(ctx, "app", func(store.Client) bool { return true }), store.ErrNotFound)
}

// testDeleteIfRace: an edit and a delete that both read the same version
// (two administrators); exactly one wins, and a lost delete leaves the
// edited client.
func testDeleteIfRace(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := admin(t, s)
	for round := range 5 {
		id := fmt.Sprint("app-", round)
		must(t, s.CreateClient(ctx, store.Client{ID: id, Name: "v0", Source: "admin"}))
		var wg sync.WaitGroup
		var replaced, deleted error
		wg.Add(2)
		go func() {
			defer wg.Done()
			replaced = a.ReplaceClient(ctx, store.Client{ID: id, Name: "v1"}, func(cur store.Client) bool { return cur.Name == "v0" })
		}()
		go func() {
			defer wg.Done()
			deleted = a.DeleteClientIf(ctx, id, func(cur store.Client) bool { return cur.Name == "v0" })
		}()
		wg.Wait()
		c, err := s.GetClient(ctx, id)
		switch {
		case replaced == nil && errors.Is(deleted, store.ErrStale):
			if err != nil || c.Name != "v1" {
				t.Fatalf("the edit won, but the client is %+v %v", c, err)
			}
		case deleted == nil && (errors.Is(replaced, store.ErrStale) || errors.Is(replaced, store.ErrNotFound)):
			wantErr(t, "the delete won, GetClient", err, store.ErrNotFound)
		default:
			t.Fatalf("replace %v, delete %v: want exactly one to win", replaced, deleted)
		}
	}
}

// testDeleteUserIf is testDeleteClientIf for users.
func testDeleteUserIf(t *testing.T, s store.Store) {
	ctx := t.Context()
	orig := fullUser("u1", "alice")
	must(t, s.CreateUser(ctx, orig))
	a := admin(t, s)
	wantErr(t, "DeleteUserIf refused", a.DeleteUserIf(ctx, "u1", func(store.User) bool { return false }), store.ErrStale)
	_, err := s.GetUser(ctx, "u1")
	must(t, err)
	must(t, a.DeleteUserIf(ctx, "u1", func(cur store.User) bool { return cur.Username == "alice" }))
	_, err = s.GetUser(ctx, "u1")
	wantErr(t, "GetUser after the delete", err, store.ErrNotFound)
	wantErr(t, "DeleteUserIf unknown", a.DeleteUserIf(ctx, "u1", func(store.User) bool { return true }), store.ErrNotFound)
}

func testUserPages(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, name := range []string{"bob", "alice", "al", "alan", "carol"} {
		must(t, s.CreateUser(ctx, store.User{ID: "id-" + name, Username: name, PasswordHash: "h", Source: "cli"}))
	}
	a := admin(t, s)
	var names []string
	q := store.UserQuery{Limit: 2, UsernamePrefix: "al"}
	for {
		page, err := a.ListUsersPage(ctx, q)
		must(t, err)
		for _, u := range page {
			names = append(names, u.Username)
		}
		if len(page) < q.Limit {
			break
		}
		q.After = page[len(page)-1].Username
	}
	same(t, "prefix al", names, []string{"al", "alan", "alice"})
	page, err := a.ListUsersPage(ctx, store.UserQuery{Limit: 10, After: "alice"})
	must(t, err)
	if len(page) != 2 || page[0].Username != "bob" || page[1].Username != "carol" {
		t.Fatalf("after alice: %v", page)
	}
}

func testReplaceUser(t *testing.T, s store.Store) {
	ctx := t.Context()
	orig := store.User{ID: "u1", Username: "ann", PasswordHash: "h1", Claims: map[string]any{"email": "ann@example.com"},
		Source: "cli", CreatedAt: at(0), UpdatedAt: at(0)}
	must(t, s.CreateUser(ctx, orig))
	a := admin(t, s)
	next := orig
	next.Claims, next.PasswordHash, next.UpdatedAt, next.DisabledAt = map[string]any{"name": "Ann"}, "h2", at(ms), at(2*ms)
	wantErr(t, "ReplaceUser refused", a.ReplaceUser(ctx, next, func(store.User) bool { return false }), store.ErrStale)
	must(t, a.ReplaceUser(ctx, next, func(cur store.User) bool { return cur.PasswordHash == "h1" }))
	got, err := s.GetUser(ctx, "u1")
	must(t, err)
	same(t, "replaced", got, next)
	wantErr(t, "ReplaceUser unknown", a.ReplaceUser(ctx, store.User{ID: "nope", Username: "x"}, func(store.User) bool { return true }), store.ErrNotFound)
}

// testClientGrantPages: a client's live grants (not revoked, not expired)
// of every user and of none, by id, page after page; other clients' never.
func testClientGrantPages(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := setup(t, s)
	a := admin(t, s)
	short := newGrant("g-c-short", f.client.ID, f.user.ID)
	short.ExpiresAt = at(time.Hour)
	grants := []store.Grant{newGrant("g-a", f.client.ID, f.user.ID), newGrant("g-b", f.client.ID, f.user2.ID),
		newGrant("g-cc", f.client.ID, ""), short, newGrant("g-revoked", f.client.ID, f.user.ID),
		newGrant("g-other", f.other.ID, f.user.ID)}
	for _, g := range grants {
		must(t, s.SaveIssue(ctx, store.Issue{Grant: &g}))
	}
	must(t, s.RevokeGrant(ctx, "g-revoked", at(time.Second)))
	walk := func(now time.Time) []string {
		var ids []string
		after := ""
		for range 10 {
			page, err := a.ListClientGrantsPage(ctx, store.GrantQuery{ClientID: f.client.ID, After: after, Limit: 2, Now: now})
			must(t, err)
			for _, g := range page {
				ids = append(ids, g.ID)
			}
			if len(page) < 2 {
				return ids
			}
			after = page[len(page)-1].ID
		}
		t.Fatal("the pages never end")
		return nil
	}
	same(t, "live at 30m", walk(at(30*time.Minute)), []string{"g-a", "g-b", "g-c-short", "g-cc"})
	same(t, "live at 2h (g-c-short expired)", walk(at(2*time.Hour)), []string{"g-a", "g-b", "g-cc"})
	page, err := a.ListClientGrantsPage(ctx, store.GrantQuery{ClientID: f.client.ID, Limit: 1, Now: at(0)})
	must(t, err)
	same(t, "a full grant comes back", page, []store.Grant{grants[0]})
}

// testUserPagesEmail: ?email= matches the email claim exactly, ignoring
// (ASCII) case, paged by username, alone or with a username prefix.
func testUserPagesEmail(t *testing.T, s store.Store) {
	ctx := t.Context()
	users := map[string]any{"ann": "Ann@Example.com", "anna": "ann@example.com", "bea": "ann@example.com",
		"cat": "cat@example.com", "dan": nil, "eve": "ann@example.com.evil"}
	for name, email := range users {
		u := store.User{ID: "id-" + name, Username: name, PasswordHash: "h", Source: "cli"}
		if email != nil {
			u.Claims = map[string]any{"email": email, "name": name}
		}
		must(t, s.CreateUser(ctx, u))
	}
	a := admin(t, s)
	walk := func(q store.UserQuery) []string {
		var names []string
		for range 10 {
			page, err := a.ListUsersPage(ctx, q)
			must(t, err)
			for _, u := range page {
				names = append(names, u.Username)
			}
			if len(page) < q.Limit {
				return names
			}
			q.After = page[len(page)-1].Username
		}
		t.Fatal("the pages never end")
		return nil
	}
	same(t, "email ann@example.com", walk(store.UserQuery{Limit: 2, Email: "ann@example.com"}), []string{"ann", "anna", "bea"})
	same(t, "email in capitals", walk(store.UserQuery{Limit: 5, Email: "ANN@EXAMPLE.COM"}), []string{"ann", "anna", "bea"})
	same(t, "email and prefix", walk(store.UserQuery{Limit: 5, Email: "ann@example.com", UsernamePrefix: "ann"}), []string{"ann", "anna"})
	same(t, "no such email", walk(store.UserQuery{Limit: 5, Email: "nobody@example.com"}), []string(nil))
}
