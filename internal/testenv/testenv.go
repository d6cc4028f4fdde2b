// Package testenv starts a complete Latchkey — SQLite store in a temporary
// directory, real signing keys, the real HTTP handler — on a loopback
// listener, for tests of the server, the bearer package and the CLI; and
// builds the real latchkey program once for the tests that run it as a
// process (Binary). The helpers that need no Latchkey are in
// internal/testkit.
package testenv

import (
	"context"
	"crypto/rand"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/keys"
	"github.com/latchkey/latchkey/internal/password"
	"github.com/latchkey/latchkey/internal/protocol"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/readcache"
	"github.com/latchkey/latchkey/internal/store/sqlite"
	"github.com/latchkey/latchkey/internal/store/storetrace"
	"github.com/latchkey/latchkey/internal/testkit"
	"github.com/latchkey/latchkey/internal/token"
)

// Env is a running Latchkey.
type Env struct {
	// URL is the issuer: the test server's http://127.0.0.1:PORT, or
	// http://localhost:PORT with Options.Localhost.
	URL     string
	Server  *httptest.Server
	Store   store.Store
	Keys    *keys.Manager
	Config  server.Config
	Clock   *Clock
	Logs    *Buffer
	Metrics *prometheus.Registry
	Secret  []byte
}

// Options adjust the environment.
type Options struct {
	// Configure edits the server's configuration before it is built: the
	// defaults, with the test server's issuer and FastHashing.
	Configure func(*server.Config)
	// Store replaces the default SQLite store (e.g. PostgreSQL).
	Store store.Store
	// CacheTTL is the read cache's lifetime (database.cache_ttl): 0 means
	// the configuration file's default, NoCache turns it off.
	CacheTTL time.Duration
	NoCache  bool
	// Mount, when set, wraps the server's handler before the test server
	// starts (to serve the admin API beside it); it gets the environment
	// (URL, Store, Keys, Clock are set), the store as the server sees it,
	// the server and its handler.
	Mount func(e *Env, served server.Store, srv *server.Server, h http.Handler) http.Handler
	// Tracing, when set, traces the server as serve does with tracing on:
	// requests and signing, and the store's calls (storetrace, under the
	// read cache).
	Tracing trace.TracerProvider
	// Localhost names the issuer http://localhost:PORT: a WebAuthn relying
	// party id must be a domain name, never an IP address, so passkeys
	// work only then.
	Localhost bool
}

// FastHashing are argon2id parameters cheap enough for tests.
func FastHashing() password.Params {
	return password.Params{MemoryKiB: 8 * 1024, Iterations: 1, Parallelism: 1}
}

