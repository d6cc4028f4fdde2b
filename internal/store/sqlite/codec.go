package sqlite

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// scanner is a *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

// msOf converts t to unix milliseconds, or NULL for the zero time.
func msOf(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMilli()
}

// timeCol scans unix milliseconds (or NULL, the zero time) into a UTC time.
type timeCol struct{ t *time.Time }

// Scan implements sql.Scanner.
func (c timeCol) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c.t = time.Time{}
	case int64:
		*c.t = time.UnixMilli(v).UTC()
	default:
		return fmt.Errorf("time column: unexpected %T", src)
	}
	return nil
}

// nullOf stores "" as NULL (optional references such as a grant's user).
func nullOf(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// textCol scans TEXT or NULL ("") into a string.
type textCol struct{ s *string }

// Scan implements sql.Scanner.
func (c textCol) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c.s = ""
	case string:
		*c.s = v
	case []byte:
		*c.s = string(v)
	default:
		return fmt.Errorf("text column: unexpected %T", src)
	}
	return nil
}

// listOf encodes a list as a JSON array ("[]" when empty).
func listOf(l []string) string {
	if len(l) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(l) // a []string always marshals
	return string(b)
}

// listCol scans a JSON array into a list; an empty array gives nil.
type listCol struct{ l *[]string }

// Scan implements sql.Scanner.
func (c listCol) Scan(src any) error {
	return scanJSON(src, func(b []byte) error {
		var l []string
		if err := json.Unmarshal(b, &l); err != nil {
			return fmt.Errorf("list column: %w", err)
		}
		if len(l) == 0 {
			l = nil
		}
		*c.l = l
		return nil
	})
}

// claimsOf encodes user claims as a JSON object ("{}" when empty).
func claimsOf(m map[string]any) (string, error) {
	if len(m) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("encode claims: %w", err)
	}
	return string(b), nil
}

// claimsCol scans a JSON object into claims; an empty object gives nil.
type claimsCol struct{ m *map[string]any }

// Scan implements sql.Scanner.
func (c claimsCol) Scan(src any) error {
	return scanJSON(src, func(b []byte) error {
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			return fmt.Errorf("claims column: %w", err)
		}
		if len(m) == 0 {
			m = nil
		}
		*c.m = m
		return nil
	})
}

// scanJSON hands the bytes of a TEXT or BLOB column to decode.
func scanJSON(src any, decode func([]byte) error) error {
	switch v := src.(type) {
	case string:
		return decode([]byte(v))
	case []byte:
		return decode(v)
	case nil:
		return decode([]byte("null"))
	default:
		return fmt.Errorf("json column: unexpected %T", src)
	}
}

// wordsOf joins a short list of tokens without spaces (amr values) by
// spaces.
func wordsOf(l []string) string { return strings.Join(l, " ") }

// wordsCol scans a space-separated TEXT into a list; "" gives nil.
type wordsCol struct{ l *[]string }

// Scan implements sql.Scanner.
func (c wordsCol) Scan(src any) error {
	var s string
	switch v := src.(type) {
	case nil:
	case string:
		s = v
	case []byte:
		s = string(v)
	default:
		return fmt.Errorf("words column: unexpected %T", src)
	}
	*c.l = nil
	if f := strings.Fields(s); len(f) > 0 {
		*c.l = f
	}
	return nil
}
