package store

import (
	"context"
	"time"
)

// AuditEvent is one stored audit event (see internal/audit for what each
// type means). It never holds a secret or a token value.
type AuditEvent struct {
	// ID is assigned by the store, increasing: the cursor of AuditQuery.
	ID       int64
	Time     time.Time
	Type     string
	Actor    string
	ClientID string
	UserID   string
	IP       string
	Reason   string
	Details  map[string]string
}

// AuditQuery selects audit events. Zero fields do not filter.
type AuditQuery struct {
	UserID   string
	ClientID string
	// Types keeps events of any of these types.
	Types []string
	// Since (inclusive) and Until (exclusive) bound the event time.
	Since, Until time.Time
	// Cursor continues a listing: events with an ID after it (oldest
	// first) or, with Newest, before it.
	Cursor int64
	// Newest lists the most recent events first.
	Newest bool
	// Limit caps the answer; 0 or more than MaxAuditPage means MaxAuditPage.
	Limit int
}

// MaxAuditPage is the most events one ListAuditEvents call returns.
const MaxAuditPage = 1000

// AuditStore keeps the audit trail.
type AuditStore interface {
	// AppendAuditEvents stores events in one transaction, in order; their
	// ID fields are ignored.
	AppendAuditEvents(ctx context.Context, events []AuditEvent) error
	// ListAuditEvents returns the events q selects, ordered by ID
	// (ascending, or descending with q.Newest). The next page starts after
	// the last ID returned.
	ListAuditEvents(ctx context.Context, q AuditQuery) ([]AuditEvent, error)
	// DeleteAuditEventsBefore removes up to limit events older than before
	// (the retention period) and reports how many.
	DeleteAuditEventsBefore(ctx context.Context, before time.Time, limit int) (int, error)
}

// PageSize returns q's page size within 1..MaxAuditPage.
func (q AuditQuery) PageSize() int {
	if q.Limit <= 0 || q.Limit > MaxAuditPage {
		return MaxAuditPage
	}
	return q.Limit
}