// New starts a Latchkey for the test and stops it when the test ends.
func New(t testing.TB, opts Options) *Env {
	t.Helper()
	ctx := context.Background()
	e := &Env{Clock: &Clock{}, Logs: &Buffer{}, Metrics: prometheus.NewRegistry(), Secret: []byte("test-system-secret-of-32-bytes!!")}
	e.Store = opts.Store
	if e.Store == nil {
		st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "latchkey.db"))
		if err != nil {
			t.Fatalf("open sqlite: %v", err)
		}
		t.Cleanup(func() { st.Close() })
		e.Store = st
	}
	e.Server = httptest.NewUnstartedServer(nil)
	e.URL = "http://" + e.Server.Listener.Addr().String()
	if opts.Localhost {
		e.URL = "http://localhost:" + strings.TrimPrefix(e.Server.Listener.Addr().String(), "127.0.0.1:")
	}
	cfg := server.DefaultConfig()
	cfg.Issuer = e.URL
	cfg.Passwords = FastHashing()
	if opts.Configure != nil {
		opts.Configure(&cfg)
	}
	e.Config = cfg
	log := slog.New(slog.NewJSONHandler(e.Logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	km, err := keys.NewManager(e.Store, e.Secret, keys.Options{
		ActivationDelay: cfg.KeyActivationDelay, Retention: cfg.AccessTokenTTL + time.Hour,
		Now: e.Clock.Now, Rand: rand.Reader, Logger: log,
	})
	if err != nil {
		t.Fatalf("key manager: %v", err)
	}
	if err := km.Init(ctx); err != nil {
		t.Fatalf("keys: %v", err)
	}
	e.Keys = km
	served := e.readCache(opts)
	srv, h, err := server.NewServer(server.Deps{
		Config: cfg, Store: served, Keys: km, Logger: log, Metrics: e.Metrics,
		SystemSecret: e.Secret, Now: e.Clock.Now, Rand: rand.Reader, Tracing: opts.Tracing,
	})
	if err != nil {
		t.Fatalf("server: %v", err)
	}
	if opts.Mount != nil {
		h = opts.Mount(e, served, srv, h)
	}
	e.Server.Config.Handler = h
	e.Server.Start()
	t.Cleanup(e.Server.Close)
	return e
}

// readCache is the store as the server sees it: behind the read cache of
// database.cache_ttl, on the test's clock. Env.Store stays the store
// itself, so a change a test makes there is one made "elsewhere".
func (e *Env) readCache(opts Options) server.Store {
	var st store.Store = e.Store
	if opts.Tracing != nil {
		system := "sqlite"
		if _, ok := st.(*sqlite.Store); !ok {
			system = "postgresql" // the one other backend
		}
		st = storetrace.New(st, opts.Tracing, system)
	}
	if opts.NoCache {
		return st
	}
	ttl := opts.CacheTTL
	if ttl == 0 {
		ttl = config.Default().Database.CacheTTL.D()
	}
	return readcache.New(st, readcache.Options{TTL: ttl, Now: e.Clock.Now})
}

// AddClient stores c with a generated secret and returns the secret; a
// public client, or one registered with a method that uses no secret
// (private_key_jwt), gets none and "" is returned.
func (e *Env) AddClient(t testing.TB, c store.Client) string {
	t.Helper()
	var secret string
	method := protocol.AuthMethod(c.TokenEndpointAuthMethod)
	if !c.Public && (method == "" || method.UsesSecret()) {
		var err error
		if secret, _, err = token.New(token.PrefixClientSecret, rand.Reader); err != nil {
			t.Fatal(err)
		}
		c.SecretHash = token.HashSecret(secret)
	}
	if c.Name == "" {
		c.Name = c.ID
	}
	c.Source = "cli"
	c.CreatedAt, c.UpdatedAt = e.Clock.Now(), e.Clock.Now()
	if err := e.Store.CreateClient(context.Background(), c); err != nil {
		t.Fatalf("create client %s: %v", c.ID, err)
	}
	return secret
}

// AddClientWithSecret stores c with an argon2id hash of a chosen secret,
// as a client from the config file would be.
func (e *Env) AddClientWithSecret(t testing.TB, c store.Client, secret string) {
	t.Helper()
	h, err := password.Hash(secret, FastHashing(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	c.SecretHash = h
	if c.Name == "" {
		c.Name = c.ID
	}
	c.Source = "config"
	c.CreatedAt, c.UpdatedAt = e.Clock.Now(), e.Clock.Now()
	if err := e.Store.CreateClient(context.Background(), c); err != nil {
		t.Fatalf("create client %s: %v", c.ID, err)
	}
}

// AddUser stores a user with password and claims and returns it.
func (e *Env) AddUser(t testing.TB, username, pw string, claims map[string]any) store.User {
	t.Helper()
	h, err := password.Hash(pw, FastHashing(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, _, err := token.New("", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	u := store.User{ID: id[:22], Username: username, PasswordHash: h, Claims: claims, Source: "cli",
		CreatedAt: e.Clock.Now(), UpdatedAt: e.Clock.Now()}
	if err := e.Store.CreateUser(context.Background(), u); err != nil {
		t.Fatalf("create user %s: %v", username, err)
	}
	return u
}

// Clock is the server's clock: real time plus an offset that tests
// advance to reach expiry without sleeping.
type Clock struct {
	mu     sync.Mutex
	offset time.Duration
}

// Now is time.Now plus the offset.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

// Buffer is the concurrency-safe buffer that holds the server's logs.
type Buffer = testkit.Buffer
