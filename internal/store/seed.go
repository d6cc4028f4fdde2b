package store

import (
	"context"
	"fmt"
	"regexp"
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
