package sqlite

import (
	"context"
	"fmt"

	"github.com/latchkey/latchkey/internal/store"
)

// CloneRows is store.Seeder's: one INSERT … SELECT over a recursive
// series, columns read from the table itself so that every migration's
// columns are copied.
func (s *Store) CloneRows(ctx context.Context, table, keyColumn, key string, set map[string]store.SeedValue, from, to int64) error {
	cols, err := s.columns(ctx, table)
	if err != nil {
		return s.fail("clone rows", err)
	}
	names, exprs, err := store.SeedSelect(cols, set, store.SeedDialect{
		Random: "lower(hex(randomblob(16)))",
		Number: func(prefix string, mod int64) string {
			if mod > 0 {
				return fmt.Sprintf("'%s' || (seq.i %% %d)", prefix, mod)
			}
			return fmt.Sprintf("'%s' || seq.i", prefix)
		},
	})
	if err != nil {
		return s.fail("clone rows", err)
	}
	q := fmt.Sprintf(`WITH RECURSIVE seq(i) AS (SELECT ?2 UNION ALL SELECT i + 1 FROM seq WHERE i + 1 < ?3)
		INSERT INTO "%s" (%s) SELECT %s FROM "%s" t, seq WHERE t."%s" = ?1`,
		table, names, exprs, table, keyColumn)
	if _, err := s.w.ExecContext(ctx, q, key, from, to); err != nil {
		return s.fail("clone rows", fmt.Errorf("%s: %w", table, err))
	}
	return nil
}

// columns are the names of table's columns, in order.
func (s *Store) columns(ctx context.Context, table string) ([]string, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT name FROM pragma_table_info(?1)`, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var cols []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, err
		}
		cols = append(cols, c)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(cols) == 0 {
		return nil, fmt.Errorf("no table %q", table)
	}
	return cols, nil
}

// Analyze is store.Seeder's.
func (s *Store) Analyze(ctx context.Context) error {
	if _, err := s.w.ExecContext(ctx, "ANALYZE"); err != nil {
		return s.fail("analyze", err)
	}
	return nil
}
