package postgres

import (
	"context"
	"fmt"

	"github.com/latchkey/latchkey/internal/store"
)

// CloneRows is store.Seeder's: one INSERT … SELECT over generate_series,
// columns read from the catalog so that every migration's columns are
// copied. It runs without the query timeout: a chunk of a seeding may take
// longer than a request's statement should.
func (s *Store) CloneRows(ctx context.Context, table, keyColumn, key string, set map[string]store.SeedValue, from, to int64) error {
	rows, err := s.pool.Query(ctx, `SELECT column_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = $1 AND is_generated = 'NEVER' ORDER BY ordinal_position`, table)
	if err != nil {
		return s.fail("clone rows", err)
	}
	var cols []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			rows.Close()
			return s.fail("clone rows", err)
		}
		cols = append(cols, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return s.fail("clone rows", err)
	}
	if len(cols) == 0 {
		return s.fail("clone rows", fmt.Errorf("no table %q", table))
	}
	names, exprs, err := store.SeedSelect(cols, set, store.SeedDialect{
		Random: "md5(random()::text || seq.i::text)",
		Number: func(prefix string, mod int64) string {
			if mod > 0 {
				return fmt.Sprintf("'%s' || (seq.i %% %d)::text", prefix, mod)
			}
			return fmt.Sprintf("'%s' || seq.i::text", prefix)
		},
	})
	if err != nil {
		return s.fail("clone rows", err)
	}
	q := fmt.Sprintf(`INSERT INTO "%s" (%s) SELECT %s FROM "%s" t, generate_series($2::bigint, $3::bigint - 1) AS seq(i) WHERE t."%s" = $1`,
		table, names, exprs, table, keyColumn)
	if _, err := s.pool.Exec(ctx, q, key, from, to); err != nil {
		return s.fail("clone rows", fmt.Errorf("%s: %w", table, err))
	}
	return nil
}

// Analyze is store.Seeder's.
func (s *Store) Analyze(ctx context.Context) error {
	if _, err := s.pool.Exec(ctx, "ANALYZE"); err != nil {
		return s.fail("analyze", err)
	}
	return nil
}
