// Package migration reads the declarations of Latchkey's schema migrations
// and checks each against its statements, so that a release's migrations
// never break the previous release running on the same database
// (expand/contract, docs/upgrading.md).
//
// A migration declares itself in a header comment line:
//
//	-- latchkey: expand
//	-- latchkey: contract
//
// An expand migration only adds what an older binary ignores: new tables,
// nullable or defaulted columns, and on PostgreSQL indexes built
// CONCURRENTLY (or on tables the migration itself creates). A contract
// migration drops, renames, retypes or tightens, and may run only once no
// instance of a release that reads the old shape is serving. Migrations
// shipped before this rule that built plain indexes on small existing
// tables say so with "-- latchkey: plain-index".
package migration

import (
	"fmt"
	"regexp"
	"strings"
)

// Dialect is the SQL dialect a migration is written in.
type Dialect string

// The dialects Latchkey stores use.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// Kind is what a migration declares itself to be.
type Kind string

// The two kinds of expand/contract.
const (
	Expand   Kind = "expand"
	Contract Kind = "contract"
)

// Migration is one migration file, parsed.
type Migration struct {
	Name string
	Kind Kind
	// Concurrent is true when it builds an index CONCURRENTLY, which
	// PostgreSQL refuses inside a transaction: it runs statement by
	// statement instead.
	Concurrent bool
	// Statements are its SQL statements without comments.
	Statements []string
	// Unsafe lists the statements that would break the previous release
	// while it serves, with why.
	Unsafe     []string
	plainIndex bool
}

// SafeWhileServing reports whether the migration may run while the
// previous release serves on the same database.
func (m Migration) SafeWhileServing() bool {
	return m.Kind == Expand && len(m.Unsafe) == 0
}

var declRE = regexp.MustCompile(`(?m)^--\s*latchkey:\s*([a-z-]+)\s*(?:\(.*\))?\s*$`)

// Parse reads migration name of dialect d and classifies its statements.
// It fails when the declaration is missing or unknown, or when an expand
// migration holds a statement that only a contract migration may.
func Parse(d Dialect, name, body string) (Migration, error) {
	m := Migration{Name: name}
	for _, sub := range declRE.FindAllStringSubmatch(body, -1) {
		switch Kind(sub[1]) {
		case Expand, Contract:
			if m.Kind != "" {
				return m, fmt.Errorf("migration %s: declared twice", name)
			}
			m.Kind = Kind(sub[1])
		default:
			if sub[1] == "plain-index" {
				m.plainIndex = true
				continue
			}
			return m, fmt.Errorf("migration %s: unknown declaration %q", name, sub[1])
		}
	}
	if m.Kind == "" {
		return m, fmt.Errorf("migration %s: no declaration: add a header line \"-- latchkey: expand\" or \"-- latchkey: contract\"", name)
	}
	m.Statements = statements(body)
	created := map[string]bool{}
	for _, st := range m.Statements {
		if t := createdTable.FindStringSubmatch(st); t != nil {
			created[strings.ToLower(t[1])] = true
		}
	}
	for _, st := range m.Statements {
		if why := unsafe(d, st, created, m.plainIndex); why != "" {
			m.Unsafe = append(m.Unsafe, why+": "+firstLine(st))
		}
		if concurrently.MatchString(st) {
			m.Concurrent = true
		}
	}
	if m.Kind == Expand && len(m.Unsafe) > 0 {
		return m, fmt.Errorf("migration %s: declared expand but %s", name, strings.Join(m.Unsafe, "; "))
	}
	if m.Concurrent {
		if d != Postgres {
			return m, fmt.Errorf("migration %s: CONCURRENTLY is PostgreSQL only", name)
		}
		for _, st := range m.Statements {
			if !concurrentIfNotExists.MatchString(st) {
				return m, fmt.Errorf("migration %s: runs outside a transaction (CONCURRENTLY), so every statement must be CREATE [UNIQUE] INDEX CONCURRENTLY IF NOT EXISTS: %s", name, firstLine(st))
			}
		}
	}
	return m, nil
}

var (
	createdTable          = regexp.MustCompile(`(?is)^CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?"?(\w+)`)
	createIndex           = regexp.MustCompile(`(?is)^CREATE\s+(?:UNIQUE\s+)?INDEX\s+(CONCURRENTLY\s+)?(?:IF\s+NOT\s+EXISTS\s+)?\w+\s+ON\s+(?:ONLY\s+)?"?(\w+)`)
	concurrently          = regexp.MustCompile(`(?i)\bCONCURRENTLY\b`)
	concurrentIfNotExists = regexp.MustCompile(`(?is)^CREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\s+IF\s+NOT\s+EXISTS\s`)
	drop                  = regexp.MustCompile(`(?i)\bDROP\s+(TABLE|COLUMN|INDEX|CONSTRAINT|VIEW|TRIGGER|DEFAULT)\b`)
	rename                = regexp.MustCompile(`(?i)\bRENAME\b`)
	retype                = regexp.MustCompile(`(?i)\bALTER\s+COLUMN\s+\S+\s+(SET\s+DATA\s+)?TYPE\b`)
	setNotNull            = regexp.MustCompile(`(?i)\bSET\s+NOT\s+NULL\b`)
	addColumn             = regexp.MustCompile(`(?is)\bADD\s+(?:COLUMN\s+)?(?:IF\s+NOT\s+EXISTS\s+)?\w+[^,]*`)
	notNull               = regexp.MustCompile(`(?i)\bNOT\s+NULL\b`)
	hasDefault            = regexp.MustCompile(`(?i)\bDEFAULT\b`)
	addConstraint         = regexp.MustCompile(`(?i)\bADD\s+(CONSTRAINT|PRIMARY\s+KEY|UNIQUE|CHECK|FOREIGN\s+KEY)\b`)
)

// unsafe says why statement st would break the previous release while it
// serves, or "" when it would not.
func unsafe(d Dialect, st string, created map[string]bool, plainIndex bool) string {
	switch {
	case drop.MatchString(st):
		return "drops what the previous release may read"
	case rename.MatchString(st):
		return "renames what the previous release reads"
	case retype.MatchString(st):
		return "changes a column's type"
	case setNotNull.MatchString(st):
		return "makes a column NOT NULL, which the previous release may not fill"
	case addConstraint.MatchString(st):
		return "adds a constraint that the previous release's writes may break"
	}
	if strings.HasPrefix(strings.ToUpper(st), "ALTER TABLE") {
		for _, col := range addColumn.FindAllString(st, -1) {
			if notNull.MatchString(col) && !hasDefault.MatchString(col) {
				return "adds a NOT NULL column without a default, which the previous release's inserts lack"
			}
		}
	}
	if ix := createIndex.FindStringSubmatch(st); ix != nil && d == Postgres {
		if ix[1] == "" && !created[strings.ToLower(ix[2])] && !plainIndex {
			return "builds an index without CONCURRENTLY on an existing table, which blocks its writes"
		}
	}
	return ""
}

// statements splits body into its SQL statements, without comments. The
// migrations use no dollar quoting or semicolons inside strings.
func statements(body string) []string {
	var b strings.Builder
	for line := range strings.SplitSeq(body, "\n") {
		if i := strings.Index(line, "--"); i >= 0 {
			line = line[:i]
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	var out []string
	for st := range strings.SplitSeq(b.String(), ";") {
		if st = strings.TrimSpace(st); st != "" {
			out = append(out, st)
		}
	}
	return out
}

func firstLine(st string) string {
	line, _, _ := strings.Cut(st, "\n")
	return strings.TrimSpace(line)
}
