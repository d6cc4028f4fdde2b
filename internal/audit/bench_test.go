package audit_test

import (
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// BenchmarkAppendBatchSQLite is what the writer goroutine spends storing
// one batch of 256 events in SQLite (one transaction); divide by 256 for
// the cost per token issued, paid beside the token endpoint, not in it.
//
//	go test ./internal/audit -run '^$' -bench AppendBatch -benchmem
func BenchmarkAppendBatchSQLite(b *testing.B) {
	st := openStoreB(b)
	batch := make([]store.AuditEvent, 256)
	for i := range batch {
		batch[i] = store.AuditEvent{Time: time.Now(), Type: "token.issued", Actor: "client:svc", ClientID: "svc", IP: "192.0.2.1",
			Details: map[string]string{"grant_type": "client_credentials", "jti": "5f0c2b9d8e7a4c1b9f3e2d1c0b9a8f7e", "scope": "read"}}
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := st.AppendAuditEvents(b.Context(), batch); err != nil {
			b.Fatal(err)
		}
	}
}
