package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey/internal/store"
)

const factorColumns = `id, user_id, kind, label, data, counter, created_at, confirmed_at, last_used_at`

// CreateFactor stores f unconfirmed, replacing the user's other
// unconfirmed factors of its kind, in one transaction.
func (s *Store) CreateFactor(ctx context.Context, f store.Factor) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		const del = `DELETE FROM user_factors WHERE user_id = $1 AND kind = $2 AND confirmed_at IS NULL`
		if _, err := tx.Exec(ctx, del, f.UserID, f.Kind); err != nil {
			return err
		}
		const q = "INSERT INTO user_factors (" + factorColumns + ") VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, NULL)"
		_, err := tx.Exec(ctx, q, f.ID, f.UserID, f.Kind, f.Label, blob(f.Data), f.Counter, ts(f.CreatedAt))
		return err
	})
	if err != nil {
		return s.fail("create factor", err)
	}
	return nil
}

// ListFactors returns the user's factors, oldest first.
func (s *Store) ListFactors(ctx context.Context, userID string) ([]store.Factor, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	const q = "SELECT " + factorColumns + " FROM user_factors WHERE user_id = $1 ORDER BY created_at, id"
	rows, err := s.pool.Query(ctx, q, userID)
	if err != nil {
		return nil, s.fail("list factors", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Factor, error) {
		var f store.Factor
		err := row.Scan(&f.ID, &f.UserID, &f.Kind, &f.Label, &f.Data, &f.Counter,
			tsCol{&f.CreatedAt}, tsCol{&f.ConfirmedAt}, tsCol{&f.LastUsedAt})
		return f, err
	})
	if err != nil {
		return nil, s.fail("list factors", err)
	}
	return out, nil
}

// ConfirmFactor completes an enrolment: the factor is confirmed, the
// user's other factors of its kind go, and the recovery codes are
// replaced when given, all in one transaction. The row lock of the
// conditional UPDATE makes one of concurrent confirmations win.
func (s *Store) ConfirmFactor(ctx context.Context, userID, id string, counter int64, now time.Time, recovery []string) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var kind string
		const upd = `UPDATE user_factors SET confirmed_at = $3, last_used_at = $3, counter = $4
			WHERE id = $1 AND user_id = $2 AND confirmed_at IS NULL RETURNING kind`
		if err := tx.QueryRow(ctx, upd, id, userID, ts(now), counter).Scan(&kind); err != nil {
			return err // pgx.ErrNoRows: not found
		}
		const del = `DELETE FROM user_factors WHERE user_id = $1 AND kind = $2 AND id <> $3`
		if _, err := tx.Exec(ctx, del, userID, kind, id); err != nil {
			return err
		}
		if recovery != nil {
			return replaceRecovery(ctx, tx, userID, recovery, now)
		}
		return nil
	})
	if err != nil {
		return s.fail("confirm factor", err)
	}
	return nil
}

// UseFactor raises the counter of a confirmed factor: the conditional
// UPDATE is the single-use gate of a code; its row lock makes concurrent
// callers wait, and the re-checked condition lets only the first through.
func (s *Store) UseFactor(ctx context.Context, userID, id string, counter int64, now time.Time) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	const q = `UPDATE user_factors SET counter = $3, last_used_at = $4
		WHERE id = $1 AND user_id = $2 AND confirmed_at IS NOT NULL AND counter < $3`
	tag, err := s.pool.Exec(ctx, q, id, userID, counter, ts(now))
	if err != nil {
		return s.fail("use factor", err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	var one int
	const exists = `SELECT 1 FROM user_factors WHERE id = $1 AND user_id = $2 AND confirmed_at IS NOT NULL`
	if err := s.pool.QueryRow(ctx, exists, id, userID).Scan(&one); err != nil {
		return s.fail("use factor", err)
	}
	return s.fail("use factor", fmt.Errorf("code of step %d or earlier used already: %w", counter, store.ErrConflict))
}

// DeleteFactors removes the user's factors and recovery codes.
func (s *Store) DeleteFactors(ctx context.Context, userID string) (int, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var n int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, "DELETE FROM user_factors WHERE user_id = $1", userID)
		if err != nil {
			return err
		}
		n = tag.RowsAffected()
		_, err = tx.Exec(ctx, "DELETE FROM recovery_codes WHERE user_id = $1", userID)
		return err
	})
	if err != nil {
		return 0, s.fail("delete factors", err)
	}
	return int(n), nil
}

