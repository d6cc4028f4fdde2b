package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/latchkey/latchkey/internal/store"
)

// The ways a backup or a restore is refused. Each error names the file.
var (
	// ErrExists: the destination exists and overwriting was not asked for.
	ErrExists = errors.New("already exists")
	// ErrNotDatabase: the file is not a SQLite database at all.
	ErrNotDatabase = errors.New("not a SQLite database")
	// ErrCorrupt: the file is a SQLite database that fails its integrity
	// or foreign key checks.
	ErrCorrupt = errors.New("corrupt")
	// ErrNotLatchkey: a sound SQLite database without Latchkey's schema.
	ErrNotLatchkey = errors.New("not a Latchkey database")
	// ErrNewerSchema: a Latchkey database with a migration this binary
	// does not know (a newer Latchkey wrote it).
	ErrNewerSchema = errors.New("schema newer than this binary")
	// ErrInUse: another connection (a running server) has the database open.
	ErrInUse = errors.New("in use")
)

// Info describes a backup file.
type Info struct {
	Bytes int64
	// Migration is the newest migration the database lists.
	Migration string
}

// Backup writes a consistent copy of the database at path to dest with
// VACUUM INTO. It reads in one transaction, which in WAL mode runs beside
// the writer: a server serving the same file goes on issuing tokens, and
// the copy holds exactly the transactions committed before it began. The
// copy goes to a temporary file beside dest, is synced, and is then moved
// to dest, so dest is never a partial database; an existing dest is
// replaced only when overwrite is set. The source is only read: never
// migrated, nor created when missing.
func Backup(ctx context.Context, path, dest string, overwrite bool) (Info, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return Info{}, fmt.Errorf("sqlite: backup: there is no database at %s", path)
	} else if err != nil {
		return Info{}, fmt.Errorf("sqlite: backup: %w", err)
	}
	if di, err := os.Stat(dest); err == nil && os.SameFile(fi, di) {
		return Info{}, fmt.Errorf("sqlite: backup: %s is the database itself: name another file", dest)
	}
	if err := refuseExisting(dest, overwrite); err != nil {
		return Info{}, fmt.Errorf("sqlite: backup: %w", err)
	}
	// Read-write but never created (mode=rw): a read-only connection
	// cannot remove the -wal and -shm it opens on a database no server
	// has open, and would leave them behind.
	src, err := fileURI(path, fmt.Sprintf("busy_timeout(%d)", busyTimeoutMS))
	if err != nil {
		return Info{}, fmt.Errorf("sqlite: backup: %w", err)
	}
	db, err := sql.Open("sqlite", src+"&mode=rw")
	if err != nil {
		return Info{}, fmt.Errorf("sqlite: backup: open %s: %w", path, err)
	}
	defer db.Close()
	tmp, err := emptyTemp(dest)
	if err != nil {
		return Info{}, fmt.Errorf("sqlite: backup: %w", err)
	}
	defer os.Remove(tmp) // gone already once it is moved to dest
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", tmp); err != nil {
		return Info{}, fmt.Errorf("sqlite: backup: %w", classify(path, err))
	}
	if err := db.Close(); err != nil {
		return Info{}, fmt.Errorf("sqlite: backup %s: %w", path, err)
	}
	info, err := describe(ctx, tmp)
	if err != nil {
		return Info{}, fmt.Errorf("sqlite: backup %s: read the copy: %w", path, err)
	}
	if err := syncFile(tmp); err != nil {
		return Info{}, fmt.Errorf("sqlite: backup: %w", err)
	}
	if err := place(tmp, dest, overwrite); err != nil {
		return Info{}, fmt.Errorf("sqlite: backup: %w", err)
	}
	return info, nil
}

// Check verifies that the file at path is a sound Latchkey database this
// binary can serve: a SQLite file that passes integrity_check and
// foreign_key_check, whose schema_migrations lists 0001_init.sql and no
// migration unknown here. It opens the file read-only.
func Check(ctx context.Context, path string) (Info, error) {
	return check(ctx, path, path)
}

