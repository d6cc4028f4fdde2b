package postgres_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/postgres"
	"github.com/latchkey/latchkey/internal/store/postgres/pgtest"
)

// proxy forwards TCP connections to the database, and can be taken down
// (listener closed, every connection cut) and brought back on the same
// address: a database outage the test controls.
type proxy struct {
	target, addr string
	mu           sync.Mutex
	ln           net.Listener
	conns        []net.Conn
}

// startProxy listens on a free local port and forwards to target.
func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{target: target, addr: ln.Addr().String(), ln: ln}
	go p.serve(ln)
	t.Cleanup(p.down)
	return p
}

// serve accepts connections on ln until it is closed.
func (p *proxy) serve(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		d, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, d)
		p.mu.Unlock()
		go func() { _, _ = io.Copy(d, c); d.Close() }()
		go func() { _, _ = io.Copy(c, d); c.Close() }()
	}
}

// down stops listening and cuts every forwarded connection.
func (p *proxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ln.Close()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// up listens again on the same address.
func (p *proxy) up(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go p.serve(ln)
}

// viaProxy returns dsn (a URL) pointing at a proxy in front of its server.
func viaProxy(t *testing.T, dsn string) (string, *proxy) {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil || u.Host == "" {
		t.Skipf("%s is not a postgres:// URL with a host", pgtest.EnvDSN)
	}
	p := startProxy(t, u.Host)
	u.Host = p.addr
	return u.String(), p
}

// wantUnavailable fails unless err matches store.ErrUnavailable.
func wantUnavailable(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("%s: got %v, want an error matching store.ErrUnavailable", what, err)
	}
}

// TestOutageIsUnavailable takes the database away under an open Store:
// every kind of call (read, write, transaction, ping) reports
// store.ErrUnavailable, so the server answers 503, and the pool reconnects
// by itself once the database is back.
func TestOutageIsUnavailable(t *testing.T) {
	dsn, p := viaProxy(t, pgtest.DSN(t))
	opts := postgres.Options{MaxConns: 4, ConnectTimeout: time.Second, QueryTimeout: 5 * time.Second}
	s, err := postgres.Open(t.Context(), dsn, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	must(t, s.CreateClient(ctx, store.Client{ID: "app"}))
	must(t, s.CreateUser(ctx, store.User{ID: "u1", Username: "alice"}))

	p.down()
	_, err = s.GetClient(ctx, "app")
	wantUnavailable(t, "GetClient during the outage", err)
	wantUnavailable(t, "Ping during the outage", s.Ping(ctx))
	g := store.Grant{ID: "g", ClientID: "app", UserID: "u1", CreatedAt: now}
	wantUnavailable(t, "RedeemAuthCode during the outage", s.RedeemAuthCode(ctx, "code", now, store.Issue{Grant: &g}))
	wantUnavailable(t, "SaveIssue during the outage", s.SaveIssue(ctx, store.Issue{Grant: &g}))
	_, err = s.RotateRefreshToken(ctx, store.Rotation{OldDigest: "rt", ClientID: "app", Now: now})
	wantUnavailable(t, "RotateRefreshToken during the outage", err)
	_, err = postgres.Open(ctx, dsn, opts)
	wantUnavailable(t, "Open during the outage", err)

	p.up(t)
	if _, err := s.GetClient(ctx, "app"); err != nil {
		t.Fatalf("GetClient once the database is back: %v", err)
	}
	must(t, s.SaveIssue(ctx, store.Issue{Grant: &g}))
}

// TestTerminatedBackends kills the Store's server processes from another
// session, as a failover or an administrator does: a call that meets a dead
// connection reports store.ErrUnavailable, and the next call gets a fresh
// connection.
func TestTerminatedBackends(t *testing.T) {
	const app = "latchkey_terminate_test"
	dsn := pgtest.WithParam(pgtest.DSN(t), "application_name", app)
	s := open(t, dsn)
	ctx := t.Context()
	must(t, s.CreateClient(ctx, store.Client{ID: "app"}))

	admin, err := pgx.Connect(ctx, pgtest.BaseDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	var killed int
	const kill = `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`
	if err := admin.QueryRow(ctx, kill, app).Scan(&killed); err != nil {
		t.Fatal(err)
	}
	if killed == 0 {
		t.Fatal("no backend of the store to terminate")
	}

	_, err = s.GetClient(ctx, "app")
	if err != nil {
		wantUnavailable(t, "GetClient on a terminated connection", err)
	}
	t.Logf("first call after terminating %d backends: %v", killed, err)
	for range 5 { // one per connection that may still be dead in the pool
		if _, err = s.GetClient(ctx, "app"); err == nil {
			break
		}
		wantUnavailable(t, "GetClient on a terminated connection", err)
	}
	if err != nil {
		t.Fatalf("the pool did not recover: %v", err)
	}
}

// TestQueryTimeout holds a lock that RedeemAuthCode needs: the call gives
// up after Options.QueryTimeout with store.ErrUnavailable instead of
// hanging, and a caller's own deadline takes precedence.
func TestQueryTimeout(t *testing.T) {
	dsn := pgtest.DSN(t)
	s, err := postgres.Open(t.Context(), dsn, postgres.Options{QueryTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	must(t, s.CreateClient(ctx, store.Client{ID: "app"}))
	must(t, s.CreateUser(ctx, store.User{ID: "u1", Username: "alice"}))
	must(t, s.CreateAuthCode(ctx, store.AuthCode{Digest: "code", ClientID: "app", UserID: "u1",
		CreatedAt: now, ExpiresAt: now.Add(time.Minute)}))

	other, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(ctx)
	tx, err := other.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "SELECT 1 FROM auth_codes WHERE digest = 'code' FOR UPDATE"); err != nil {
		t.Fatal(err)
	}

	g := store.Grant{ID: "g", ClientID: "app", UserID: "u1", CreatedAt: now}
	start := time.Now()
	err = s.RedeemAuthCode(context.Background(), "code", now, store.Issue{Grant: &g})
	wantUnavailable(t, "RedeemAuthCode blocked past the query timeout", err)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("RedeemAuthCode gave up after %v, want about 200ms", d)
	}

	// A deadline of the caller's own wins over the query timeout.
	deadline, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	released := make(chan struct{})
	go func() {
		defer close(released)
		time.Sleep(500 * time.Millisecond)
		_ = tx.Rollback(ctx)
	}()
	err = s.RedeemAuthCode(deadline, "code", now, store.Issue{Grant: &g})
	<-released
	must(t, err)
}

func TestClosedIsUnavailable(t *testing.T) {
	s, err := postgres.Open(t.Context(), pgtest.DSN(t), testOptions())
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	wantUnavailable(t, "Ping after Close", s.Ping(t.Context()))
	_, err = s.GetClient(t.Context(), "x")
	wantUnavailable(t, "GetClient after Close", err)
}
