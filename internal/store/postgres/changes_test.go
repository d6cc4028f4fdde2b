package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/postgres"
	"github.com/latchkey/latchkey/internal/store/postgres/pgtest"
)

// watch runs a.WatchChanges until the test ends and returns a channel
// that receives a value per call of changed, and one of failures.
func watch(t *testing.T, w store.ChangeWatcher) (<-chan struct{}, <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	changed, failed, done := make(chan struct{}, 64), make(chan error, 64), make(chan struct{})
	go func() {
		defer close(done)
		w.WatchChanges(ctx, func() { changed <- struct{}{} }, func(err error) { failed <- err })
	}()
	t.Cleanup(func() { cancel(); <-done })
	return changed, failed
}

// heard waits up to 5 s for a call of changed.
func heard(t *testing.T, changed <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-changed:
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: no announcement within 5 s", what)
	}
}

// quiet checks that changed is not called for a moment.
func quiet(t *testing.T, changed <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-changed:
		t.Fatalf("%s: announced, want nothing", what)
	case <-time.After(300 * time.Millisecond):
	}
}

// TestWatchChangesHearsEveryInstance: every revocation and every change to
// a client or user committed through one store reaches a watcher on
// another store of the same schema, and none from another schema; a lost
// listening connection is reported and opened again.
func TestWatchChangesHearsEveryInstance(t *testing.T) {
	dsn := pgtest.DSN(t)
	a, b := open(t, dsn), open(t, dsn)
	elsewhere := open(t, pgtest.DSN(t))
	changed, failed := watch(t, a)
	heard(t, changed, "start of listening")

	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Millisecond)
	client := store.Client{ID: "c1", Name: "C1", SecretHash: "sha256:x", GrantTypes: []string{"client_credentials"},
		Scopes: []string{"read"}, CreatedAt: now, UpdatedAt: now}
	if err := b.CreateClient(ctx, client); err != nil {
		t.Fatal(err)
	}
	user := store.User{ID: "u1", Username: "alice", PasswordHash: "x", CreatedAt: now, UpdatedAt: now}
	if err := b.CreateUser(ctx, user); err != nil {
		t.Fatal(err)
	}
	quiet(t, changed, "creating a client and a user") // nothing cached can be stale
	for _, step := range []struct {
		what string
		do   func() error
	}{
		{"RevokeJTI", func() error { return b.RevokeJTI(ctx, "jti-1", now.Add(time.Hour)) }},
		{"RevokeGrant", func() error { return b.RevokeGrant(ctx, "grant-1", now) }},
		{"SetClientSecret", func() error { return b.SetClientSecret(ctx, "c1", "sha256:y", now) }},
		{"UpsertClient", func() error { return b.UpsertClient(ctx, client) }},
		{"DeleteClient", func() error { return b.DeleteClient(ctx, "c1") }},
		{"DeleteUser", func() error { return b.DeleteUser(ctx, "u1") }},
	} {
		if err := step.do(); err != nil {
			t.Fatalf("%s: %v", step.what, err)
		}
		heard(t, changed, step.what)
	}

	if err := elsewhere.RevokeJTI(ctx, "jti-2", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	quiet(t, changed, "a revocation in another schema")

	// Cut the listening connection: the watcher reports it, listens again
	// (announcing once, as it may have missed something) and hears on.
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var schema string
	if err := conn.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		t.Fatal(err)
	}
	tag, err := conn.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE query LIKE 'LISTEN %' AND strpos(query, $1) > 0`, postgres.ChangesChannel(schema))
	if err != nil || tag.RowsAffected() == 0 {
		t.Fatalf("terminate the listener: %v (%d rows)", err, tag.RowsAffected())
	}
	select {
	case err := <-failed:
		t.Logf("reported: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("the lost listening connection was not reported")
	}
	heard(t, changed, "listening again")
	if err := b.RevokeJTI(ctx, "jti-3", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	heard(t, changed, "RevokeJTI after the reconnection")
}
