// Package pgtest gives tests a PostgreSQL schema of their own. Tests that
// need the database call DSN: it skips the test when no server answers
// (fails it under CI=true, where a missing database is a broken pipeline),
// and otherwise creates a fresh schema that is dropped when the test ends.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvDSN names the variable holding the DSN of the test database.
const EnvDSN = "LATCHKEY_TEST_POSTGRES_DSN"

// DefaultDSN is the test database used when EnvDSN is not set: a local
// server with trust authentication, as in the development setup.
const DefaultDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// connectTimeout bounds the check that the server is there.
const connectTimeout = 5 * time.Second

// BaseDSN returns the DSN of the test database itself, from EnvDSN or
// DefaultDSN.
func BaseDSN() string {
	if dsn := os.Getenv(EnvDSN); dsn != "" {
		return dsn
	}
	return DefaultDSN
}

// DSN creates a schema named lk_test_<random> in the test database and
// returns a DSN whose search_path is that schema; the schema and everything
// in it are dropped when t ends (close what uses it in a t.Cleanup
// registered after DSN, so that it runs first). When the database cannot
// be reached, DSN skips t, or fails it when CI=true.
func DSN(t testing.TB) string {
	t.Helper()
	base := BaseDSN()
	ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		msg := "PostgreSQL not reachable at " + redact(base) + "; set " + EnvDSN + ": " + err.Error()
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	defer conn.Close(context.Background())

	schema := "lk_test_" + randomHex(8)
	ident := pgx.Identifier{schema}.Sanitize()
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+ident); err != nil {
		t.Fatalf("pgtest: create schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("pgtest: drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+ident+" CASCADE"); err != nil {
			t.Errorf("pgtest: drop schema %s: %v", schema, err)
		}
	})
	return WithParam(base, "search_path", schema)
}

// WithParam returns dsn with the connection or runtime parameter name set
// to value, in the URL or keyword/value form that dsn has. Value must not
// need quoting in the keyword/value form.
func WithParam(dsn, name, value string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		if u, err := url.Parse(dsn); err == nil {
			q := u.Query()
			q.Set(name, value)
			u.RawQuery = q.Encode()
			return u.String()
		}
	}
	return dsn + " " + name + "=" + value
}

// redact hides the password of a URL DSN.
func redact(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" {
		return u.Redacted()
	}
	return "the DSN in " + EnvDSN
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}