// check is Check of the file at path, named name in its errors.
func check(ctx context.Context, path, name string) (Info, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return Info{}, err
	}
	if err := checkHeader(path, name); err != nil {
		return Info{}, err
	}
	src, err := readOnlyURI(path)
	if err != nil {
		return Info{}, err
	}
	db, err := sql.Open("sqlite", src)
	if err != nil {
		return Info{}, fmt.Errorf("open %s: %w", name, err)
	}
	defer db.Close()
	if err := integrity(ctx, db, name); err != nil {
		return Info{}, err
	}
	names, err := migrationNames()
	if err != nil {
		return Info{}, err
	}
	var has int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").Scan(&has); err != nil {
		return Info{}, classify(name, err)
	}
	if has == 0 {
		return Info{}, fmt.Errorf("%s is %w: it has no schema_migrations table", name, ErrNotLatchkey)
	}
	applied, err := listApplied(ctx, db)
	if err != nil {
		return Info{}, classify(name, err)
	}
	if !slices.Contains(applied, names[0]) {
		return Info{}, fmt.Errorf("%s is %w: its schema_migrations does not list %s", name, ErrNotLatchkey, names[0])
	}
	for _, a := range applied {
		if !slices.Contains(names, a) {
			return Info{}, fmt.Errorf("%s has a %w: migration %s, unknown to this binary (the newest it knows is %s); restore it with the latchkey release that wrote it, or a newer one",
				name, ErrNewerSchema, a, names[len(names)-1])
		}
	}
	return Info{Bytes: fi.Size(), Migration: slices.Max(applied)}, nil
}

// RestoreOptions adjust Restore.
type RestoreOptions struct {
	// Overwrite lets Restore replace an existing database.
	Overwrite bool
	// Verify, when set, runs on the checked copy of the backup (a file
	// beside the target, opened read-only by ReadKeys and the like) before
	// it is put in place; an error refuses the restore.
	Verify func(ctx context.Context, copy string) error
}

// Restore checks the backup at src (see Check) and puts a copy of it in
// place as the database at path. An existing database is replaced only
// with opts.Overwrite, and only when no connection has it open: Restore
// takes it over (rollback journal, exclusive lock) for the move, and
// refuses with ErrInUse while a server serves it. Stale -wal, -shm and
// -journal files of path are removed, so SQLite cannot replay them onto
// the restored file. The backup itself is left unchanged.
func Restore(ctx context.Context, src, path string, opts RestoreOptions) (Info, error) {
	overwrite := opts.Overwrite
	if _, err := os.Stat(src); err != nil {
		return Info{}, fmt.Errorf("sqlite: restore: backup %w", err)
	}
	if err := refuseExisting(path, overwrite); err != nil {
		return Info{}, fmt.Errorf("sqlite: restore: %w", err)
	}
	tmp, err := copyTemp(src, path)
	if err != nil {
		return Info{}, fmt.Errorf("sqlite: restore: %w", err)
	}
	defer os.Remove(tmp)
	// The checks read the copy; their errors name the backup.
	if err := rollbackMode(ctx, tmp, src); err != nil {
		return Info{}, fmt.Errorf("sqlite: restore: %w", err)
	}
	info, err := check(ctx, tmp, src)
	if err != nil {
		return Info{}, fmt.Errorf("sqlite: restore: %w", err)
	}
	if opts.Verify != nil {
		if err := opts.Verify(ctx, tmp); err != nil {
			return Info{}, fmt.Errorf("sqlite: restore: %w", err)
		}
	}
	unlock, err := takeOver(ctx, path)
	if err != nil {
		return Info{}, fmt.Errorf("sqlite: restore: %w", err)
	}
	defer unlock()
	for _, suffix := range []string{"-wal", "-shm", "-journal"} {
		if err := os.Remove(path + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			return Info{}, fmt.Errorf("sqlite: restore: remove stale %s: %w", path+suffix, err)
		}
	}
	if err := place(tmp, path, overwrite); err != nil {
		return Info{}, fmt.Errorf("sqlite: restore: %w", err)
	}
	return info, nil
}

// ReadKeys returns the signing keys stored in the database file at path,
// read-only and without migrating it: for checking the system secret
// against a backup.
func ReadKeys(ctx context.Context, path string) ([]store.Key, error) {
	src, err := readOnlyURI(path)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", src)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, listKeysQuery)
	if err != nil {
		return nil, fmt.Errorf("read signing keys: %w", classify(path, err))
	}
	ks, err := scanKeys(rows)
	if err != nil {
		return nil, fmt.Errorf("read signing keys: %w", classify(path, err))
	}
	return ks, nil
}

