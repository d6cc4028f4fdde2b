package sqlite_test

import (
	"testing"

	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/storetest"
)

func BenchmarkStore(b *testing.B) {
	storetest.Bench(b, func(b *testing.B) store.Store { return open(b) })
}

func BenchmarkAdminPages(b *testing.B) {
	storetest.BenchAdminPages(b, func(b *testing.B) store.Store { return open(b) })
}
