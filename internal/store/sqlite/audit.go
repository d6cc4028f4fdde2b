package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// The audit trail is stored a batch to a row (migration 0019): the events
// of one AppendAuditEvents as a JSON array in audit_batches, and the
// distinct users, clients and types of the batch in audit_keys, so that a
// filtered listing reads only the batches that hold a match. A row per
// event, with its four index entries, cost the writer three times as much
// CPU (BenchmarkWriterFlush), which a loaded /token felt. Events an older
// binary wrote stay in audit_events and are listed with the rest.
const (
	// auditIDShift makes room in an event ID for the event's index in its
	// batch: ID = batch id << auditIDShift | index.
	auditIDShift = 10
	// auditBatchMax is the most events one audit_batches row holds.
	auditBatchMax = 1 << auditIDShift
)

// The kinds of audit_keys rows.
const (
	auditKeyUser   = 1
	auditKeyClient = 2
	auditKeyType   = 3
)

// auditKeyChunks are the row counts of the multi-row INSERTs of a batch's
// keys: constant statements, prepared once.
var auditKeyChunks = [...]int{16, 4, 1}

// auditKeysInsert returns the INSERT of n audit_keys rows of one batch.
func auditKeysInsert(n int) string {
	return `INSERT OR IGNORE INTO audit_keys (kind, key, batch) VALUES ` +
		strings.TrimSuffix(strings.Repeat("(?, ?, ?), ", n), ", ")
}

// AppendAuditEvents stores events in one writer transaction: a row per
// auditBatchMax events and a row per distinct key, so a batch costs one
// commit and a few statements however many events it holds.
func (s *Store) AppendAuditEvents(ctx context.Context, events []store.AuditEvent) error {
	if len(events) == 0 {
		return nil
	}
	err := s.inTx(ctx, func(tx txn) error {
		for rest := events; len(rest) > 0; {
			n := min(len(rest), auditBatchMax)
			if err := appendAuditBatch(ctx, tx, rest[:n]); err != nil {
				return err
			}
			rest = rest[n:]
		}
		return nil
	})
	if err != nil {
		return s.fail("append audit events", err)
	}
	return nil
}

// appendAuditBatch stores events, at most auditBatchMax, as one batch.
func appendAuditBatch(ctx context.Context, tx txn, events []store.AuditEvent) error {
	first, last := events[0].Time.UnixMilli(), events[0].Time.UnixMilli()
	for _, e := range events[1:] {
		ms := e.Time.UnixMilli()
		first, last = min(first, ms), max(last, ms)
	}
	var id int64
	if err := tx.QueryRowContext(ctx, `INSERT INTO audit_batches (first_at, last_at, n, events) VALUES (?, ?, ?, ?) RETURNING id`,
		first, last, len(events), encodeAuditBatch(events)).Scan(&id); err != nil {
		return err
	}
	args := auditKeyArgs(events, id)
	for _, n := range auditKeyChunks {
		for len(args) >= 3*n {
			if _, err := tx.ExecContext(ctx, auditKeysInsert(n), args[:3*n]...); err != nil {
				return err
			}
			args = args[3*n:]
		}
	}
	return nil
}

// auditKeyArgs are the (kind, key, batch) arguments of the distinct keys
// of events. A batch under load holds a few clients and types, so the
// linear search is shorter than a map.
func auditKeyArgs(events []store.AuditEvent, batch int64) []any {
	type key struct {
		kind int
		key  string
	}
	var keys []key
	add := func(kind int, k string) {
		if k != "" && !slices.Contains(keys, key{kind, k}) {
			keys = append(keys, key{kind, k})
		}
	}
	for _, e := range events {
		add(auditKeyUser, e.UserID)
		add(auditKeyClient, e.ClientID)
		add(auditKeyType, e.Type)
	}
	args := make([]any, 0, 3*len(keys))
	for _, k := range keys {
		args = append(args, k.kind, k.key, batch)
	}
	return args
}

// auditRecord is an event as a batch's JSON array holds it.
type auditRecord struct {
	At       int64             `json:"at"`
	Type     string            `json:"type"`
	Actor    string            `json:"actor,omitempty"`
	ClientID string            `json:"client,omitempty"`
	UserID   string            `json:"user,omitempty"`
	IP       string            `json:"ip,omitempty"`
	Reason   string            `json:"reason,omitempty"`
	Details  map[string]string `json:"details,omitempty"`
}

