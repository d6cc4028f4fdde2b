package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/keys"
	"github.com/latchkey/latchkey/internal/store/sqlite"
)

const backupExample = `latchkey backup --config latchkey.yaml /var/backups/latchkey-2026-12-04.db`

const restoreExample = `latchkey restore --config latchkey.yaml /var/backups/latchkey-2026-12-04.db
latchkey restore --config latchkey.yaml --force /var/backups/latchkey-2026-12-04.db  # replace the stopped server's database`

// runBackup copies the configured SQLite database to FILE while a server
// may be serving it: the copy is one consistent snapshot.
func runBackup(ctx context.Context, args []string, e env) error {
	fs := newFlags("backup", "backup FILE [--config FILE] [--storage URL] [--force]", backupExample, e.stdout)
	var cf configFlags
	cf.register(fs)
	force := fs.Bool("force", false, "replace FILE when it exists")
	file, rest, done, err := parseSubcommand(fs, args)
	if done {
		return err
	}
	if file == "" || len(rest) != 0 {
		fs.Usage()
		return usageError{"expected: latchkey backup FILE"}
	}
	cfg, err := cf.load(e)
	if err != nil {
		return err
	}
	db, err := sqliteOnly(cfg, "backup")
	if err != nil {
		return err
	}
	start := time.Now()
	info, err := sqlite.Backup(ctx, db, file, *force)
	if errors.Is(err, sqlite.ErrExists) {
		return fmt.Errorf("backup: %s exists: name a new file, or add --force to replace it", file)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "backed up %s to %s: %s, schema at %s, in %s\n",
		db, file, mebibytes(info.Bytes), info.Migration, time.Since(start).Round(time.Millisecond))
	if cfg.Secrets.System.Reveal() != "" {
		fmt.Fprintln(e.stdout, "the signing keys in it are encrypted with secrets.system: keep that secret too, apart from the backup")
	} else {
		fmt.Fprintf(e.stdout, "the signing keys in it are encrypted with the system secret in %s.secret: keep a copy of that file too, apart from the backup\n", db)
	}
	return nil
}

// runRestore checks a backup and puts it in place as the configured
// SQLite database, which no server may be serving.
func runRestore(ctx context.Context, args []string, e env) error {
	fs := newFlags("restore", "restore FILE [--config FILE] [--storage URL] [--force]", restoreExample, e.stdout)
	var cf configFlags
	cf.register(fs)
	force := fs.Bool("force", false, "replace the configured database when it exists (its server must be stopped)")
	file, rest, done, err := parseSubcommand(fs, args)
	if done {
		return err
	}
	if file == "" || len(rest) != 0 {
		fs.Usage()
		return usageError{"expected: latchkey restore FILE"}
	}
	cfg, err := cf.load(e)
	if err != nil {
		return err
	}
	db, err := sqliteOnly(cfg, "restore")
	if err != nil {
		return err
	}
	opts := sqlite.RestoreOptions{Overwrite: *force}
	secret, source, err := knownSecret(cfg, db)
	if err != nil {
		return err
	}
	checked := 0
	if secret != nil {
		// A server with this secret could not load keys it cannot open.
		opts.Verify = func(ctx context.Context, copy string) error {
			ks, err := sqlite.ReadKeys(ctx, copy)
			if err != nil {
				return err
			}
			checked = len(ks)
			if err := keys.CheckSecret(ks, secret); errors.Is(err, keys.ErrWrongSecret) {
				return fmt.Errorf("the signing keys in %s cannot be decrypted with the system secret of %s: restore with the secret of the database it was backed up from", file, source)
			} else if err != nil {
				return err
			}
			return nil
		}
	}
	info, err := sqlite.Restore(ctx, file, db, opts)
	switch {
	case errors.Is(err, sqlite.ErrExists):
		return fmt.Errorf("restore: the database %s exists: stop its server and add --force to replace it with %s", db, file)
	case err != nil:
		return fmt.Errorf("%w; nothing was changed", err)
	}
	fmt.Fprintf(e.stdout, "restored %s to %s: %s, schema at %s\n", file, db, mebibytes(info.Bytes), info.Migration)
	if pending, err := sqlite.Pending(ctx, db); err == nil && len(pending) > 0 {
		fmt.Fprintf(e.stdout, "this latchkey applies %d newer migrations when it starts on it (latchkey migrate --check lists them)\n", len(pending))
	}
	if secret == nil {
		fmt.Fprintf(e.stdout, "%s.secret is missing: put the system secret of the backed-up database there (or set secrets.system) before latchkey serve, which cannot read the signing keys without it\n", db)
	} else if checked > 0 {
		fmt.Fprintf(e.stdout, "its %d signing keys open with the system secret of %s\n", checked, source)
	}
	return nil
}

// knownSecret returns the system secret a server on the SQLite database
// db would use, and where it comes from, or nil when there is none yet
// (serve would create one). Unlike systemSecret it creates nothing.
func knownSecret(cfg config.Config, db string) ([]byte, string, error) {
	if s := cfg.Secrets.System.Reveal(); s != "" {
		return []byte(s), "secrets.system", nil
	}
	path := db + ".secret"
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("read system secret: %w", err)
	}
	return []byte(strings.TrimSpace(string(b))), path, nil
}

// sqliteOnly returns the configured SQLite file, or says how to back up
// and restore a PostgreSQL database.
func sqliteOnly(cfg config.Config, command string) (string, error) {
	if p := sqlitePath(cfg.Storage); p != "" {
		return p, nil
	}
	if dsn := cfg.Storage.Reveal(); strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		if command == "restore" {
			return "", errors.New("restore: the storage is PostgreSQL: restore a pg_dump archive with pg_restore (pg_restore --clean --if-exists --dbname DATABASE_URL latchkey.dump) while every latchkey serve is stopped, with the same secrets.system as when it was dumped; latchkey restore handles SQLite files only")
		}
		return "", errors.New("backup: the storage is PostgreSQL: back it up with pg_dump (pg_dump --format=custom --file latchkey.dump DATABASE_URL), which is consistent while latchkey serves, and keep secrets.system apart from the dump: the signing keys in it are encrypted with that secret; latchkey backup handles SQLite files only")
	}
	return "", fmt.Errorf("storage %q is not supported: use sqlite://PATH or postgres://USER@HOST:PORT/DB", cfg.Storage)
}

// mebibytes formats a file size.
func mebibytes(n int64) string {
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}
