package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/latchkey/latchkey/internal/audit"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/term"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/keys"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/postgres"
	"github.com/latchkey/latchkey/internal/store/sqlite"
)

// configFlags are the flags every command that opens the store shares.
type configFlags struct {
	path    string
	listen  string
	issuer  string
	storage string
}

func (c *configFlags) register(fs flagRegistrar) {
	fs.StringVar(&c.path, "config", "", "YAML configuration `file` (default: none; LATCHKEY_CONFIG)")
	fs.StringVar(&c.listen, "listen", "", "`address` to listen on (default 127.0.0.1:8080)")
	fs.StringVar(&c.issuer, "issuer", "", "issuer `URL` (default http://<listen>)")
	fs.StringVar(&c.storage, "storage", "", "storage `URL`: sqlite://PATH or postgres://... (default sqlite://latchkey.db)")
}

// load reads the configuration: defaults, then the file, then LATCHKEY_*
// variables, then flags; and validates the result.
func (c *configFlags) load(e env) (config.Config, error) {
	path := c.path
	if path == "" {
		path = e.getenv("LATCHKEY_CONFIG")
	}
	cfg, err := config.Load(path, e.getenv, rules())
	if err != nil {
		return cfg, err
	}
	if c.listen != "" {
		cfg.Listen = c.listen
	}
	if c.issuer != "" {
		cfg.Issuer = c.issuer
	}
	if c.storage != "" {
		cfg.Storage = config.StorageURL(c.storage)
	}
	return cfg, cfg.Validate(rules())
}

// newLogger logs text on a terminal and JSON otherwise.
func newLogger(cfg config.Config, w io.Writer) *slog.Logger { return newLoggerOn(cfg, w, w) }

// newLoggerOn logs to out in the format chosen for w (text when w is a
// terminal, with log.format auto).
func newLoggerOn(cfg config.Config, w, out io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Log.Level))
	opts := &slog.HandlerOptions{Level: level}
	format := cfg.Log.Format
	if format == "auto" || format == "" {
		format = "json"
		if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			format = "text"
		}
	}
	if format == "text" {
		return slog.New(slog.NewTextHandler(out, opts))
	}
	return slog.New(slog.NewJSONHandler(out, opts))
}

// sqlitePath returns the file of a sqlite:// storage URL, or "".
func sqlitePath(storage config.StorageURL) string {
	if p, ok := strings.CutPrefix(storage.Reveal(), "sqlite://"); ok {
		return p
	}
	return ""
}

// openStore opens the configured backend and brings its schema up to date.
func openStore(ctx context.Context, cfg config.Config) (store.Store, []string, error) {
	return openTracedStore(ctx, cfg, nil)
}

// openTracedStore is openStore whose PostgreSQL queries are spans of tp
// (otelpgx) when tp is set. SQLite's calls are traced a level up, by
// storetrace.
func openTracedStore(ctx context.Context, cfg config.Config, tp trace.TracerProvider) (store.Store, []string, error) {
	if p := sqlitePath(cfg.Storage); p != "" {
		st, err := sqlite.Open(ctx, p)
		if err != nil {
			return nil, nil, err
		}
		return st, st.Applied(), nil
	}
	if dsn := cfg.Storage.Reveal(); strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		st, err := postgres.Open(ctx, dsn, postgres.Options{
			MaxConns:       cfg.Database.MaxConns,
			ConnectTimeout: cfg.Database.ConnectTimeout.D(),
			QueryTimeout:   cfg.Database.QueryTimeout.D(),
			DirectURL:      cfg.Database.DirectURL.Reveal(),
			Tracer:         pgTracer(tp),
		})
		if err != nil {
			return nil, nil, err
		}
		return st, st.Applied(), nil
	}
	return nil, nil, fmt.Errorf("storage %q is not supported: use sqlite://PATH or postgres://USER@HOST:PORT/DB", cfg.Storage)
}

