package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/testkit"
)

// Dynamic client registration (RFC 7591, RFC 7592): the cap on registered
// clients, the registration token compare-and-swap, and initial access
// tokens spent atomically.
func registrationTests() []subtest {
	return []subtest{
		{"RegisterClientCapped_S196", testRegisterClientCapped},
		{"UpdateRegisteredClientNeedsTheToken_RFC7592", testUpdateRegisteredClient},
		{"DeleteRegisteredClientRemovesItsGrants_RFC7592", testDeleteRegisteredClient},
		{"InitialTokenUsesAndExpiry_S196", testInitialTokenUses},
		{"InitialTokenListAndDelete", testInitialTokenListDelete},
		{"InitialTokensExpire", testInitialTokensExpire},
	}
}

// registered is a client as dynamic registration stores it.
func registered(id string) store.Client {
	c := fullClient(id)
	c.Source = "registration"
	c.RegistrationTokenHash = "sha256:rat-" + id
	return c
}

func testRegisterClientCapped(t *testing.T, s store.Store) {
	ctx := t.Context()
	must(t, s.CreateClient(ctx, fullClient("from-cli"))) // another source does not count
	for i := range 2 {
		must(t, s.RegisterClient(ctx, registered(fmt.Sprint("r", i)), 2))
	}
	wantErr(t, "RegisterClient past max", s.RegisterClient(ctx, registered("r2"), 2), store.ErrLimit)
	_, err := s.GetClient(ctx, "r2")
	wantErr(t, "GetClient of the refused client", err, store.ErrNotFound)
	wantErr(t, "RegisterClient of a taken id", s.RegisterClient(ctx, registered("r0"), 10), store.ErrConflict)
	must(t, s.RegisterClient(ctx, registered("r2"), 0)) // 0 means no cap
	got, err := s.GetClient(ctx, "r1")
	must(t, err)
	same(t, "registered client", got, registered("r1"))
}

func testUpdateRegisteredClient(t *testing.T, s store.Store) {
	ctx := t.Context()
	orig := registered("r")
	must(t, s.RegisterClient(ctx, orig, 0))
	next := registered("r")
	next.Name, next.RedirectURIs, next.Scopes = "Renamed", []string{"http://127.0.0.1:9/cb"}, []string{"read"}
	next.LogoURI, next.ClientURI, next.Metadata = "", "https://new.example/", ""
	next.RegistrationTokenHash, next.UpdatedAt = "sha256:rat-rotated", at(time.Hour)
	next.CreatedAt = at(99 * time.Hour) // ignored: CreatedAt stays

	wantErr(t, "update with a wrong token", s.UpdateRegisteredClient(ctx, next, "sha256:wrong"), store.ErrNotFound)
	must(t, s.UpdateRegisteredClient(ctx, next, orig.RegistrationTokenHash))
	got, err := s.GetClient(ctx, "r")
	must(t, err)
	want := next
	want.CreatedAt = orig.CreatedAt
	same(t, "updated client", got, want)
	wantErr(t, "update with the rotated-away token", s.UpdateRegisteredClient(ctx, next, orig.RegistrationTokenHash), store.ErrNotFound)
	wantErr(t, "update of an unknown client", s.UpdateRegisteredClient(ctx, registered("nope"), "sha256:rat-nope"), store.ErrNotFound)

	// A client without a registration token (config, CLI) is never updated.
	cli := fullClient("cli")
	cli.RegistrationTokenHash = ""
	must(t, s.CreateClient(ctx, cli))
	wantErr(t, "update of a client with no token", s.UpdateRegisteredClient(ctx, cli, ""), store.ErrNotFound)
}

func testDeleteRegisteredClient(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := setup(t, s)
	c := registered("r")
	must(t, s.RegisterClient(ctx, c, 0))
	g := newGrant("g-r", c.ID, f.user.ID)
	rt := newRefresh("g-r-rt", g, at(24*time.Hour))
	a := newAccess("g-r-at", g, at(time.Hour))
	must(t, s.SaveIssue(ctx, store.Issue{Grant: &g, Refresh: &rt, Access: &a}))
	issue := store.Issue{Refresh: &rt}
	must(t, s.DeleteClient(ctx, c.ID))
	if _, err := s.GetRefreshToken(ctx, issue.Refresh.Digest); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("refresh token of the deleted client: err %v, want ErrNotFound", err)
	}
	if revoked, err := s.IsRevoked(ctx, "", g.ID); err != nil || !revoked {
		t.Errorf("IsRevoked(grant of deleted client) = %v, %v; want true", revoked, err)
	}
}