// ReplaceRecoveryCodes replaces the user's recovery codes.
func (s *Store) ReplaceRecoveryCodes(ctx context.Context, userID string, digests []string, now time.Time) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	err := s.inTx(ctx, func(tx pgx.Tx) error { return replaceRecovery(ctx, tx, userID, digests, now) })
	if err != nil {
		return s.fail("replace recovery codes", err)
	}
	return nil
}

func replaceRecovery(ctx context.Context, tx pgx.Tx, userID string, digests []string, now time.Time) error {
	if _, err := tx.Exec(ctx, "DELETE FROM recovery_codes WHERE user_id = $1", userID); err != nil {
		return err
	}
	const q = `INSERT INTO recovery_codes (user_id, digest, created_at)
		SELECT $1, d, $3 FROM unnest($2::text[]) AS d`
	_, err := tx.Exec(ctx, q, userID, list(digests), ts(now))
	return err
}

// UseRecoveryCode marks an unused code used.
func (s *Store) UseRecoveryCode(ctx context.Context, userID, digest string, now time.Time) error {
	const q = "UPDATE recovery_codes SET used_at = $3 WHERE user_id = $1 AND digest = $2 AND used_at IS NULL"
	return s.execOne(ctx, "use recovery code", q, userID, digest, ts(now))
}

// CountRecoveryCodes counts the user's unused codes.
func (s *Store) CountRecoveryCodes(ctx context.Context, userID string) (int, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var n int
	const q = "SELECT count(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL"
	if err := s.pool.QueryRow(ctx, q, userID).Scan(&n); err != nil {
		return 0, s.fail("count recovery codes", err)
	}
	return n, nil
}

// AddFactor stores a confirmed factor beside the user's others, and the
// recovery codes when given, in one transaction.
func (s *Store) AddFactor(ctx context.Context, f store.Factor, recovery []string) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		const q = "INSERT INTO user_factors (" + factorColumns + ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)"
		if _, err := tx.Exec(ctx, q, f.ID, f.UserID, f.Kind, f.Label, blob(f.Data), f.Counter, ts(f.CreatedAt),
			ts(f.ConfirmedAt)); err != nil {
			return err
		}
		if recovery != nil {
			return replaceRecovery(ctx, tx, f.UserID, recovery, f.ConfirmedAt)
		}
		return nil
	})
	if err != nil {
		return s.fail("add factor", err)
	}
	return nil
}

// UpdateFactor moves a confirmed factor's counter from counter to next
// with its new data: the conditional UPDATE is the compare-and-swap (its
// row lock makes a concurrent caller wait and then see the new counter).
func (s *Store) UpdateFactor(ctx context.Context, userID, id string, counter, next int64, data []byte, now time.Time) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	const q = `UPDATE user_factors SET counter = $4, data = $5, last_used_at = $6
		WHERE id = $1 AND user_id = $2 AND confirmed_at IS NOT NULL AND counter = $3`
	tag, err := s.pool.Exec(ctx, q, id, userID, counter, next, blob(data), ts(now))
	if err != nil {
		return s.fail("update factor", err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	var one int
	const exists = `SELECT 1 FROM user_factors WHERE id = $1 AND user_id = $2 AND confirmed_at IS NOT NULL`
	if err := s.pool.QueryRow(ctx, exists, id, userID).Scan(&one); err != nil {
		return s.fail("update factor", err)
	}
	return s.fail("update factor", fmt.Errorf("counter is no longer %d: %w", counter, store.ErrConflict))
}

// DeleteFactor removes one factor, and the recovery codes with the last
// confirmed one, in one transaction.
func (s *Store) DeleteFactor(ctx context.Context, userID, id string) (int, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var left int
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, "DELETE FROM user_factors WHERE id = $1 AND user_id = $2", id, userID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return store.ErrNotFound
		}
		const count = "SELECT count(*) FROM user_factors WHERE user_id = $1 AND confirmed_at IS NOT NULL"
		if err := tx.QueryRow(ctx, count, userID).Scan(&left); err != nil {
			return err
		}
		if left == 0 {
			_, err = tx.Exec(ctx, "DELETE FROM recovery_codes WHERE user_id = $1", userID)
		}
		return err
	})
	if err != nil {
		return 0, s.fail("delete factor", err)
	}
	return left, nil
}
