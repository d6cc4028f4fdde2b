package storetest

import (
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

func clientTests() []subtest {
	return []subtest{
		{"ClientRoundTrip", testClientRoundTrip},
		{"ClientNotFound", testClientNotFound},
		{"CreateClientConflict", testCreateClientConflict},
		{"UpsertClientKeepsCreatedAt", testUpsertClient},
		{"UpsertClientReplacesKeysAndBindings", testUpsertClientBindings},
		{"SetClientSecret", testSetClientSecret},
		{"ListClientsOrderedByID", testListClients},
	}
}

func userTests() []subtest {
	return []subtest{
		{"UserRoundTrip", testUserRoundTrip},
		{"UserNotFound", testUserNotFound},
		{"CreateUserConflict", testCreateUserConflict},
		{"UpsertUserKeepsIDAndCreatedAt", testUpsertUser},
		{"SetUserPassword", testSetUserPassword},
		{"ListUsersOrderedByUsername", testListUsers},
	}
}

func testClientRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	want := fullClient("app")
	must(t, s.CreateClient(ctx, want))
	got, err := s.GetClient(ctx, "app")
	must(t, err)
	same(t, "GetClient", got, want)

	// A public client with every optional field empty and zero times.
	bare := store.Client{ID: "bare", Public: true}
	must(t, s.CreateClient(ctx, bare))
	got, err = s.GetClient(ctx, "bare")
	must(t, err)
	same(t, "GetClient(bare)", got, bare)
}

func testClientNotFound(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.GetClient(ctx, "nope")
	wantErr(t, "GetClient", err, store.ErrNotFound)
	wantErr(t, "SetClientSecret", s.SetClientSecret(ctx, "nope", "sha256:x", at(0)), store.ErrNotFound)
	wantErr(t, "DeleteClient", s.DeleteClient(ctx, "nope"), store.ErrNotFound)
}

func testCreateClientConflict(t *testing.T, s store.Store) {
	ctx := t.Context()
	first := fullClient("app")
	must(t, s.CreateClient(ctx, first))
	second := fullClient("app")
	second.Name = "Impostor"
	wantErr(t, "CreateClient twice", s.CreateClient(ctx, second), store.ErrConflict)
	got, err := s.GetClient(ctx, "app")
	must(t, err)
	same(t, "client after conflict", got, first)
}

func testUpsertClient(t *testing.T, s store.Store) {
	ctx := t.Context()
	first := fullClient("app")
	must(t, s.UpsertClient(ctx, first)) // creates
	got, err := s.GetClient(ctx, "app")
	must(t, err)
	same(t, "upserted client", got, first)

	// Every field is replaced (lists emptied, flags cleared) but CreatedAt.
	second := store.Client{
		ID: "app", Name: "Renamed", Public: true, RedirectURIs: []string{"https://new.example/cb"},
		AccessTokenFormat: "jwt", RefreshGrace: 0, Source: "config",
		CreatedAt: at(time.Hour), UpdatedAt: at(2*time.Hour + 789*ms),
	}
	must(t, s.UpsertClient(ctx, second))
	got, err = s.GetClient(ctx, "app")
	must(t, err)
	want := second
	want.CreatedAt = first.CreatedAt
	same(t, "client after second upsert", got, want)
}

// testUpsertClientBindings replaces the client's keys (RFC 7523), resource
// indicators (RFC 8707), DPoP and PAR requirements (RFC 9449, RFC 9126) and
// profile with other values, then with none.
func testUpsertClientBindings(t *testing.T, s store.Store) {
	ctx := t.Context()
	first := fullClient("app")
	must(t, s.CreateClient(ctx, first))
	changed := first
	changed.JWKS, changed.JWKSURI = `{"keys":[]}`, ""
	changed.Resources = []string{"https://other.example/api"}
	changed.DPoPBoundAccessTokens, changed.RequireDPoPNonce, changed.RequirePAR = false, true, false
	changed.Profile, changed.RefreshRotation = "", "rotate"
	changed.UpdatedAt = at(time.Hour + 1*ms)
	cleared := changed
	cleared.JWKS, cleared.Resources, cleared.RequireDPoPNonce, cleared.RefreshRotation = "", nil, false, ""
	cleared.JWKSURI, cleared.DPoPBoundAccessTokens, cleared.RequirePAR, cleared.Profile = "https://app.example/keys", true, true, "fapi2"
	cleared.UpdatedAt = at(2*time.Hour + 2*ms)
	for _, c := range []store.Client{changed, cleared} {
		c.CreatedAt = at(5 * time.Hour) // ignored
		must(t, s.UpsertClient(ctx, c))
		got, err := s.GetClient(ctx, "app")
		must(t, err)
		want := c
		want.CreatedAt = first.CreatedAt
		same(t, "client after upsert", got, want)
	}
}

func testSetClientSecret(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := fullClient("app")
	must(t, s.CreateClient(ctx, c))
	must(t, s.SetClientSecret(ctx, "app", "sha256:new", at(5*time.Minute+5*ms)))
	got, err := s.GetClient(ctx, "app")
	must(t, err)
	c.SecretHash, c.UpdatedAt = "sha256:new", at(5*time.Minute+5*ms)
	same(t, "client with new secret", got, c)
}

