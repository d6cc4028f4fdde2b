package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey/internal/store"
)

// ListClientsPage returns up to q.Limit clients after q.After, by id,
// walking the primary key from the cursor (or the prefix). The statement
// names only the filters given: a generic plan of "$3 = ” OR source =
// $3" misjudges how many rows match and sorts the table instead.
func (s *Store) ListClientsPage(ctx context.Context, q store.ClientQuery) ([]store.Client, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	where := []string{lowerBound(q.After, q.IDPrefix, "id")}
	args := []any{max(q.After, q.IDPrefix)}
	add := func(cond string, v string) {
		if v != "" {
			args = append(args, v)
			where = append(where, fmt.Sprintf(cond, len(args)))
		}
	}
	add("starts_with(id, $%d)", q.IDPrefix)
	add("source = $%d", q.Source)
	add("$%d = ANY (grant_types)", q.GrantType)
	args = append(args, q.Limit)
	query := "SELECT " + clientColumns + " FROM clients WHERE " + strings.Join(where, " AND ") +
		fmt.Sprintf(" ORDER BY id LIMIT $%d", len(args))
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, s.fail("list clients page", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Client, error) { return scanClient(row) })
	if err != nil {
		return nil, s.fail("list clients page", err)
	}
	return out, nil
}

// ListUsersPage returns up to q.Limit users after q.After, by username,
// walking the unique index on username; with q.Email, the users with that
// email claim, found by index users_email on lower(claims->>'email'). As
// for clients, the statement names only the filters given.
func (s *Store) ListUsersPage(ctx context.Context, q store.UserQuery) ([]store.User, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	where := lowerBound(q.After, q.UsernamePrefix, "username")
	args := []any{max(q.After, q.UsernamePrefix), q.Limit}
	if q.UsernamePrefix != "" {
		args = append(args, q.UsernamePrefix)
		where += fmt.Sprintf(" AND starts_with(username, $%d)", len(args))
	}
	if q.Email != "" {
		args = append(args, q.Email)
		where += fmt.Sprintf(" AND lower(claims->>'email') = lower($%d)", len(args))
	}
	query := "SELECT " + userColumns + " FROM users WHERE " + where + " ORDER BY username LIMIT $2"
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, s.fail("list users page", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.User, error) { return scanUser(row) })
	if err != nil {
		return nil, s.fail("list users page", err)
	}
	return out, nil
}

// lowerBound is the keyset condition on column: after the cursor, or from
// the prefix when the cursor is before it.
func lowerBound(after, prefix, column string) string {
	if prefix != "" && after < prefix {
		return column + " >= $1"
	}
	return column + " > $1"
}

// ReplaceClient locks client c.ID (SELECT … FOR UPDATE) and replaces it
// when match accepts the stored record, in one transaction.
func (s *Store) ReplaceClient(ctx context.Context, c store.Client, match func(store.Client) bool) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		cur, err := scanClient(tx.QueryRow(ctx, "SELECT "+clientColumns+" FROM clients WHERE id = $1 FOR UPDATE", c.ID))
		if err != nil {
			return err
		}
		if !match(cur) {
			return store.ErrStale
		}
		q, args := replaceSQL("clients", clientColumns, clientArgs(c))
		_, err = tx.Exec(ctx, q, args...)
		return err
	})
	return s.failAdmin(ctx, "replace client", err)
}

// ReplaceUser locks user u.ID and replaces it when match accepts the
// stored record, in one transaction.
func (s *Store) ReplaceUser(ctx context.Context, u store.User, match func(store.User) bool) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		cur, err := scanUser(tx.QueryRow(ctx, "SELECT "+userColumns+" FROM users WHERE id = $1 FOR UPDATE", u.ID))
		if err != nil {
			return err
		}
		if !match(cur) {
			return store.ErrStale
		}
		q, args := replaceSQL("users", userColumns, userArgs(u))
		_, err = tx.Exec(ctx, q, args...)
		return err
	})
	return s.failAdmin(ctx, "replace user", err)
}

// DeleteClientIf locks client id and deletes it when match accepts the
// stored record, in one transaction.
func (s *Store) DeleteClientIf(ctx context.Context, id string, match func(store.Client) bool) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		cur, err := scanClient(tx.QueryRow(ctx, "SELECT "+clientColumns+" FROM clients WHERE id = $1 FOR UPDATE", id))
		if err != nil {
			return err
		}
		if !match(cur) {
			return store.ErrStale
		}
		_, err = tx.Exec(ctx, "DELETE FROM clients WHERE id = $1", id)
		return err
	})
	return s.failAdmin(ctx, "delete client", err)
}

// DeleteUserIf locks user id and deletes it when match accepts the stored
// record, in one transaction.
func (s *Store) DeleteUserIf(ctx context.Context, id string, match func(store.User) bool) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		cur, err := scanUser(tx.QueryRow(ctx, "SELECT "+userColumns+" FROM users WHERE id = $1 FOR UPDATE", id))
		if err != nil {
			return err
		}
		if !match(cur) {
			return store.ErrStale
		}
		_, err = tx.Exec(ctx, "DELETE FROM users WHERE id = $1", id)
		return err
	})
	return s.failAdmin(ctx, "delete user", err)
}

// replaceSQL is an UPDATE of table that sets every one of columns (whose
// values are all, id first) except id, source and created_at, and the
// arguments it takes.
func replaceSQL(table, columns string, all []any) (string, []any) {
	var set []string
	args := []any{all[0]}
	for i, col := range strings.Split(columns, ",") {
		col = strings.TrimSpace(col)
		if col == "id" || col == "source" || col == "created_at" {
			continue
		}
		args = append(args, all[i])
		set = append(set, fmt.Sprintf("%s = $%d", col, len(args)))
	}
	return "UPDATE " + table + " SET " + strings.Join(set, ", ") + " WHERE id = $1", args
}

// failAdmin is fail, passing ErrStale through and announcing a change.
func (s *Store) failAdmin(ctx context.Context, op string, err error) error {
	if errors.Is(err, store.ErrStale) {
		return err
	}
	if err != nil {
		return s.fail(op, err)
	}
	s.announce(ctx)
	return nil
}

// ListClientGrantsPage returns up to q.Limit of the client's live grants
// after q.After, by id, walking index grants_client_id.
func (s *Store) ListClientGrantsPage(ctx context.Context, q store.GrantQuery) ([]store.Grant, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	const query = "SELECT " + grantColumns + ` FROM grants
		WHERE client_id = $1 AND id > $2 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $3)
		ORDER BY client_id, id LIMIT $4`
	rows, err := s.pool.Query(ctx, query, q.ClientID, q.After, q.Now, q.Limit)
	if err != nil {
		return nil, s.fail("list client grants page", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Grant, error) { return scanGrant(row) })
	if err != nil {
		return nil, s.fail("list client grants page", err)
	}
	return out, nil
}
