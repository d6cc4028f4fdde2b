package store

import (
	"context"
	"fmt"
	"regexp"
	"strings"
)

// SeedValue says what a cloned row holds in one column (Seeder): Prefix
// followed by the row's number i, or by i % Mod when Mod is positive, or,
// with Random, 32 random hex digits.
type SeedValue struct {
	Prefix string
	Mod    int64
	Random bool
}

// seedPrefix is what a SeedValue's Prefix may hold: it is written into the
// SQL as a literal.
var seedPrefix = regexp.MustCompile(`^[a-z0-9._:-]*$`)

// Check returns an error when v cannot be written into SQL safely.
func (v SeedValue) Check() error {
	if !seedPrefix.MatchString(v.Prefix) || v.Mod < 0 {
		return fmt.Errorf("store: seed value %+v: prefix of [a-z0-9._:-] and a modulus ≥ 0 only", v)
	}
	return nil
}

// Seeder fills a database for the scale measurements (latchkey bench
// seed): rows by the million, by cloning a row that the Store's own
// methods wrote, so every column holds what Latchkey would write.
type Seeder interface {
	// CloneRows inserts rows from..to-1 into table, in one statement: each
	// a copy of the row whose keyColumn is key, with the columns of set
	// replaced, and the number of the row as i.
	CloneRows(ctx context.Context, table, keyColumn, key string, set map[string]SeedValue, from, to int64) error
	// Analyze refreshes the planner's statistics after a seeding.
	Analyze(ctx context.Context) error
}

// SeedDialect is how a backend's SQL writes a SeedValue for the row
// number seq.i: Random, and Number for a prefix and modulus (0: none).
type SeedDialect struct {
	Random string
	Number func(prefix string, mod int64) string
}

// SeedSelect returns the column list and the SELECT list of a Seeder's
// INSERT … SELECT: each of cols copied from the row aliased t, those in
// set written as d says.
func SeedSelect(cols []string, set map[string]SeedValue, d SeedDialect) (names, exprs string, err error) {
	n := make([]string, len(cols))
	e := make([]string, len(cols))
	for i, c := range cols {
		n[i] = `"` + c + `"`
		e[i] = `t."` + c + `"`
		v, ok := set[c]
		if !ok {
			continue
		}
		if err := v.Check(); err != nil {
			return "", "", err
		}
		if v.Random {
			e[i] = d.Random
		} else {
			e[i] = d.Number(v.Prefix, v.Mod)
		}
	}
	return strings.Join(n, ", "), strings.Join(e, ", "), nil
}
