package postgres

import (
	"context"
	"fmt"
	"strings"

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
	names := make([]string, len(cols))
	exprs := make([]string, len(cols))
	for i, c := range cols {
		names[i] = `"` + c + `"`
		exprs[i] = `t."` + c + `"`
		v, ok := set[c]
		if !ok {
			continue
		}
		if err := v.Check(); err != nil {
			return s.fail("clone rows", err)
		}
		switch {
		case v.Random:
			exprs[i] = "md5(random()::text || seq.i::text)"
		case v.Mod > 0:
			exprs[i] = fmt.Sprintf("'%s' || (seq.i %% %d)::text", v.Prefix, v.Mod)
		default:
			exprs[i] = fmt.Sprintf("'%s' || seq.i::text", v.Prefix)
		}
	}
	q := fmt.Sprintf(`INSERT INTO "%s" (%s) SELECT %s FROM "%s" t, generate_series($2::bigint, $3::bigint - 1) AS seq(i) WHERE t."%s" = $1`,
		table, strings.Join(names, ", "), strings.Join(exprs, ", "), table, keyColumn)
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
