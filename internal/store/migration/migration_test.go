package migration_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/store/migration"
)

// TestCommittedMigrationsDeclared parses every committed migration of both
// stores: each must declare expand or contract, and an expand migration
// must hold nothing that breaks the previous release while it serves.
func TestCommittedMigrationsDeclared(t *testing.T) {
	for _, d := range []migration.Dialect{migration.SQLite, migration.Postgres} {
		files, err := filepath.Glob(filepath.Join("..", string(d), "migrations", "*.sql"))
		if err != nil || len(files) == 0 {
			t.Fatalf("%s: no migrations found (%v)", d, err)
		}
		for _, f := range files {
			body, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := migration.Parse(d, filepath.Base(f), string(body)); err != nil {
				t.Errorf("%s: %v", d, err)
			}
		}
	}
}

func TestParse(t *testing.T) {
	cases := []struct {
		name, body string
		d          migration.Dialect
		wantErr    string
		safe       bool
		concurrent bool
	}{
		{"undeclared", "CREATE TABLE t (a int);", migration.Postgres, "no declaration", false, false},
		{"unknown", "-- latchkey: maybe\nCREATE TABLE t (a int);", migration.Postgres, "unknown declaration", false, false},
		{"twice", "-- latchkey: expand\n-- latchkey: contract\nSELECT 1;", migration.Postgres, "declared twice", false, false},
		{"new table and index", "-- latchkey: expand\nCREATE TABLE t (a int NOT NULL);\nCREATE INDEX t_a ON t (a);", migration.Postgres, "", true, false},
		{"defaulted column", "-- latchkey: expand\nALTER TABLE users ADD COLUMN x text NOT NULL DEFAULT '';", migration.Postgres, "", true, false},
		{"nullable column", "-- latchkey: expand\nALTER TABLE users ADD COLUMN x timestamptz;", migration.Postgres, "", true, false},
		{"not null without default", "-- latchkey: expand\nALTER TABLE users ADD COLUMN x text NOT NULL;", migration.Postgres, "NOT NULL column without a default", false, false},
		{"drop column", "-- latchkey: expand\nALTER TABLE users DROP COLUMN x;", migration.Postgres, "drops", false, false},
		{"drop table", "-- latchkey: expand\nDROP TABLE old;", migration.SQLite, "drops", false, false},
		{"rename", "-- latchkey: expand\nALTER TABLE users RENAME COLUMN a TO b;", migration.Postgres, "renames", false, false},
		{"retype", "-- latchkey: expand\nALTER TABLE users ALTER COLUMN a TYPE bigint;", migration.Postgres, "type", false, false},
		{"set not null", "-- latchkey: expand\nALTER TABLE users ALTER COLUMN a SET NOT NULL;", migration.Postgres, "NOT NULL", false, false},
		{"plain index on existing table", "-- latchkey: expand\nCREATE INDEX u_a ON users (a);", migration.Postgres, "without CONCURRENTLY", false, false},
		{"plain index on sqlite", "-- latchkey: expand\nCREATE INDEX u_a ON users (a);", migration.SQLite, "", true, false},
		{"concurrent index", "-- latchkey: expand\nCREATE INDEX CONCURRENTLY IF NOT EXISTS u_a ON users (a);", migration.Postgres, "", true, true},
		{"concurrent without if not exists", "-- latchkey: expand\nCREATE INDEX CONCURRENTLY u_a ON users (a);", migration.Postgres, "IF NOT EXISTS", false, true},
		{"concurrent mixed", "-- latchkey: expand\nCREATE INDEX CONCURRENTLY IF NOT EXISTS u_a ON users (a);\nCREATE TABLE t (a int);", migration.Postgres, "outside a transaction", false, true},
		{"contract drop", "-- latchkey: contract\nALTER TABLE users DROP COLUMN x;", migration.Postgres, "", false, false},
		{"comment mentions drop", "-- latchkey: expand\n-- we never DROP COLUMN here\nALTER TABLE users ADD COLUMN y int;", migration.Postgres, "", true, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := migration.Parse(c.d, "0099_x.sql", c.body)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("Parse error = %v, want one containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if m.SafeWhileServing() != c.safe {
				t.Errorf("SafeWhileServing = %v, want %v (unsafe: %v)", m.SafeWhileServing(), c.safe, m.Unsafe)
			}
			if m.Concurrent != c.concurrent {
				t.Errorf("Concurrent = %v, want %v", m.Concurrent, c.concurrent)
			}
		})
	}
}
