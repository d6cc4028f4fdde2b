package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

const factorColumns = `id, user_id, kind, label, data, counter, created_at, confirmed_at, last_used_at`

// CreateFactor stores f unconfirmed, replacing the user's other
// unconfirmed factors of its kind, in one writer transaction.
func (s *Store) CreateFactor(ctx context.Context, f store.Factor) error {
	err := s.inTx(ctx, func(tx txn) error {
		const del = `DELETE FROM user_factors WHERE user_id = ? AND kind = ? AND confirmed_at IS NULL`
		if _, err := tx.ExecContext(ctx, del, f.UserID, f.Kind); err != nil {
			return err
		}
		const q = "INSERT INTO user_factors (" + factorColumns + ") VALUES (?, ?, ?, ?, ?, ?, ?, NULL, NULL)"
		_, err := tx.ExecContext(ctx, q, f.ID, f.UserID, f.Kind, f.Label, f.Data, f.Counter, msOf(f.CreatedAt))
		return err
	})
	if err != nil {
		return s.fail("create factor", err)
	}
	return nil
}

// ListFactors returns the user's factors, oldest first.
func (s *Store) ListFactors(ctx context.Context, userID string) ([]store.Factor, error) {
	const q = "SELECT " + factorColumns + " FROM user_factors WHERE user_id = ? ORDER BY created_at, id"
	rows, err := s.r.QueryContext(ctx, q, userID)
	if err != nil {
		return nil, s.fail("list factors", err)
	}
	defer rows.Close()
	var out []store.Factor
	for rows.Next() {
		var f store.Factor
		if err := rows.Scan(&f.ID, &f.UserID, &f.Kind, &f.Label, &f.Data, &f.Counter,
			timeCol{&f.CreatedAt}, timeCol{&f.ConfirmedAt}, timeCol{&f.LastUsedAt}); err != nil {
			return nil, s.fail("list factors", err)
		}
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("list factors", err)
	}
	return out, nil
}

