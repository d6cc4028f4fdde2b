package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/latchkey/latchkey/internal/store"
)

// ListClientsPage returns up to q.Limit clients after q.After, by id. The
// walk follows the primary key from q.After (or q.IDPrefix), so a page
// costs its own rows, never the table.
func (s *Store) ListClientsPage(ctx context.Context, q store.ClientQuery) ([]store.Client, error) {
	lower, upper := keyRange(q.After, q.IDPrefix)
	query := "SELECT " + clientColumns + ` FROM clients
		WHERE ` + lower + ` AND (? = '' OR id < ?)
		AND (? = '' OR source = ?)
		AND (? = '' OR EXISTS (SELECT 1 FROM json_each(settings, '$.grant_types') WHERE value = ?))
		ORDER BY id LIMIT ?`
	rows, err := s.r.QueryContext(ctx, query, max(q.After, q.IDPrefix), upper, upper,
		q.Source, q.Source, q.GrantType, q.GrantType, q.Limit)
	if err != nil {
		return nil, s.fail("list clients page", err)
	}
	defer rows.Close()
	var out []store.Client
	for rows.Next() {
		c, err := scanClient(rows)
		if err != nil {
			return nil, s.fail("list clients page", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("list clients page", err)
	}
	return out, nil
}

// ReplaceClient replaces client c.ID in one writer transaction when match
// accepts the stored record (SQLite's single writer makes it a lock).
func (s *Store) ReplaceClient(ctx context.Context, c store.Client, match func(store.Client) bool) error {
	err := s.inTx(ctx, func(tx txn) error {
		cur, err := scanClient(tx.QueryRowContext(ctx, "SELECT "+clientColumns+" FROM clients WHERE id = ?", c.ID))
		if err != nil {
			return err
		}
		if !match(cur) {
			return store.ErrStale
		}
		args := clientArgs(c)
		_, err = tx.ExecContext(ctx, `UPDATE clients SET name = ?, secret_hash = ?, public = ?, settings = ?,
			updated_at = ?, registration_token_hash = ? WHERE id = ?`,
			args[1], args[2], args[3], args[5], args[7], args[8], c.ID)
		return err
	})
	return s.failAdmin("replace client", err)
}

// ListUsersPage returns up to q.Limit users after q.After, by username,
// walking the unique index on username; with q.Email, the users with that
// email claim (index users_email on lower(json_extract(claims, '$.email')):
// the condition, named only when q.Email is given, repeats that expression
// exactly so that the planner uses it).
func (s *Store) ListUsersPage(ctx context.Context, q store.UserQuery) ([]store.User, error) {
	lower, upper := keyRange(q.After, q.UsernamePrefix)
	args := []any{max(q.After, q.UsernamePrefix), upper, upper}
	email := ""
	if q.Email != "" {
		email = "AND lower(json_extract(claims, '$.email')) = lower(?)"
		args = append(args, q.Email)
	}
	query := "SELECT " + userColumns + ` FROM users
		WHERE ` + strings.ReplaceAll(lower, "id", "username") + ` AND (? = '' OR username < ?) ` + email + `
		ORDER BY username LIMIT ?`
	rows, err := s.r.QueryContext(ctx, query, append(args, q.Limit)...)
	if err != nil {
		return nil, s.fail("list users page", err)
	}
	defer rows.Close()
	var out []store.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, s.fail("list users page", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("list users page", err)
	}
	return out, nil
}

// ReplaceUser replaces user u.ID in one writer transaction when match
// accepts the stored record.
func (s *Store) ReplaceUser(ctx context.Context, u store.User, match func(store.User) bool) error {
	args, err := userArgs(u)
	if err != nil {
		return s.fail("replace user", err)
	}
	err = s.inTx(ctx, func(tx txn) error {
		cur, err := scanUser(tx.QueryRowContext(ctx, "SELECT "+userColumns+" FROM users WHERE id = ?", u.ID))
		if err != nil {
			return err
		}
		if !match(cur) {
			return store.ErrStale
		}
		_, err = tx.ExecContext(ctx, `UPDATE users SET username = ?, password_hash = ?, claims = ?, updated_at = ?,
			disabled_at = ?, mfa_required = ? WHERE id = ?`, args[1], args[2], args[3], args[6], args[7], args[8], u.ID)
		return err
	})
	return s.failAdmin("replace user", err)
}

// DeleteClientIf deletes client id in one writer transaction when match
// accepts the stored record.
func (s *Store) DeleteClientIf(ctx context.Context, id string, match func(store.Client) bool) error {
	err := s.inTx(ctx, func(tx txn) error {
		cur, err := scanClient(tx.QueryRowContext(ctx, "SELECT "+clientColumns+" FROM clients WHERE id = ?", id))
		if err != nil {
			return err
		}
		if !match(cur) {
			return store.ErrStale
		}
		_, err = tx.ExecContext(ctx, "DELETE FROM clients WHERE id = ?", id)
		return err
	})
	return s.failAdmin("delete client", err)
}

// DeleteUserIf deletes user id in one writer transaction when match
// accepts the stored record.
func (s *Store) DeleteUserIf(ctx context.Context, id string, match func(store.User) bool) error {
	err := s.inTx(ctx, func(tx txn) error {
		cur, err := scanUser(tx.QueryRowContext(ctx, "SELECT "+userColumns+" FROM users WHERE id = ?", id))
		if err != nil {
			return err
		}
		if !match(cur) {
			return store.ErrStale
		}
		_, err = tx.ExecContext(ctx, "DELETE FROM users WHERE id = ?", id)
		return err
	})
	return s.failAdmin("delete user", err)
}

// failAdmin is fail, passing ErrStale through untouched.
func (s *Store) failAdmin(op string, err error) error {
	if err == nil || errors.Is(err, store.ErrStale) {
		return err
	}
	if errors.Is(err, sql.ErrNoRows) {
		return s.fail(op, store.ErrNotFound)
	}
	return s.fail(op, err)
}

// keyRange is the index range of a keyset page: after the cursor, or from
// the prefix when the cursor is before it, and below the prefix's end.
func keyRange(after, prefix string) (lower, upper string) {
	lower = "id > ?"
	if prefix != "" && after < prefix {
		lower = "id >= ?"
	}
	return lower, store.PrefixEnd(prefix)
}

// ListClientGrantsPage returns up to q.Limit of the client's live grants
// after q.After, by id, walking index grants_client_id.
func (s *Store) ListClientGrantsPage(ctx context.Context, q store.GrantQuery) ([]store.Grant, error) {
	const query = "SELECT " + grantColumns + ` FROM grants
		WHERE client_id = ?1 AND id > ?2 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?3)
		ORDER BY client_id, id LIMIT ?4`
	rows, err := s.r.QueryContext(ctx, query, q.ClientID, q.After, q.Now.UnixMilli(), q.Limit)
	if err != nil {
		return nil, s.fail("list client grants page", err)
	}
	defer rows.Close()
	var out []store.Grant
	for rows.Next() {
		g, err := scanGrant(rows)
		if err != nil {
			return nil, s.fail("list client grants page", err)
		}
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("list client grants page", err)
	}
	return out, nil
}
