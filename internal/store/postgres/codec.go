package postgres

import (
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// The column codecs below let rows scan straight into store records: pgx
// hands each one its decoded value without going through database/sql.

// ts is t as a timestamptz parameter: the zero time is NULL.
func ts(t time.Time) pgtype.Timestamptz {
	return pgtype.Timestamptz{Time: t, Valid: !t.IsZero()}
}

// tsCol scans a timestamptz (NULL as the zero time) into a UTC time.
type tsCol struct{ t *time.Time }

// ScanTimestamptz implements pgtype.TimestamptzScanner.
func (c tsCol) ScanTimestamptz(v pgtype.Timestamptz) error {
	if !v.Valid {
		*c.t = time.Time{}
		return nil
	}
	*c.t = v.Time.UTC()
	return nil
}

// optText is s as a text parameter: "" is NULL (optional references such as a
// grant's user).
func optText(s string) pgtype.Text {
	return pgtype.Text{String: s, Valid: s != ""}
}

// textCol scans text (NULL as "") into a string.
type textCol struct{ s *string }

// ScanText implements pgtype.TextScanner.
func (c textCol) ScanText(v pgtype.Text) error {
	*c.s = v.String
	return nil
}

// list is l as a text[] parameter: never NULL, '{}' when empty.
func list(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// listCol scans a text[] into a list; an empty array (or NULL) gives nil,
// as in the SQLite store.
type listCol struct{ l *[]string }

// SetDimensions implements pgtype.ArraySetter.
func (c listCol) SetDimensions(dims []pgtype.ArrayDimension) error {
	n := 0
	for i, d := range dims {
		if i == 0 {
			n = 1
		}
		n *= int(d.Length)
	}
	if n == 0 {
		*c.l = nil
		return nil
	}
	*c.l = make([]string, n)
	return nil
}

// ScanIndex implements pgtype.ArraySetter.
func (c listCol) ScanIndex(i int) any { return &(*c.l)[i] }

// ScanIndexType implements pgtype.ArraySetter.
func (c listCol) ScanIndexType() any { return new(string) }

// claims is m as a jsonb parameter: never NULL, {} when empty.
func claims(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

// blob keeps a nil slice from becoming NULL in a NOT NULL bytea column.
func blob(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// words joins a short list of tokens without spaces (amr values) by spaces.
func words(l []string) string { return strings.Join(l, " ") }

// wordsCol scans a space-separated text into a list; "" gives nil.
type wordsCol struct{ l *[]string }

// ScanText implements pgtype.TextScanner.
func (c wordsCol) ScanText(v pgtype.Text) error {
	*c.l = nil
	if f := strings.Fields(v.String); len(f) > 0 {
		*c.l = f
	}
	return nil
}