// ConfirmFactor completes an enrolment: the factor is confirmed, the
// user's other factors of its kind go, and the recovery codes are
// replaced when given, all in one transaction.
func (s *Store) ConfirmFactor(ctx context.Context, userID, id string, counter int64, now time.Time, recovery []string) error {
	err := s.inTx(ctx, func(tx txn) error {
		var kind string
		const find = `SELECT kind FROM user_factors WHERE id = ? AND user_id = ? AND confirmed_at IS NULL`
		if err := tx.QueryRowContext(ctx, find, id, userID).Scan(&kind); err != nil {
			return err // sql.ErrNoRows: not found
		}
		const upd = `UPDATE user_factors SET confirmed_at = ?, last_used_at = ?, counter = ? WHERE id = ?`
		if _, err := tx.ExecContext(ctx, upd, msOf(now), msOf(now), counter, id); err != nil {
			return err
		}
		const del = `DELETE FROM user_factors WHERE user_id = ? AND kind = ? AND id <> ?`
		if _, err := tx.ExecContext(ctx, del, userID, kind, id); err != nil {
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
// UPDATE is the single-use gate of a code.
func (s *Store) UseFactor(ctx context.Context, userID, id string, counter int64, now time.Time) error {
	const q = `UPDATE user_factors SET counter = ?, last_used_at = ?
		WHERE id = ? AND user_id = ? AND confirmed_at IS NOT NULL AND counter < ?`
	res, err := s.w.ExecContext(ctx, q, counter, msOf(now), id, userID, counter)
	if err != nil {
		return s.fail("use factor", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return s.fail("use factor", err)
	} else if n == 1 {
		return nil
	}
	var one int
	const exists = `SELECT 1 FROM user_factors WHERE id = ? AND user_id = ? AND confirmed_at IS NOT NULL`
	if err := s.w.QueryRowContext(ctx, exists, id, userID).Scan(&one); err != nil {
		return s.fail("use factor", err)
	}
	return s.fail("use factor", fmt.Errorf("code of step %d or earlier used already: %w", counter, store.ErrConflict))
}

// DeleteFactors removes the user's factors and recovery codes.
func (s *Store) DeleteFactors(ctx context.Context, userID string) (int, error) {
	var n int64
	err := s.inTx(ctx, func(tx txn) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM user_factors WHERE user_id = ?", userID)
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, "DELETE FROM recovery_codes WHERE user_id = ?", userID)
		return err
	})
	if err != nil {
		return 0, s.fail("delete factors", err)
	}
	return int(n), nil
}

// ReplaceRecoveryCodes replaces the user's recovery codes.
func (s *Store) ReplaceRecoveryCodes(ctx context.Context, userID string, digests []string, now time.Time) error {
	err := s.inTx(ctx, func(tx txn) error { return replaceRecovery(ctx, tx, userID, digests, now) })
	if err != nil {
		return s.fail("replace recovery codes", err)
	}
	return nil
}

func replaceRecovery(ctx context.Context, tx txn, userID string, digests []string, now time.Time) error {
	if _, err := tx.ExecContext(ctx, "DELETE FROM recovery_codes WHERE user_id = ?", userID); err != nil {
		return err
	}
	for _, d := range digests {
		const q = "INSERT INTO recovery_codes (user_id, digest, created_at) VALUES (?, ?, ?)"
		if _, err := tx.ExecContext(ctx, q, userID, d, msOf(now)); err != nil {
			return err
		}
	}
	return nil
}

// UseRecoveryCode marks an unused code used.
func (s *Store) UseRecoveryCode(ctx context.Context, userID, digest string, now time.Time) error {
	const q = "UPDATE recovery_codes SET used_at = ? WHERE user_id = ? AND digest = ? AND used_at IS NULL"
	return s.execOne(ctx, "use recovery code", q, msOf(now), userID, digest)
}

// CountRecoveryCodes counts the user's unused codes.
func (s *Store) CountRecoveryCodes(ctx context.Context, userID string) (int, error) {
	var n int
	const q = "SELECT count(*) FROM recovery_codes WHERE user_id = ? AND used_at IS NULL"
	if err := s.r.QueryRowContext(ctx, q, userID).Scan(&n); err != nil {
		return 0, s.fail("count recovery codes", err)
	}
	return n, nil
}

// AddFactor stores a confirmed factor beside the user's others, and the
// recovery codes when given, in one writer transaction.
func (s *Store) AddFactor(ctx context.Context, f store.Factor, recovery []string) error {
	err := s.inTx(ctx, func(tx txn) error {
		const q = "INSERT INTO user_factors (" + factorColumns + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
		if _, err := tx.ExecContext(ctx, q, f.ID, f.UserID, f.Kind, f.Label, f.Data, f.Counter, msOf(f.CreatedAt),
			msOf(f.ConfirmedAt), msOf(f.ConfirmedAt)); err != nil {
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
// with its new data: the conditional UPDATE is the compare-and-swap.
func (s *Store) UpdateFactor(ctx context.Context, userID, id string, counter, next int64, data []byte, now time.Time) error {
	const q = `UPDATE user_factors SET counter = ?, data = ?, last_used_at = ?
		WHERE id = ? AND user_id = ? AND confirmed_at IS NOT NULL AND counter = ?`
	res, err := s.w.ExecContext(ctx, q, next, data, msOf(now), id, userID, counter)
	if err != nil {
		return s.fail("update factor", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return s.fail("update factor", err)
	} else if n == 1 {
		return nil
	}
	var one int
	const exists = `SELECT 1 FROM user_factors WHERE id = ? AND user_id = ? AND confirmed_at IS NOT NULL`
	if err := s.w.QueryRowContext(ctx, exists, id, userID).Scan(&one); err != nil {
		return s.fail("update factor", err)
	}
	return s.fail("update factor", fmt.Errorf("counter is no longer %d: %w", counter, store.ErrConflict))
}

// DeleteFactor removes one factor, and the recovery codes with the last
// confirmed one, in one writer transaction.
func (s *Store) DeleteFactor(ctx context.Context, userID, id string) (int, error) {
	var left int
	err := s.inTx(ctx, func(tx txn) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM user_factors WHERE id = ? AND user_id = ?", id, userID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return store.ErrNotFound
		}
		const count = "SELECT count(*) FROM user_factors WHERE user_id = ? AND confirmed_at IS NOT NULL"
		if err := tx.QueryRowContext(ctx, count, userID).Scan(&left); err != nil {
			return err
		}
		if left == 0 {
			_, err = tx.ExecContext(ctx, "DELETE FROM recovery_codes WHERE user_id = ?", userID)
		}
		return err
	})
	if err != nil {
		return 0, s.fail("delete factor", err)
	}
	return left, nil
}
