package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey/internal/store"
)

const userColumns = `id, username, password_hash, claims, source, created_at, updated_at, disabled_at, mfa_required`

// scanUser reads one row of userColumns.
func scanUser(row pgx.Row) (store.User, error) {
	var u store.User
	err := row.Scan(&u.ID, &u.Username, &u.PasswordHash, &u.Claims, &u.Source,
		tsCol{&u.CreatedAt}, tsCol{&u.UpdatedAt}, tsCol{&u.DisabledAt}, &u.MFARequired)
	if len(u.Claims) == 0 {
		u.Claims = nil // as in the SQLite store
	}
	return u, err
}

// userArgs are the values of userColumns for u.
func userArgs(u store.User) []any {
	return []any{u.ID, u.Username, u.PasswordHash, claims(u.Claims), u.Source, ts(u.CreatedAt), ts(u.UpdatedAt), ts(u.DisabledAt), u.MFARequired}
}

// GetUser returns the user whose ID is id, or store.ErrNotFound.
func (s *Store) GetUser(ctx context.Context, id string) (store.User, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	u, err := scanUser(s.pool.QueryRow(ctx, "SELECT "+userColumns+" FROM users WHERE id = $1", id))
	if err != nil {
		return store.User{}, s.fail("get user", err)
	}
	return u, nil
}

// GetUserByUsername returns the user with username, or store.ErrNotFound.
func (s *Store) GetUserByUsername(ctx context.Context, username string) (store.User, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	u, err := scanUser(s.pool.QueryRow(ctx, "SELECT "+userColumns+" FROM users WHERE username = $1", username))
	if err != nil {
		return store.User{}, s.fail("get user by username", err)
	}
	return u, nil
}

// ListUsers returns every user ordered by username.
func (s *Store) ListUsers(ctx context.Context) ([]store.User, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.pool.Query(ctx, "SELECT "+userColumns+" FROM users ORDER BY username")
	if err != nil {
		return nil, s.fail("list users", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.User, error) { return scanUser(row) })
	if err != nil {
		return nil, s.fail("list users", err)
	}
	return out, nil
}

// CreateUser adds u, or returns store.ErrConflict when its ID or username
// is taken.
func (s *Store) CreateUser(ctx context.Context, u store.User) error {
	const q = "INSERT INTO users (" + userColumns + ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
	return s.exec(ctx, "create user", q, userArgs(u)...)
}

// UpsertUser creates u or, when u.Username exists, replaces that user's
// password hash, claims, source and UpdatedAt, keeping its ID and CreatedAt.
// It returns the stored user; a new user whose ID is taken gives
// store.ErrConflict.
func (s *Store) UpsertUser(ctx context.Context, u store.User) (store.User, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	const q = "INSERT INTO users (" + userColumns + ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)" + `
		ON CONFLICT (username) DO UPDATE SET
			password_hash = excluded.password_hash, claims = excluded.claims,
			source = excluded.source, updated_at = excluded.updated_at, mfa_required = excluded.mfa_required
		RETURNING ` + userColumns
	stored, err := scanUser(s.pool.QueryRow(ctx, q, userArgs(u)...))
	if err != nil {
		return store.User{}, s.fail("upsert user", err)
	}
	return stored, nil
}

// SetUserPassword replaces the password hash of user id, or returns
// store.ErrNotFound.
func (s *Store) SetUserPassword(ctx context.Context, id, passwordHash string, now time.Time) error {
	const q = "UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3"
	return s.execOne(ctx, "set user password", q, passwordHash, ts(now), id)
}

// DeleteUser removes the user and, through ON DELETE CASCADE, their codes,
// grants, tokens, sessions and consents, or returns store.ErrNotFound.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	if err := s.execOne(ctx, "delete user", "DELETE FROM users WHERE id = $1", id); err != nil {
		return err
	}
	s.announce(ctx)
	return nil
}