// encodeAuditBatch is events as a JSON array of auditRecord, written by
// hand (one buffer, no reflection); it decodes as encoding/json would
// (FuzzEncodeAuditBatch).
func encodeAuditBatch(events []store.AuditEvent) string {
	size := 2
	for _, e := range events {
		size += 64 + len(e.Type) + len(e.Actor) + len(e.ClientID) + len(e.UserID) + len(e.IP) + len(e.Reason)
		for k, v := range e.Details {
			size += len(k) + len(v) + 6
		}
	}
	b := make([]byte, 0, size)
	b = append(b, '[')
	for i, e := range events {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"at":`...)
		b = strconv.AppendInt(b, e.Time.UnixMilli(), 10)
		b = append(b, `,"type":`...)
		b = appendJSONString(b, e.Type)
		for _, f := range [...]struct{ name, value string }{
			{`,"actor":`, e.Actor}, {`,"client":`, e.ClientID}, {`,"user":`, e.UserID}, {`,"ip":`, e.IP}, {`,"reason":`, e.Reason},
		} {
			if f.value != "" {
				b = append(b, f.name...)
				b = appendJSONString(b, f.value)
			}
		}
		if len(e.Details) > 0 {
			b = append(b, `,"details":`...)
			b = appendDetails(b, e.Details)
		}
		b = append(b, '}')
	}
	return string(append(b, ']'))
}

// ListAuditEvents returns the events q selects, by ID: those an older
// binary wrote (audit_events, every ID below 2^30) and the batches'.
func (s *Store) ListAuditEvents(ctx context.Context, q store.AuditQuery) ([]store.AuditEvent, error) {
	limit := q.PageSize()
	var out []store.AuditEvent
	var err error
	if q.Newest {
		if out, err = s.listAuditBatches(ctx, q, limit); err == nil && len(out) < limit {
			var legacy []store.AuditEvent
			legacy, err = s.listLegacyAudit(ctx, q, limit-len(out))
			out = append(out, legacy...)
		}
	} else {
		if out, err = s.listLegacyAudit(ctx, q, limit); err == nil && len(out) < limit {
			var batches []store.AuditEvent
			batches, err = s.listAuditBatches(ctx, q, limit-len(out))
			out = append(out, batches...)
		}
	}
	if err != nil {
		return nil, s.fail("list audit events", err)
	}
	return out, nil
}

// listAuditBatches returns up to limit events of the batches that q
// selects. The SQL picks candidate batches by their keys, time bounds and
// the cursor's batch; each event is then matched in full.
func (s *Store) listAuditBatches(ctx context.Context, q store.AuditQuery, limit int) ([]store.AuditEvent, error) {
	query, args, err := auditBatchQuery(q)
	if err != nil {
		return nil, err
	}
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.AuditEvent
	for len(out) < limit && rows.Next() {
		var batch int64
		var events string
		if err := rows.Scan(&batch, &events); err != nil {
			return nil, err
		}
		// Retention leaves a null where it removed an event (trimAuditBatch).
		var records []*auditRecord
		if err := json.Unmarshal([]byte(events), &records); err != nil {
			return nil, fmt.Errorf("decode audit batch %d: %w", batch, err)
		}
		for j := range records {
			i := j
			if q.Newest {
				i = len(records) - 1 - j
			}
			if records[i] == nil {
				continue
			}
			e := records[i].event(batch<<auditIDShift | int64(i))
			if auditMatches(q, e) {
				if out = append(out, e); len(out) == limit {
					break
				}
			}
		}
	}
	return out, rows.Err()
}

// auditBatchQuery is the SELECT of the batches that may hold events q
// selects, in q's order.
func auditBatchQuery(q store.AuditQuery) (string, []any, error) {
	var conds []string
	var args []any
	key := func(kind int, k string) {
		conds = append(conds, "id IN (SELECT batch FROM audit_keys WHERE kind = ? AND key = ?)")
		args = append(args, kind, k)
	}
	if q.UserID != "" {
		key(auditKeyUser, q.UserID)
	}
	if q.ClientID != "" {
		key(auditKeyClient, q.ClientID)
	}
	if len(q.Types) > 0 {
		list, err := json.Marshal(q.Types)
		if err != nil {
			return "", nil, fmt.Errorf("encode types: %w", err)
		}
		conds = append(conds, "id IN (SELECT batch FROM audit_keys WHERE kind = ? AND key IN (SELECT value FROM json_each(?)))")
		args = append(args, auditKeyType, string(list))
	}
	if !q.Since.IsZero() {
		conds = append(conds, "last_at >= ?")
		args = append(args, q.Since.UnixMilli())
	}
	if !q.Until.IsZero() {
		conds = append(conds, "first_at < ?")
		args = append(args, q.Until.UnixMilli())
	}
	order := "ASC"
	if q.Newest {
		order = "DESC"
		if q.Cursor > 0 {
			conds = append(conds, "id <= ?")
			args = append(args, q.Cursor>>auditIDShift)
		}
	} else if q.Cursor > 0 {
		conds = append(conds, "id >= ?")
		args = append(args, q.Cursor>>auditIDShift)
	}
	query := `SELECT id, events FROM audit_batches`
	if len(conds) > 0 {
		query += " WHERE " + strings.Join(conds, " AND ")
	}
	return query + " ORDER BY id " + order, args, nil
}

// event is r as the store returns it, with id.
func (r auditRecord) event(id int64) store.AuditEvent {
	return store.AuditEvent{ID: id, Time: time.UnixMilli(r.At).UTC(), Type: r.Type, Actor: r.Actor, ClientID: r.ClientID,
		UserID: r.UserID, IP: r.IP, Reason: r.Reason, Details: r.Details}
}

// auditMatches reports whether e passes every filter of q, its cursor too.
func auditMatches(q store.AuditQuery, e store.AuditEvent) bool {
	switch {
	case q.UserID != "" && e.UserID != q.UserID,
		q.ClientID != "" && e.ClientID != q.ClientID,
		len(q.Types) > 0 && !slices.Contains(q.Types, e.Type),
		!q.Since.IsZero() && e.Time.UnixMilli() < q.Since.UnixMilli(),
		!q.Until.IsZero() && e.Time.UnixMilli() >= q.Until.UnixMilli(),
		q.Cursor > 0 && q.Newest && e.ID >= q.Cursor,
		q.Cursor > 0 && !q.Newest && e.ID <= q.Cursor:
		return false
	}
	return true
}

// listLegacyAudit returns up to limit of the events q selects among those
// an older binary wrote a row each.
func (s *Store) listLegacyAudit(ctx context.Context, q store.AuditQuery, limit int) ([]store.AuditEvent, error) {
	where, args, err := auditWhere(q)
	if err != nil {
		return nil, err
	}
	order := "ASC"
	if q.Newest {
		order = "DESC"
	}
	query := `SELECT id, at, type, actor, client_id, user_id, ip, reason, details FROM audit_events` +
		where + ` ORDER BY id ` + order + ` LIMIT ?`
	rows, err := s.r.QueryContext(ctx, query, append(args, limit)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.AuditEvent
	for rows.Next() {
		var e store.AuditEvent
		var details string
		if err := rows.Scan(&e.ID, timeCol{&e.Time}, &e.Type, &e.Actor, &e.ClientID, &e.UserID,
			&e.IP, &e.Reason, &details); err != nil {
			return nil, err
		}
		if e.Details, err = decodeDetails(details); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// auditWhere turns q's filters into a WHERE clause of audit_events and its
// arguments.
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

// auditOldestBatch is the batch with the oldest event before ?1.
const auditOldestBatch = `SELECT id, last_at, n, events FROM audit_batches WHERE first_at < ?1 ORDER BY first_at LIMIT 1`

// DeleteAuditEventsBefore removes up to limit events older than before:
// first those an older binary wrote, by their time index, then whole
// batches older than before, by first_at; a batch that straddles before
// is rewritten without its old events. One writer transaction, bounded by
// limit.
func (s *Store) DeleteAuditEventsBefore(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit < 1 {
		return 0, nil
	}
	cut := before.UnixMilli()
	removed := 0
	err := s.inTx(ctx, func(tx txn) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM audit_events WHERE id IN
			(SELECT id FROM audit_events WHERE at < ?1 LIMIT ?2)`, cut, limit)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		removed = int(n)
		for removed < limit {
			var id, last, count int64
			var events string
			err := tx.QueryRowContext(ctx, auditOldestBatch, cut).
				Scan(&id, &last, &count, &events)
			if err == sql.ErrNoRows {
				return nil
			}
			if err != nil {
				return err
			}
			if last < cut && int(count) <= limit-removed {
				if _, err := tx.ExecContext(ctx, `DELETE FROM audit_batches WHERE id = ?`, id); err != nil {
					return err
				}
				removed += int(count)
				continue
			}
			n, err := trimAuditBatch(ctx, tx, id, events, cut, limit-removed)
			if err != nil {
				return err
			}
			removed += n
		}
		return nil
	})
	if err != nil {
		return 0, s.fail("delete audit events", err)
	}
	return removed, nil
}

