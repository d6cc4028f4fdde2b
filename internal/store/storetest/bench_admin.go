package storetest

import (
	"fmt"
	"testing"

	"github.com/latchkey/latchkey/internal/store"
)

// BenchAdminPages measures a page of 50 clients from the start, the
// middle and the end of 10,000, and a filtered page: a keyset page costs
// its own rows wherever the cursor is, so the three must be alike.
func BenchAdminPages(b *testing.B, newStore func(b *testing.B) store.Store) {
	s := newStore(b)
	a, ok := s.(store.AdminStore)
	if !ok {
		b.Fatalf("%T does not implement store.AdminStore", s)
	}
	for i := range 10000 {
		c := store.Client{ID: fmt.Sprintf("c%05d", i), Source: "cli", GrantTypes: []string{"client_credentials"}}
		if i%100 == 0 {
			c.Source = "admin"
		}
		if err := s.CreateClient(b.Context(), c); err != nil {
			b.Fatal(err)
		}
	}
	for _, bm := range []struct {
		name string
		q    store.ClientQuery
	}{
		{"First", store.ClientQuery{Limit: 50}},
		{"Middle", store.ClientQuery{Limit: 50, After: "c05000"}},
		{"Last", store.ClientQuery{Limit: 50, After: "c09949"}},
		{"Prefix", store.ClientQuery{Limit: 50, IDPrefix: "c071"}},
	} {
		b.Run(bm.name, func(b *testing.B) {
			for b.Loop() {
				page, err := a.ListClientsPage(b.Context(), bm.q)
				if err != nil || len(page) != 50 {
					b.Fatalf("%d clients, %v", len(page), err)
				}
			}
		})
	}
}