func testListClients(t *testing.T, s store.Store) {
	ctx := t.Context()
	got, err := s.ListClients(ctx)
	must(t, err)
	sameList(t, "ListClients of an empty store", got, nil)
	var want []store.Client
	for _, id := range []string{"b", "c", "a"} {
		must(t, s.CreateClient(ctx, fullClient(id)))
	}
	for _, id := range []string{"a", "b", "c"} {
		want = append(want, fullClient(id))
	}
	got, err = s.ListClients(ctx)
	must(t, err)
	sameList(t, "ListClients", got, want)
}

func testUserRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	want := fullUser("u-1", "alice")
	must(t, s.CreateUser(ctx, want))
	got, err := s.GetUser(ctx, "u-1")
	must(t, err)
	same(t, "GetUser", got, want)
	got, err = s.GetUserByUsername(ctx, "alice")
	must(t, err)
	same(t, "GetUserByUsername", got, want)

	bare := store.User{ID: "u-2", Username: "bare"}
	must(t, s.CreateUser(ctx, bare))
	got, err = s.GetUser(ctx, "u-2")
	must(t, err)
	same(t, "GetUser(bare)", got, bare)
}

func testUserNotFound(t *testing.T, s store.Store) {
	ctx := t.Context()
	must(t, s.CreateUser(ctx, fullUser("u-1", "alice")))
	_, err := s.GetUser(ctx, "alice") // a username is not an ID
	wantErr(t, "GetUser", err, store.ErrNotFound)
	_, err = s.GetUserByUsername(ctx, "u-1")
	wantErr(t, "GetUserByUsername", err, store.ErrNotFound)
	wantErr(t, "SetUserPassword", s.SetUserPassword(ctx, "nope", "x", at(0)), store.ErrNotFound)
	wantErr(t, "DeleteUser", s.DeleteUser(ctx, "nope"), store.ErrNotFound)
}

func testCreateUserConflict(t *testing.T, s store.Store) {
	ctx := t.Context()
	first := fullUser("u-1", "alice")
	must(t, s.CreateUser(ctx, first))
	wantErr(t, "CreateUser with a taken ID", s.CreateUser(ctx, fullUser("u-1", "mallory")), store.ErrConflict)
	wantErr(t, "CreateUser with a taken username", s.CreateUser(ctx, fullUser("u-2", "alice")), store.ErrConflict)
	_, err := s.GetUserByUsername(ctx, "mallory")
	wantErr(t, "GetUserByUsername(mallory)", err, store.ErrNotFound)
	got, err := s.GetUser(ctx, "u-1")
	must(t, err)
	same(t, "user after conflicts", got, first)
}

func testUpsertUser(t *testing.T, s store.Store) {
	ctx := t.Context()
	first := fullUser("u-1", "alice")
	got, err := s.UpsertUser(ctx, first) // creates
	must(t, err)
	same(t, "UpsertUser (create) result", got, first)

	second := store.User{
		ID: "u-other", Username: "alice", PasswordHash: "$argon2id$new",
		Claims: map[string]any{"name": "Alice B."}, Source: "cli",
		CreatedAt: at(time.Hour), UpdatedAt: at(3*time.Hour + 3*ms),
	}
	got, err = s.UpsertUser(ctx, second)
	must(t, err)
	want := second
	want.ID, want.CreatedAt = first.ID, first.CreatedAt
	same(t, "UpsertUser (replace) result", got, want)
	stored, err := s.GetUser(ctx, "u-1")
	must(t, err)
	same(t, "stored user", stored, want)
	_, err = s.GetUser(ctx, "u-other")
	wantErr(t, "GetUser(ignored ID)", err, store.ErrNotFound)

	// A new username whose ID is taken cannot be created.
	_, err = s.UpsertUser(ctx, fullUser("u-1", "bob"))
	wantErr(t, "UpsertUser with a taken ID", err, store.ErrConflict)
}

func testSetUserPassword(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := fullUser("u-1", "alice")
	must(t, s.CreateUser(ctx, u))
	must(t, s.SetUserPassword(ctx, "u-1", "$argon2id$changed", at(time.Minute+1*ms)))
	got, err := s.GetUser(ctx, "u-1")
	must(t, err)
	u.PasswordHash, u.UpdatedAt = "$argon2id$changed", at(time.Minute+1*ms)
	same(t, "user with new password", got, u)
}

func testListUsers(t *testing.T, s store.Store) {
	ctx := t.Context()
	got, err := s.ListUsers(ctx)
	must(t, err)
	sameList(t, "ListUsers of an empty store", got, nil)
	// IDs sort the other way round from usernames.
	carol, alice, bob := fullUser("u-1", "carol"), fullUser("u-3", "alice"), fullUser("u-2", "bob")
	for _, u := range []store.User{carol, alice, bob} {
		must(t, s.CreateUser(ctx, u))
	}
	got, err = s.ListUsers(ctx)
	must(t, err)
	sameList(t, "ListUsers", got, []store.User{alice, bob, carol})
}
