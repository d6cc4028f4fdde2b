package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey/internal/store"
)

// AppendAuditEvents stores events as one batch, which the pool sends in
// one round trip and runs as one implicit transaction.
func (s *Store) AppendAuditEvents(ctx context.Context, events []store.AuditEvent) error {
	if len(events) == 0 {
		return nil
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	const q = `INSERT INTO audit_events (at, type, actor, client_id, user_id, ip, reason, details)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`
	b := &pgx.Batch{}
	for _, e := range events {
		details := e.Details
		if details == nil {
			details = map[string]string{}
		}
		b.Queue(q, e.Time, e.Type, e.Actor, e.ClientID, e.UserID, e.IP, e.Reason, details)
	}
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return s.fail("append audit events", err)
	}
	return nil
}

// ListAuditEvents returns the events q selects, by ID.
func (s *Store) ListAuditEvents(ctx context.Context, q store.AuditQuery) ([]store.AuditEvent, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	where, args := auditWhere(q)
	order := "ASC"
	if q.Newest {
		order = "DESC"
	}
	args = append(args, q.PageSize())
	query := `SELECT id, at, type, actor, client_id, user_id, ip, reason, details FROM audit_events` +
		where + ` ORDER BY id ` + order + fmt.Sprintf(` LIMIT $%d`, len(args))
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, s.fail("list audit events", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.AuditEvent, error) {
		var e store.AuditEvent
		err := row.Scan(&e.ID, &e.Time, &e.Type, &e.Actor, &e.ClientID, &e.UserID, &e.IP, &e.Reason, &e.Details)
		e.Time = e.Time.UTC()
		if len(e.Details) == 0 {
			e.Details = nil
		}
		return e, err
	})
	if err != nil {
		return nil, s.fail("list audit events", err)
	}
	return out, nil
}

// auditWhere turns q's filters into a WHERE clause and its arguments.
func auditWhere(q store.AuditQuery) (string, []any) {
	var conds []string
	var args []any
	add := func(cond string, arg any) {
		args = append(args, arg)
		conds = append(conds, fmt.Sprintf(cond, len(args)))
	}
	if q.UserID != "" {
		add("user_id = $%d", q.UserID)
	}
	if q.ClientID != "" {
		add("client_id = $%d", q.ClientID)
	}
	if len(q.Types) > 0 {
		add("type = ANY ($%d)", q.Types)
	}
	if !q.Since.IsZero() {
		add("at >= $%d", q.Since)
	}
	if !q.Until.IsZero() {
		add("at < $%d", q.Until)
	}
	if q.Cursor > 0 && q.Newest {
		add("id < $%d", q.Cursor)
	} else if q.Cursor > 0 {
		add("id > $%d", q.Cursor)
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// DeleteAuditEventsBefore removes up to limit events older than before, by
// the indexed time column; rows another instance's gc is deleting are
// skipped rather than waited for.
func (s *Store) DeleteAuditEventsBefore(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit < 1 {
		return 0, nil
	}
	const q = `DELETE FROM audit_events WHERE id IN
		(SELECT id FROM audit_events WHERE at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`
	n, err := s.deleteBatch(ctx, q, before, limit)
	if err != nil {
		return 0, s.fail("delete audit events", err)
	}
	return n, nil
}
