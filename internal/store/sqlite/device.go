package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// deviceColumns are the columns of a device code, in the order scanDevice
// reads them.
const deviceColumns = `digest, user_code_digest, client_id, scopes, resources, interval_ms, last_poll_at,
	slow_down, created_at, expires_at, user_id, auth_time, approved_at, denied_at, consumed_at, grant_id, amr, acr`

// scanDevice reads the deviceColumns of one row.
func scanDevice(row scanner) (store.DeviceCode, error) {
	var d store.DeviceCode
	var intervalMS int64
	err := row.Scan(&d.Digest, &d.UserCodeDigest, &d.ClientID, listCol{&d.Scopes}, listCol{&d.Resources},
		&intervalMS, timeCol{&d.LastPollAt}, &d.SlowDown, timeCol{&d.CreatedAt}, timeCol{&d.ExpiresAt},
		textCol{&d.UserID}, timeCol{&d.AuthTime}, timeCol{&d.ApprovedAt}, timeCol{&d.DeniedAt},
		timeCol{&d.ConsumedAt}, textCol{&d.GrantID}, wordsCol{&d.AMR}, &d.ACR)
	d.Interval = time.Duration(intervalMS) * time.Millisecond
	return d, err
}

// CreateDeviceCode stores d; a digest or user code digest that exists
// already gives store.ErrConflict.
func (s *Store) CreateDeviceCode(ctx context.Context, d store.DeviceCode) error {
	const q = `INSERT INTO device_codes (` + deviceColumns + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	_, err := s.w.ExecContext(ctx, q, d.Digest, d.UserCodeDigest, d.ClientID, listOf(d.Scopes), listOf(d.Resources),
		d.Interval.Milliseconds(), msOf(d.LastPollAt), d.SlowDown, msOf(d.CreatedAt), msOf(d.ExpiresAt),
		nullOf(d.UserID), msOf(d.AuthTime), msOf(d.ApprovedAt), msOf(d.DeniedAt), msOf(d.ConsumedAt), nullOf(d.GrantID),
		wordsOf(d.AMR), d.ACR)
	if err != nil {
		return s.fail("create device code", err)
	}
	return nil
}

// GetDeviceCodeByUserCode returns the code with userCodeDigest unless it
// expired at now, or store.ErrNotFound.
func (s *Store) GetDeviceCodeByUserCode(ctx context.Context, userCodeDigest string, now time.Time) (store.DeviceCode, error) {
	const q = `SELECT ` + deviceColumns + ` FROM device_codes WHERE user_code_digest = ? AND expires_at > ?`
	d, err := scanDevice(s.r.QueryRowContext(ctx, q, userCodeDigest, now.UnixMilli()))
	if err != nil {
		return store.DeviceCode{}, s.fail("get device code", err)
	}
	return d, nil
}

// DecideDeviceCode records the decision in one IMMEDIATE transaction: the
// conditional UPDATE matches only an undecided, unexpired code; when it
// matches nothing, the code's state tells ErrConflict (decided) from
// ErrNotFound (unknown or expired).
func (s *Store) DecideDeviceCode(ctx context.Context, userCodeDigest string, d store.DeviceDecision) error {
	approved, denied := d.At, time.Time{}
	if !d.Approved {
		approved, denied = time.Time{}, d.At
	}
	err := s.inTx(ctx, func(tx txn) error {
		const q = `UPDATE device_codes SET user_id = ?, auth_time = ?, approved_at = ?, denied_at = ?, amr = ?, acr = ?
			WHERE user_code_digest = ? AND approved_at IS NULL AND denied_at IS NULL AND expires_at > ?`
		res, err := tx.ExecContext(ctx, q, nullOf(d.UserID), msOf(d.AuthTime), msOf(approved), msOf(denied),
			wordsOf(d.AMR), d.ACR, userCodeDigest, d.At.UnixMilli())
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
		var decided bool
		const state = `SELECT approved_at IS NOT NULL OR denied_at IS NOT NULL FROM device_codes WHERE user_code_digest = ?`
		if err := tx.QueryRowContext(ctx, state, userCodeDigest).Scan(&decided); err != nil {
			return err // sql.ErrNoRows: unknown code
		}
		if decided {
			return fmt.Errorf("device code decided already: %w", store.ErrConflict)
		}
		return fmt.Errorf("device code expired: %w", store.ErrNotFound)
	})
	if err != nil {
		return s.fail("decide device code", err)
	}
	return nil
}

// PollDeviceCode records the poll and returns the code in one UPDATE …
// RETURNING on the writer, whose SET expressions all read the row as it
// was before the poll: the poll is too soon when it comes before the last
// one plus the interval, less the tolerance.
func (s *Store) PollDeviceCode(ctx context.Context, digest, clientID string, now time.Time) (store.DeviceCode, error) {
	const q = `UPDATE device_codes SET
		slow_down = (last_poll_at IS NOT NULL AND ?1 < last_poll_at + interval_ms - ?5),
		interval_ms = CASE WHEN last_poll_at IS NOT NULL AND ?1 < last_poll_at + interval_ms - ?5
			THEN interval_ms + ?4 ELSE interval_ms END,
		last_poll_at = ?1
		WHERE digest = ?2 AND client_id = ?3
		RETURNING ` + deviceColumns
	d, err := scanDevice(s.w.QueryRowContext(ctx, q, now.UnixMilli(), digest, clientID,
		store.SlowDownStep.Milliseconds(), store.PollTolerance.Milliseconds()))
	if err != nil {
		return store.DeviceCode{}, s.fail("poll device code", err)
	}
	return d, nil
}

// RedeemDeviceCode marks the code consumed and stores iss in one IMMEDIATE
// transaction; the conditional UPDATE is the single-use gate, as in
// RedeemAuthCode.
func (s *Store) RedeemDeviceCode(ctx context.Context, digest, clientID string, now time.Time, iss store.Issue) error {
	var grantID string
	if iss.Grant != nil {
		grantID = iss.Grant.ID
	}
	err := s.inTx(ctx, func(tx txn) error {
		const q = `UPDATE device_codes SET consumed_at = ?, grant_id = ?
			WHERE digest = ? AND client_id = ? AND approved_at IS NOT NULL AND consumed_at IS NULL AND expires_at > ?`
		res, err := tx.ExecContext(ctx, q, now.UnixMilli(), nullOf(grantID), digest, clientID, now.UnixMilli())
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 1 {
			return saveIssue(ctx, tx, iss)
		}
		var consumed sql.NullInt64
		const state = "SELECT consumed_at FROM device_codes WHERE digest = ? AND client_id = ?"
		if err := tx.QueryRowContext(ctx, state, digest, clientID).Scan(&consumed); err != nil {
			return err // sql.ErrNoRows: unknown, or another client's
		}
		if consumed.Valid {
			return fmt.Errorf("device code redeemed already: %w", store.ErrConflict)
		}
		return fmt.Errorf("device code not approved or expired: %w", store.ErrNotFound)
	})
	if err != nil {
		return s.fail("redeem device code", err)
	}
	return nil
}