// pgTracer traces PostgreSQL queries as spans of tp, or is nil when tp is.
// The SQL text is recorded, never the arguments (secrets' digests, codes).
func pgTracer(tp trace.TracerProvider) pgx.QueryTracer {
	if tp == nil {
		return nil
	}
	return otelpgx.NewTracer(otelpgx.WithTracerProvider(tp), otelpgx.WithMeterProvider(metricnoop.NewMeterProvider()))
}

// storeSystem is the db.system.name of the configured backend.
func storeSystem(cfg config.Config) string {
	if sqlitePath(cfg.Storage) != "" {
		return "sqlite"
	}
	return "postgresql"
}

// withStore is the frame of the admin commands (gc, migrate, client,
// user, keys): it loads the configuration the flags give, opens the
// configured store (bringing its schema up to date), runs use with both
// and the migrations that opening applied, then closes the store.
func withStore(ctx context.Context, cf *configFlags, e env, use func(cfg config.Config, st store.Store, applied []string) error) error {
	cfg, err := cf.load(e)
	if err != nil {
		return err
	}
	st, applied, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	return use(cfg, st, applied)
}

// startKeys loads the signing keys from st, creating the first ones if
// there are none, and returns their manager with the system secret that
// encrypts them.
func startKeys(ctx context.Context, cfg config.Config, st store.Store, rec audit.Recorder, log *slog.Logger) (*keys.Manager, []byte, error) {
	secret, err := systemSecret(cfg, log)
	if err != nil {
		return nil, nil, err
	}
	km, err := keyManager(cfg, st, secret, rec, log)
	if err != nil {
		return nil, nil, err
	}
	if err := km.Init(ctx); err != nil {
		return nil, nil, err
	}
	return km, secret, nil
}

// systemSecret returns the secret that encrypts signing keys: from the
// config or LATCHKEY_SECRETS_SYSTEM, or else from a file beside the SQLite
// database, created (mode 0600) on first use.
func systemSecret(cfg config.Config, log *slog.Logger) ([]byte, error) {
	if s := cfg.Secrets.System.Reveal(); s != "" {
		if len(s) < 32 {
			return nil, errors.New("secrets.system must be at least 32 characters")
		}
		return []byte(s), nil
	}
	db := sqlitePath(cfg.Storage)
	if db == "" {
		return nil, errors.New("set secrets.system (or LATCHKEY_SECRETS_SYSTEM): every instance on a shared database needs the same secret")
	}
	path := db + ".secret"
	b, err := os.ReadFile(path)
	if err == nil {
		s := strings.TrimSpace(string(b))
		if len(s) < 32 {
			return nil, fmt.Errorf("system secret file %s is too short; delete it only if you also delete %s", path, db)
		}
		return []byte(s), nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read system secret: %w", err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, fmt.Errorf("generate system secret: %w", err)
	}
	s := hex.EncodeToString(raw)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create system secret: %w", err)
	}
	if _, err := f.WriteString(s + "\n"); err != nil {
		f.Close()
		return nil, fmt.Errorf("write system secret: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("write system secret: %w", err)
	}
	log.Warn("generated a system secret; keep it with the database, and set secrets.system to share it between instances", "file", path)
	return []byte(s), nil
}

// keyManager builds the signing-key manager for cfg.
func keyManager(cfg config.Config, st store.Store, secret []byte, rec audit.Recorder, log *slog.Logger) (*keys.Manager, error) {
	return keys.NewManager(st, secret, keys.Options{
		ActivationDelay: cfg.Keys.ActivationDelay.D(),
		Retention:       retention(cfg),
		Now:             time.Now,
		Rand:            rand.Reader,
		Logger:          log,
		Audit:           rec,
	})
}

// retention is how long a replaced key must stay published: the longest
// lifetime of anything it may have signed, plus a margin for clock skew.
func retention(cfg config.Config) time.Duration {
	longest := max(cfg.Tokens.AccessTokenTTL.D(), cfg.Tokens.IDTokenTTL.D())
	for _, c := range cfg.Clients {
		longest = max(longest, c.AccessTokenTTL.D())
	}
	return longest + 5*time.Minute
}
