package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// RegisterClient adds c unless max > 0 and max clients of its source exist
// (store.ErrLimit). One statement counts (by the clients_source index) and
// inserts; the single writer connection makes it atomic.
func (s *Store) RegisterClient(ctx context.Context, c store.Client, max int) error {
	if max <= 0 {
		return s.CreateClient(ctx, c)
	}
	const q = "INSERT INTO clients (" + clientColumns + ") SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?" +
		" WHERE (SELECT count(*) FROM clients WHERE source = ?) < ?"
	res, err := s.w.ExecContext(ctx, q, append(clientArgs(c), c.Source, max)...)
	if err != nil {
		return s.fail("register client", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return s.fail("register client", err)
	} else if n == 0 {
		return fmt.Errorf("sqlite: register client: %w", store.ErrLimit)
	}
	return nil
}

// UpdateRegisteredClient replaces the client's fields while its
// registration token hash is still tokenHash.
func (s *Store) UpdateRegisteredClient(ctx context.Context, c store.Client, tokenHash string) error {
	const q = `UPDATE clients SET name = ?, secret_hash = ?, public = ?, settings = ?, updated_at = ?,
		registration_token_hash = ? WHERE id = ? AND registration_token_hash = ? AND registration_token_hash != ''`
	return s.execOne(ctx, "update registered client", q, c.Name, c.SecretHash, c.Public, settingsOf(c),
		msOf(c.UpdatedAt), c.RegistrationTokenHash, c.ID, tokenHash)
}

// CreateInitialToken stores t.
func (s *Store) CreateInitialToken(ctx context.Context, t store.InitialToken) error {
	const q = "INSERT INTO initial_access_tokens (id, digest, uses_left, created_at, expires_at) VALUES (?, ?, ?, ?, ?)"
	if _, err := s.w.ExecContext(ctx, q, t.ID, t.Digest, t.UsesLeft, msOf(t.CreatedAt), msOf(t.ExpiresAt)); err != nil {
		return s.fail("create initial token", err)
	}
	return nil
}

// UseInitialToken spends one use in one statement: a token with no use
// left, or expired, matches no row.
func (s *Store) UseInitialToken(ctx context.Context, digest string, now time.Time) error {
	const q = `UPDATE initial_access_tokens SET uses_left = CASE WHEN uses_left < 0 THEN uses_left ELSE uses_left - 1 END
		WHERE digest = ? AND uses_left != 0 AND expires_at > ?`
	return s.execOne(ctx, "use initial token", q, digest, now.UnixMilli())
}

// ListInitialTokens returns every initial access token ordered by id.
func (s *Store) ListInitialTokens(ctx context.Context) ([]store.InitialToken, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT id, digest, uses_left, created_at, expires_at FROM initial_access_tokens ORDER BY id")
	if err != nil {
		return nil, s.fail("list initial tokens", err)
	}
	defer rows.Close()
	var out []store.InitialToken
	for rows.Next() {
		var t store.InitialToken
		if err := rows.Scan(&t.ID, &t.Digest, &t.UsesLeft, timeCol{&t.CreatedAt}, timeCol{&t.ExpiresAt}); err != nil {
			return nil, s.fail("list initial tokens", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("list initial tokens", err)
	}
	return out, nil
}

// DeleteInitialToken removes the token with id.
func (s *Store) DeleteInitialToken(ctx context.Context, id string) error {
	return s.execOne(ctx, "delete initial token", "DELETE FROM initial_access_tokens WHERE id = ?", id)
}