// takeOver makes sure no connection has the database at path open and
// keeps it that way until unlock: it switches the file out of WAL mode,
// which SQLite refuses (SQLITE_BUSY) while another connection has it open,
// and then holds an exclusive lock (BEGIN EXCLUSIVE), so a server starting
// meanwhile waits instead of opening the file being replaced. A missing
// file needs nothing; a file SQLite cannot read as a database cannot be in
// use by a server.
func takeOver(ctx context.Context, path string) (unlock func(), err error) {
	nothing := func() {}
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nothing, nil
	}
	if err := checkHeader(path, path); err != nil {
		return nothing, nil
	}
	u, err := fileURI(path, "busy_timeout(1000)")
	if err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", u+"&mode=rw")
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	inUse := func(err error) error {
		conn.Close()
		db.Close()
		var e *sqlite.Error
		if errors.As(err, &e) && (e.Code()&0xff == sqlite3.SQLITE_BUSY || e.Code()&0xff == sqlite3.SQLITE_LOCKED) {
			return fmt.Errorf("database %s is %w: stop the server (every latchkey serve on it) first", path, ErrInUse)
		}
		return fmt.Errorf("take over %s: %w", path, err)
	}
	var mode string
	if err := conn.QueryRowContext(ctx, "PRAGMA journal_mode = DELETE").Scan(&mode); err != nil {
		return nil, inUse(err)
	}
	if _, err := conn.ExecContext(ctx, "BEGIN EXCLUSIVE"); err != nil {
		return nil, inUse(err)
	}
	return func() {
		_, _ = conn.ExecContext(context.Background(), "ROLLBACK")
		conn.Close()
		db.Close()
	}, nil
}

// rollbackMode takes the copy of a backup out of WAL mode, so that Check
// can read it read-only: a plain copy of a live database is in WAL mode,
// which SQLite cannot open read-only without its -shm file. Backup's
// copies are in rollback mode already and are left alone.
func rollbackMode(ctx context.Context, path, name string) error {
	if err := checkHeader(path, name); err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	hdr := make([]byte, 20)
	_, err = io.ReadFull(f, hdr)
	f.Close()
	if err != nil || hdr[18] != 2 {
		return nil // not WAL; Check says what else is wrong
	}
	u, err := fileURI(path, fmt.Sprintf("busy_timeout(%d)", busyTimeoutMS))
	if err != nil {
		return err
	}
	db, err := sql.Open("sqlite", u)
	if err != nil {
		return err
	}
	defer db.Close()
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode = DELETE").Scan(&mode); err != nil {
		return classify(name, err)
	}
	return db.Close()
}

// integrity runs integrity_check and foreign_key_check on db, the file
// named name.
func integrity(ctx context.Context, db *sql.DB, name string) error {
	rows, err := db.QueryContext(ctx, "PRAGMA integrity_check(20)")
	if err != nil {
		return classify(name, err)
	}
	var problems []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			rows.Close()
			return classify(name, err)
		}
		if s != "ok" {
			problems = append(problems, s)
		}
	}
	if err := rows.Err(); err != nil {
		rows.Close()
		return classify(name, err)
	}
	rows.Close()
	if len(problems) > 0 {
		return fmt.Errorf("%s is %w: integrity_check: %s", name, ErrCorrupt, strings.Join(problems, "; "))
	}
	rows, err = db.QueryContext(ctx, "PRAGMA foreign_key_check")
	if err != nil {
		return classify(name, err)
	}
	defer rows.Close()
	for rows.Next() {
		var table, parent string
		var rowid sql.NullInt64
		var fk int
		if err := rows.Scan(&table, &rowid, &parent, &fk); err != nil {
			return classify(name, err)
		}
		problems = append(problems, fmt.Sprintf("a row of %s (rowid %d) refers to a missing row of %s", table, rowid.Int64, parent))
		if len(problems) == 20 {
			break
		}
	}
	if err := rows.Err(); err != nil {
		return classify(name, err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s is %w: foreign_key_check: %s", name, ErrCorrupt, strings.Join(problems, "; "))
	}
	return nil
}