// trimAuditBatch removes up to limit events older than cut from the batch
// id holding events and reports how many it removed. A removed event
// leaves a null in the array, so the others keep their index and their
// IDs; the batch goes when none is left. Its keys stay: they only narrow
// the batches a listing reads.
func trimAuditBatch(ctx context.Context, tx txn, id int64, events string, cut int64, limit int) (int, error) {
	var records []*auditRecord
	if err := json.Unmarshal([]byte(events), &records); err != nil {
		return 0, fmt.Errorf("decode audit batch %d: %w", id, err)
	}
	removed, kept := 0, 0
	first := int64(0)
	for i, r := range records {
		switch {
		case r == nil:
		case r.At < cut && removed < limit:
			records[i] = nil
			removed++
		default:
			if kept == 0 || r.At < first {
				first = r.At
			}
			kept++
		}
	}
	if kept == 0 {
		_, err := tx.ExecContext(ctx, `DELETE FROM audit_batches WHERE id = ?`, id)
		return removed, err
	}
	b, err := json.Marshal(records)
	if err != nil {
		return 0, fmt.Errorf("encode audit batch %d: %w", id, err)
	}
	_, err = tx.ExecContext(ctx, `UPDATE audit_batches SET events = ?, first_at = ?, n = ? WHERE id = ?`, string(b), first, kept, id)
	return removed, err
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