func testInitialTokenUses(t *testing.T, s store.Store) {
	ctx := t.Context()
	must(t, s.CreateInitialToken(ctx, store.InitialToken{ID: "t1", Digest: "sha256:one", UsesLeft: 2, CreatedAt: at(0), ExpiresAt: at(time.Hour)}))
	must(t, s.CreateInitialToken(ctx, store.InitialToken{ID: "t2", Digest: "sha256:many", UsesLeft: -1, CreatedAt: at(0), ExpiresAt: at(time.Hour)}))
	wantErr(t, "CreateInitialToken of a taken digest",
		s.CreateInitialToken(ctx, store.InitialToken{ID: "t3", Digest: "sha256:one", UsesLeft: 1, CreatedAt: at(0), ExpiresAt: at(time.Hour)}), store.ErrConflict)
	must(t, s.UseInitialToken(ctx, "sha256:one", at(time.Minute)))
	must(t, s.UseInitialToken(ctx, "sha256:one", at(time.Minute)))
	wantErr(t, "UseInitialToken used up", s.UseInitialToken(ctx, "sha256:one", at(time.Minute)), store.ErrNotFound)
	for range 5 {
		must(t, s.UseInitialToken(ctx, "sha256:many", at(time.Minute)))
	}
	wantErr(t, "UseInitialToken at its expiry", s.UseInitialToken(ctx, "sha256:many", at(time.Hour)), store.ErrNotFound)
	wantErr(t, "UseInitialToken unknown", s.UseInitialToken(ctx, "sha256:nope", at(0)), store.ErrNotFound)
	list, err := s.ListInitialTokens(ctx)
	must(t, err)
	if len(list) != 2 || list[0].UsesLeft != 0 || list[1].UsesLeft != -1 {
		t.Errorf("after use: %+v", list)
	}
}

func testInitialTokenListDelete(t *testing.T, s store.Store) {
	ctx := t.Context()
	want := store.InitialToken{ID: "a", Digest: "sha256:a", UsesLeft: 3, CreatedAt: at(5 * ms), ExpiresAt: at(24 * time.Hour)}
	must(t, s.CreateInitialToken(ctx, store.InitialToken{ID: "b", Digest: "sha256:b", UsesLeft: 1, CreatedAt: at(0), ExpiresAt: at(time.Hour)}))
	must(t, s.CreateInitialToken(ctx, want))
	list, err := s.ListInitialTokens(ctx)
	must(t, err)
	if len(list) != 2 {
		t.Fatalf("ListInitialTokens = %d tokens, want 2", len(list))
	}
	same(t, "first token", list[0], want)
	must(t, s.DeleteInitialToken(ctx, "a"))
	wantErr(t, "DeleteInitialToken twice", s.DeleteInitialToken(ctx, "a"), store.ErrNotFound)
	wantErr(t, "UseInitialToken after delete", s.UseInitialToken(ctx, "sha256:a", at(0)), store.ErrNotFound)
}

func testInitialTokensExpire(t *testing.T, s store.Store) {
	ctx := t.Context()
	must(t, s.CreateInitialToken(ctx, store.InitialToken{ID: "old", Digest: "sha256:old", UsesLeft: 1, CreatedAt: at(0), ExpiresAt: at(time.Minute)}))
	must(t, s.CreateInitialToken(ctx, store.InitialToken{ID: "new", Digest: "sha256:new", UsesLeft: 1, CreatedAt: at(0), ExpiresAt: at(time.Hour)}))
	if _, err := s.DeleteExpired(ctx, at(2*time.Minute), 100); err != nil {
		t.Fatal(err)
	}
	list, err := s.ListInitialTokens(ctx)
	must(t, err)
	if len(list) != 1 || list[0].ID != "new" {
		t.Errorf("after DeleteExpired: %+v, want only new", list)
	}
}

func testConcurrentRegisterCapped(t *testing.T, s store.Store) {
	ctx := t.Context()
	const max = 3
	errs := testkit.AtOnce(workers, func(i int) error {
		return s.RegisterClient(ctx, registered(fmt.Sprint("c", i)), max)
	})
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, store.ErrLimit):
			t.Errorf("RegisterClient: %v, want nil or ErrLimit", err)
		}
	}
	clients, err := s.ListClients(ctx)
	must(t, err)
	if ok != max || len(clients) != max {
		t.Errorf("%d registrations succeeded and %d clients exist, want %d", ok, len(clients), max)
	}
}

func testConcurrentUseInitialToken(t *testing.T, s store.Store) {
	ctx := t.Context()
	must(t, s.CreateInitialToken(ctx, store.InitialToken{ID: "t", Digest: "sha256:t", UsesLeft: 1, CreatedAt: at(0), ExpiresAt: at(time.Hour)}))
	errs := testkit.AtOnce(workers, func(int) error { return s.UseInitialToken(ctx, "sha256:t", at(time.Minute)) })
	winner(t, "UseInitialToken", errs, store.ErrNotFound)
}

func testConcurrentUpdateRegistered(t *testing.T, s store.Store) {
	ctx := t.Context()
	must(t, s.RegisterClient(ctx, registered("r"), 0))
	errs := testkit.AtOnce(workers, func(i int) error {
		c := registered("r")
		c.RegistrationTokenHash = fmt.Sprint("sha256:next-", i)
		return s.UpdateRegisteredClient(ctx, c, "sha256:rat-r")
	})
	won := winner(t, "UpdateRegisteredClient", errs, store.ErrNotFound)
	got, err := s.GetClient(ctx, "r")
	must(t, err)
	if want := fmt.Sprint("sha256:next-", won); got.RegistrationTokenHash != want {
		t.Errorf("token hash %q, want the winner's %q", got.RegistrationTokenHash, want)
	}
}
