package storetest

import (
	"context"
	"slices"
	"testing"

	"github.com/latchkey/latchkey/internal/store"
)

// originTests: the lookups behind metadata and CORS that replaced reading
// every client (issue 14): by the source index and by an index on the
// redirect URIs, kept true through every way a client is written.
func originTests() []subtest {
	return []subtest{
		{"RedirectURIsOfOrigin", testRedirectURIsOfOrigin},
		{"ListOperatorClients", testListOperatorClients},
	}
}

func testRedirectURIsOfOrigin(t *testing.T, s store.Store) {
	ctx := context.Background()
	lookup := func(origin string) []string {
		t.Helper()
		got, err := s.RedirectURIsOfOrigin(ctx, origin)
		must(t, err)
		slices.Sort(got)
		return got
	}
	c := fullClient("spa")
	c.RedirectURIs = []string{"https://spa.example/cb", "https://spa.example:8443/cb?x=1", "http://127.0.0.1:5173"}
	must(t, s.CreateClient(ctx, c))
	sameList(t, "https://spa.example", lookup("https://spa.example"), []string{"https://spa.example/cb"})
	sameList(t, "with port", lookup("https://spa.example:8443"), []string{"https://spa.example:8443/cb?x=1"})
	sameList(t, "bare origin", lookup("http://127.0.0.1:5173"), []string{"http://127.0.0.1:5173"})
	for _, o := range []string{"https://spa.exampl", "https://spa.example.evil", "https://evil.example", "", "https://spa.example/cb/x"} {
		if got := lookup(o); len(got) != 0 {
			t.Fatalf("%q matched %v", o, got)
		}
	}
	// Upsert replaces the URIs, a registered client's update does too,
	// and deleting the client removes them.
	c.RedirectURIs = []string{"https://new.example/cb"}
	must(t, s.UpsertClient(ctx, c))
	if got := lookup("https://spa.example"); len(got) != 0 {
		t.Fatalf("after upsert the old origin still matches %v", got)
	}
	sameList(t, "after upsert", lookup("https://new.example"), []string{"https://new.example/cb"})
	r := fullClient("reg")
	r.Source = "registration"
	r.RedirectURIs = []string{"https://reg.example/cb"}
	must(t, s.RegisterClient(ctx, r, 0))
	sameList(t, "registered", lookup("https://reg.example"), []string{"https://reg.example/cb"})
	r.RedirectURIs = []string{"https://reg2.example/cb"}
	must(t, s.UpdateRegisteredClient(ctx, r, r.RegistrationTokenHash))
	if got := lookup("https://reg.example"); len(got) != 0 {
		t.Fatalf("after update the old origin still matches %v", got)
	}
	sameList(t, "after update", lookup("https://reg2.example"), []string{"https://reg2.example/cb"})
	must(t, s.DeleteClient(ctx, "spa"))
	if got := lookup("https://new.example"); len(got) != 0 {
		t.Fatalf("after delete the origin still matches %v", got)
	}
}

func testListOperatorClients(t *testing.T, s store.Store) {
	ctx := context.Background()
	for _, src := range []string{"config", "cli", "admin", "dev", "registration", "cimd"} {
		c := fullClient("c-" + src)
		c.Source = src
		must(t, s.CreateClient(ctx, c))
	}
	got, err := s.ListOperatorClients(ctx)
	must(t, err)
	var ids []string
	for _, c := range got {
		ids = append(ids, c.ID)
	}
	sameList(t, "operator clients", ids, []string{"c-admin", "c-cli", "c-config", "c-dev"})
}
