package server

import (
	"context"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// BenchmarkReadCacheHit is a client lookup answered from the cache, as
// client authentication does it on every token request.
func BenchmarkReadCacheHit(b *testing.B) {
	c := newReadCache[string, store.Client](time.Hour, clientCacheSize)
	now := time.Now()
	load := func(context.Context) (store.Client, error) {
		return store.Client{ID: "demo-service", Scopes: []string{"read"}}, nil
	}
	ctx := context.Background()
	if _, err := c.get(ctx, "demo-service", now, false, load); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.get(ctx, "demo-service", now, false, load); err != nil {
				b.Fatal(err)
			}
		}
	})
}
