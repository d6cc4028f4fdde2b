package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// auditChunks are the row counts of the multi-row INSERT statements a
// batch is cut into: constant statements, prepared once, so a batch of
// 256 is four statements however its size falls.
var auditChunks = [...]int{64, 16, 4, 1}

// auditInsert returns the INSERT of n rows.
func auditInsert(n int) string {
	const row = "(?, ?, ?, ?, ?, ?, ?, ?)"
	return `INSERT INTO audit_events (at, type, actor, client_id, user_id, ip, reason, details) VALUES ` +
		strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
}

// AppendAuditEvents stores events in one writer transaction of multi-row
// INSERTs, so a batch costs one commit (one fsync) and a few statements
// however many events it holds (BenchmarkAppendBatchSQLite).
func (s *Store) AppendAuditEvents(ctx context.Context, events []store.AuditEvent) error {
	if len(events) == 0 {
		return nil
	}
	err := s.inTx(ctx, func(tx txn) error {
		rest := events
		for _, n := range auditChunks {
			for len(rest) >= n {
				args, err := auditArgs(rest[:n])
				if err != nil {
					return err
				}
				if _, err := tx.ExecContext(ctx, auditInsert(n), args...); err != nil {
					return err
				}
				rest = rest[n:]
			}
		}
		return nil
	})
	if err != nil {
		return s.fail("append audit events", err)
	}
	return nil
}

// auditArgs are the arguments of an auditInsert of events.
func auditArgs(events []store.AuditEvent) ([]any, error) {
	args := make([]any, 0, 8*len(events))
	for _, e := range events {
		args = append(args, e.Time.UnixMilli(), e.Type, e.Actor, e.ClientID, e.UserID, e.IP, e.Reason, encodeDetails(e.Details))
	}
	return args, nil
}

// ListAuditEvents returns the events q selects, by ID.
func (s *Store) ListAuditEvents(ctx context.Context, q store.AuditQuery) ([]store.AuditEvent, error) {
	where, args, err := auditWhere(q)
	if err != nil {
		return nil, s.fail("list audit events", err)
	}
	order := "ASC"
	if q.Newest {
		order = "DESC"
	}
	query := `SELECT id, at, type, actor, client_id, user_id, ip, reason, details FROM audit_events` +
		where + ` ORDER BY id ` + order + ` LIMIT ?`
	rows, err := s.r.QueryContext(ctx, query, append(args, q.PageSize())...)
	if err != nil {
		return nil, s.fail("list audit events", err)
	}
	defer rows.Close()
	var out []store.AuditEvent
	for rows.Next() {
		var e store.AuditEvent
		var details string
		if err := rows.Scan(&e.ID, timeCol{&e.Time}, &e.Type, &e.Actor, &e.ClientID, &e.UserID,
			&e.IP, &e.Reason, &details); err != nil {
			return nil, s.fail("list audit events", err)
		}
		if e.Details, err = decodeDetails(details); err != nil {
			return nil, s.fail("list audit events", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("list audit events", err)
	}
	return out, nil
}

// auditWhere turns q's filters into a WHERE clause and its arguments.
func auditWhere(q store.AuditQuery) (string, []any, error) {
	var conds []string
	var args []any
	add := func(cond string, arg any) {
		conds = append(conds, cond)
		args = append(args, arg)
	}
	if q.UserID != "" {
		add("user_id = ?", q.UserID)
	}
	if q.ClientID != "" {
		add("client_id = ?", q.ClientID)
	}
	if len(q.Types) > 0 {
		list, err := json.Marshal(q.Types)
		if err != nil {
			return "", nil, fmt.Errorf("encode types: %w", err)
		}
		add("type IN (SELECT value FROM json_each(?))", string(list))
	}
	if !q.Since.IsZero() {
		add("at >= ?", q.Since.UnixMilli())
	}
	if !q.Until.IsZero() {
		add("at < ?", q.Until.UnixMilli())
	}
	if q.Cursor > 0 && q.Newest {
		add("id < ?", q.Cursor)
	} else if q.Cursor > 0 {
		add("id > ?", q.Cursor)
	}
	if len(conds) == 0 {
		return "", nil, nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args, nil
}

// DeleteAuditEventsBefore removes up to limit events older than before, by
// the indexed time column, in one short statement.
func (s *Store) DeleteAuditEventsBefore(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit < 1 {
		return 0, nil
	}
	const q = `DELETE FROM audit_events WHERE id IN
		(SELECT id FROM audit_events WHERE at < ?1 LIMIT ?2)`
	res, err := s.w.ExecContext(ctx, q, before.UnixMilli(), limit)
	if err != nil {
		return 0, s.fail("delete audit events", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, s.fail("delete audit events", err)
	}
	return int(n), nil
}

// decodeDetails reads a details column; an empty object is nil.
func decodeDetails(s string) (map[string]string, error) {
	var d map[string]string
	if err := json.Unmarshal([]byte(s), &d); err != nil {
		return nil, fmt.Errorf("decode audit details: %w", err)
	}
	if len(d) == 0 {
		return nil, nil
	}
	return d, nil
}
