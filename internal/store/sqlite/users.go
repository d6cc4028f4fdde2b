package sqlite

import (
	"context"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

const userColumns = `id, username, password_hash, claims, source, created_at, updated_at, disabled_at, mfa_required`

// scanUser reads one row of userColumns.
func scanUser(row scanner) (store.User, error) {
	var u store.User
	err := row.Scan(&u.ID, &u.Username, &u.PasswordHash, claimsCol{&u.Claims}, &u.Source,
		timeCol{&u.CreatedAt}, timeCol{&u.UpdatedAt}, timeCol{&u.DisabledAt}, &u.MFARequired)
	return u, err
}

// userArgs are the values of userColumns for u.
func userArgs(u store.User) ([]any, error) {
	claims, err := claimsOf(u.Claims)
	if err != nil {
		return nil, err
	}
	return []any{u.ID, u.Username, u.PasswordHash, claims, u.Source, msOf(u.CreatedAt), msOf(u.UpdatedAt), msOf(u.DisabledAt), u.MFARequired}, nil
}

// GetUser returns the user whose ID is id, or store.ErrNotFound.
func (s *Store) GetUser(ctx context.Context, id string) (store.User, error) {
	u, err := scanUser(s.r.QueryRowContext(ctx, "SELECT "+userColumns+" FROM users WHERE id = ?", id))
	if err != nil {
		return store.User{}, s.fail("get user", err)
	}
	return u, nil
}

// GetUserByUsername returns the user with username, or store.ErrNotFound.
func (s *Store) GetUserByUsername(ctx context.Context, username string) (store.User, error) {
	u, err := scanUser(s.r.QueryRowContext(ctx, "SELECT "+userColumns+" FROM users WHERE username = ?", username))
	if err != nil {
		return store.User{}, s.fail("get user by username", err)
	}
	return u, nil
}

// ListUsers returns every user ordered by username.
func (s *Store) ListUsers(ctx context.Context) ([]store.User, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT "+userColumns+" FROM users ORDER BY username")
	if err != nil {
		return nil, s.fail("list users", err)
	}
	defer rows.Close()
	var out []store.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, s.fail("list users", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("list users", err)
	}
	return out, nil
}

// CreateUser adds u, or returns store.ErrConflict when its ID or username
// is taken.
func (s *Store) CreateUser(ctx context.Context, u store.User) error {
	args, err := userArgs(u)
	if err != nil {
		return s.fail("create user", err)
	}
	const q = "INSERT INTO users (" + userColumns + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
	if _, err := s.w.ExecContext(ctx, q, args...); err != nil {
		return s.fail("create user", err)
	}
	return nil
}

// UpsertUser creates u or, when u.Username exists, replaces that user's
// password hash, claims, source and UpdatedAt, keeping its ID and CreatedAt.
// It returns the stored user; a new user whose ID is taken gives
// store.ErrConflict.
func (s *Store) UpsertUser(ctx context.Context, u store.User) (store.User, error) {
	args, err := userArgs(u)
	if err != nil {
		return store.User{}, s.fail("upsert user", err)
	}
	const q = "INSERT INTO users (" + userColumns + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)" + `
		ON CONFLICT (username) DO UPDATE SET
			password_hash = excluded.password_hash, claims = excluded.claims,
			source = excluded.source, updated_at = excluded.updated_at, mfa_required = excluded.mfa_required
		RETURNING ` + userColumns
	stored, err := scanUser(s.w.QueryRowContext(ctx, q, args...))
	if err != nil {
		return store.User{}, s.fail("upsert user", err)
	}
	return stored, nil
}

// SetUserPassword replaces the password hash of user id, or returns
// store.ErrNotFound.
func (s *Store) SetUserPassword(ctx context.Context, id, passwordHash string, now time.Time) error {
	const q = "UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?"
	return s.execOne(ctx, "set user password", q, passwordHash, msOf(now), id)
}

// DeleteUser removes the user and, through ON DELETE CASCADE, their codes,
// grants, tokens, sessions and consents, or returns store.ErrNotFound.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	return s.execOne(ctx, "delete user", "DELETE FROM users WHERE id = ?", id)
}
