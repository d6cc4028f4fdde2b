package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
)

// SourcedIDs returns the ids of the clients and the usernames of the users
// whose source is source, by the indexes clients_source and users_source.
func (s *Store) SourcedIDs(ctx context.Context, source string) (clientIDs, usernames []string, err error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.pool.Query(ctx, "SELECT id FROM clients WHERE source = $1 ORDER BY id", source)
	if err == nil {
		clientIDs, err = pgx.CollectRows(rows, pgx.RowTo[string])
	}
	if err != nil {
		return nil, nil, s.fail("sourced client ids", err)
	}
	rows, err = s.pool.Query(ctx, "SELECT username FROM users WHERE source = $1 ORDER BY username", source)
	if err == nil {
		usernames, err = pgx.CollectRows(rows, pgx.RowTo[string])
	}
	if err != nil {
		return nil, nil, s.fail("sourced usernames", err)
	}
	return clientIDs, usernames, nil
}

// ConfigVerifier returns the verifier stored under key, or "".
func (s *Store) ConfigVerifier(ctx context.Context, key string) (string, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var v string
	err := s.pool.QueryRow(ctx, "SELECT verifier FROM config_verifiers WHERE key = $1", key).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", s.fail("config verifier", err)
	}
	return v, nil
}

// SetConfigVerifier stores verifier under key, replacing any.
func (s *Store) SetConfigVerifier(ctx context.Context, key, verifier string) error {
	const q = `INSERT INTO config_verifiers (key, verifier) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET verifier = excluded.verifier`
	return s.exec(ctx, "set config verifier", q, key, verifier)
}