// classify maps SQLite's "not a database" and "malformed" errors to
// ErrNotDatabase and ErrCorrupt.
func classify(name string, err error) error {
	var e *sqlite.Error
	if errors.As(err, &e) {
		switch e.Code() & 0xff {
		case sqlite3.SQLITE_NOTADB:
			return fmt.Errorf("%s is %w: %w", name, ErrNotDatabase, err)
		case sqlite3.SQLITE_CORRUPT:
			return fmt.Errorf("%s is %w: %w", name, ErrCorrupt, err)
		}
	}
	return fmt.Errorf("%s: %w", name, unavailable(err))
}

// checkHeader reads the 16-byte magic string every SQLite database starts
// with (sqlite.org/fileformat.html §1.3.1).
func checkHeader(path, name string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	magic := make([]byte, 16)
	if _, err := io.ReadFull(f, magic); err != nil || string(magic) != "SQLite format 3\x00" {
		return fmt.Errorf("%s is %w: it does not start with the SQLite header", name, ErrNotDatabase)
	}
	return nil
}

// describe reads the size and migration level of a database file.
func describe(ctx context.Context, path string) (Info, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return Info{}, err
	}
	src, err := readOnlyURI(path)
	if err != nil {
		return Info{}, err
	}
	db, err := sql.Open("sqlite", src)
	if err != nil {
		return Info{}, err
	}
	defer db.Close()
	var m sql.NullString
	if err := db.QueryRowContext(ctx, "SELECT max(name) FROM schema_migrations").Scan(&m); err != nil {
		return Info{}, err
	}
	return Info{Bytes: fi.Size(), Migration: m.String}, nil
}

// listApplied returns the names in schema_migrations.
func listApplied(ctx context.Context, db *sql.DB) ([]string, error) {
	rows, err := db.QueryContext(ctx, "SELECT name FROM schema_migrations ORDER BY name")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		names = append(names, n)
	}
	return names, rows.Err()
}

// readOnlyURI is the SQLite URI that opens path read-only, never creating
// it, with the busy timeout of the store.
func readOnlyURI(path string) (string, error) {
	u, err := fileURI(path, fmt.Sprintf("busy_timeout(%d)", busyTimeoutMS))
	if err != nil {
		return "", err
	}
	return u + "&mode=ro", nil
}

// fileURI is a file: URI for path (escaped, so any file name works) that
// runs pragma on each connection.
func fileURI(path, pragma string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: url.Values{"_pragma": {pragma}}.Encode()}
	return u.String(), nil
}

// refuseExisting returns ErrExists when path exists and overwrite is off.
func refuseExisting(path string, overwrite bool) error {
	if overwrite {
		return nil
	}
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("%s %w", path, ErrExists)
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// emptyTemp creates an empty temporary file beside dest, in its directory
// so that moving it to dest is a rename.
func emptyTemp(dest string) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(dest), "."+filepath.Base(dest)+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("create a temporary file beside %s: %w", dest, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// copyTemp copies src to a synced temporary file beside dest.
func copyTemp(src, dest string) (string, error) {
	in, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer in.Close()
	out, err := os.CreateTemp(filepath.Dir(dest), "."+filepath.Base(dest)+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("create a temporary file beside %s: %w", dest, err)
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(out.Name())
		return "", fmt.Errorf("copy %s beside %s: %w", src, dest, err)
	}
	return out.Name(), nil
}

// syncFile flushes path to stable storage.
func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	return nil
}

// place moves the synced file tmp to dest and syncs the directory, so
// that after a crash dest is either the old file or the whole new one.
// Without overwrite it links (which fails when dest exists, with no race
// between a check and the move) and then removes tmp.
func place(tmp, dest string, overwrite bool) error {
	if overwrite {
		if err := os.Rename(tmp, dest); err != nil {
			return fmt.Errorf("move the copy to %s: %w", dest, err)
		}
	} else {
		if err := os.Link(tmp, dest); err != nil {
			if errors.Is(err, os.ErrExist) {
				return fmt.Errorf("%s %w", dest, ErrExists)
			}
			return fmt.Errorf("move the copy to %s: %w", dest, err)
		}
		if err := os.Remove(tmp); err != nil {
			return fmt.Errorf("remove %s: %w", tmp, err)
		}
	}
	dir, err := os.Open(filepath.Dir(dest))
	if err != nil {
		return err
	}
	defer dir.Close()
	if err := dir.Sync(); err != nil {
		return fmt.Errorf("sync directory of %s: %w", dest, err)
	}
	return nil
}
