package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey/internal/store"
)

// deviceColumns are the columns of a device code, in the order scanDevice
// reads them.
const deviceColumns = `digest, user_code_digest, client_id, scopes, resources, interval_ms, last_poll_at,
	slow_down, created_at, expires_at, user_id, auth_time, approved_at, denied_at, consumed_at, grant_id, amr, acr`

// scanDevice reads the deviceColumns of one row.
func scanDevice(row pgx.Row) (store.DeviceCode, error) {
	var d store.DeviceCode
	var intervalMS int64
	err := row.Scan(&d.Digest, &d.UserCodeDigest, &d.ClientID, listCol{&d.Scopes}, listCol{&d.Resources},
		&intervalMS, tsCol{&d.LastPollAt}, &d.SlowDown, tsCol{&d.CreatedAt}, tsCol{&d.ExpiresAt},
		textCol{&d.UserID}, tsCol{&d.AuthTime}, tsCol{&d.ApprovedAt}, tsCol{&d.DeniedAt},
		tsCol{&d.ConsumedAt}, textCol{&d.GrantID}, wordsCol{&d.AMR}, &d.ACR)
	d.Interval = time.Duration(intervalMS) * time.Millisecond
	return d, err
}

// CreateDeviceCode stores d; a digest or user code digest that exists
// already gives store.ErrConflict.
func (s *Store) CreateDeviceCode(ctx context.Context, d store.DeviceCode) error {
	const q = `INSERT INTO device_codes (` + deviceColumns + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`
	return s.exec(ctx, "create device code", q, d.Digest, d.UserCodeDigest, d.ClientID, list(d.Scopes),
		list(d.Resources), d.Interval.Milliseconds(), ts(d.LastPollAt), d.SlowDown, ts(d.CreatedAt), ts(d.ExpiresAt),
		optText(d.UserID), ts(d.AuthTime), ts(d.ApprovedAt), ts(d.DeniedAt), ts(d.ConsumedAt), optText(d.GrantID),
		words(d.AMR), d.ACR)
}

// GetDeviceCodeByUserCode returns the code with userCodeDigest unless it
// expired at now, or store.ErrNotFound.
func (s *Store) GetDeviceCodeByUserCode(ctx context.Context, userCodeDigest string, now time.Time) (store.DeviceCode, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	const q = `SELECT ` + deviceColumns + ` FROM device_codes WHERE user_code_digest = $1 AND expires_at > $2`
	d, err := scanDevice(s.pool.QueryRow(ctx, q, userCodeDigest, now))
	if err != nil {
		return store.DeviceCode{}, s.fail("get device code", err)
	}
	return d, nil
}

// DecideDeviceCode records the decision in one transaction. The
// conditional UPDATE matches only an undecided, unexpired code; its row
// lock makes concurrent callers wait, and PostgreSQL re-checks the
// condition on the row the first one left, so the others match nothing.
// Then a fresh read tells ErrConflict (decided) from ErrNotFound.
func (s *Store) DecideDeviceCode(ctx context.Context, userCodeDigest string, d store.DeviceDecision) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	approved, denied := d.At, time.Time{}
	if !d.Approved {
		approved, denied = time.Time{}, d.At
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		const q = `UPDATE device_codes SET user_id = $1, auth_time = $2, approved_at = $3, denied_at = $4, amr = $7, acr = $8
			WHERE user_code_digest = $5 AND approved_at IS NULL AND denied_at IS NULL AND expires_at > $6`
		tag, err := tx.Exec(ctx, q, optText(d.UserID), ts(d.AuthTime), ts(approved), ts(denied), userCodeDigest, d.At,
			words(d.AMR), d.ACR)
		if err != nil || tag.RowsAffected() == 1 {
			return err
		}
		var decided bool
		const state = `SELECT approved_at IS NOT NULL OR denied_at IS NOT NULL FROM device_codes WHERE user_code_digest = $1`
		if err := tx.QueryRow(ctx, state, userCodeDigest).Scan(&decided); err != nil {
			return err // pgx.ErrNoRows: unknown code
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
// RETURNING, whose SET expressions all read the row as it was before the
// poll: too soon is before the last poll plus the interval, less the
// tolerance. Concurrent polls queue on the row lock, and each one that
// comes after reads the last_poll_at the one before it wrote.
func (s *Store) PollDeviceCode(ctx context.Context, digest, clientID string, now time.Time) (store.DeviceCode, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	const q = `UPDATE device_codes SET
		slow_down = (last_poll_at IS NOT NULL AND $1 < last_poll_at + (interval_ms - $5) * interval '1 millisecond'),
		interval_ms = CASE WHEN last_poll_at IS NOT NULL AND $1 < last_poll_at + (interval_ms - $5) * interval '1 millisecond'
			THEN interval_ms + $4 ELSE interval_ms END,
		last_poll_at = $1
		WHERE digest = $2 AND client_id = $3
		RETURNING ` + deviceColumns
	d, err := scanDevice(s.pool.QueryRow(ctx, q, now, digest, clientID,
		store.SlowDownStep.Milliseconds(), store.PollTolerance.Milliseconds()))
	if err != nil {
		return store.DeviceCode{}, s.fail("poll device code", err)
	}
	return d, nil
}

// RedeemDeviceCode marks the code consumed and stores iss in one
// transaction; the conditional UPDATE is the single-use gate, as in
// RedeemAuthCode.
func (s *Store) RedeemDeviceCode(ctx context.Context, digest, clientID string, now time.Time, iss store.Issue) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var grantID string
	if iss.Grant != nil {
		grantID = iss.Grant.ID
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		const q = `UPDATE device_codes SET consumed_at = $1, grant_id = $2
			WHERE digest = $3 AND client_id = $4 AND approved_at IS NOT NULL AND consumed_at IS NULL AND expires_at > $1`
		tag, err := tx.Exec(ctx, q, now, optText(grantID), digest, clientID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 1 {
			return saveIssue(ctx, tx, iss)
		}
		var consumed bool
		const state = "SELECT consumed_at IS NOT NULL FROM device_codes WHERE digest = $1 AND client_id = $2"
		if err := tx.QueryRow(ctx, state, digest, clientID).Scan(&consumed); err != nil {
			return err // pgx.ErrNoRows: unknown, or another client's
		}
		if consumed {
			return fmt.Errorf("device code redeemed already: %w", store.ErrConflict)
		}
		return fmt.Errorf("device code not approved or expired: %w", store.ErrNotFound)
	})
	if err != nil {
		return s.fail("redeem device code", err)
	}
	return nil
}
