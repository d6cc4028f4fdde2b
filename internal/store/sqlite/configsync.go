package sqlite

import (
	"context"
	"database/sql"
	"errors"
)

// SourcedIDs returns the ids of the clients and the usernames of the users
// whose source is source, by the indexes clients_source and users_source.
func (s *Store) SourcedIDs(ctx context.Context, source string) (clientIDs, usernames []string, err error) {
	if clientIDs, err = s.strings(ctx, "SELECT id FROM clients WHERE source = ? ORDER BY id", source); err != nil {
		return nil, nil, s.fail("sourced client ids", err)
	}
	if usernames, err = s.strings(ctx, "SELECT username FROM users WHERE source = ? ORDER BY username", source); err != nil {
		return nil, nil, s.fail("sourced usernames", err)
	}
	return clientIDs, usernames, nil
}

func (s *Store) strings(ctx context.Context, query string, args ...any) ([]string, error) {
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// ConfigVerifier returns the verifier stored under key, or "".
func (s *Store) ConfigVerifier(ctx context.Context, key string) (string, error) {
	var v string
	err := s.r.QueryRowContext(ctx, "SELECT verifier FROM config_verifiers WHERE key = ?", key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", s.fail("config verifier", err)
	}
	return v, nil
}

// SetConfigVerifier stores verifier under key, replacing any.
func (s *Store) SetConfigVerifier(ctx context.Context, key, verifier string) error {
	const q = `INSERT INTO config_verifiers (key, verifier) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET verifier = excluded.verifier`
	if _, err := s.w.ExecContext(ctx, q, key, verifier); err != nil {
		return s.fail("set config verifier", err)
	}
	return nil
}
