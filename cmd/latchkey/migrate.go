package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/migration"
	"github.com/latchkey/latchkey/internal/store/postgres"
	"github.com/latchkey/latchkey/internal/store/sqlite"
)

func runMigrate(ctx context.Context, args []string, e env) error {
	fs := newFlags("migrate", "migrate [--config FILE] [--storage URL] [--check]",
		"latchkey migrate --check --storage postgres://latchkey@db/latchkey", e.stdout)
	var cf configFlags
	cf.register(fs)
	check := fs.Bool("check", false, "list the migrations that would run and whether each is safe while the previous release serves; apply nothing (exit status 1 when one is not)")
	if done, err := parse(fs, args); done {
		return err
	}
	if *check {
		return checkMigrations(ctx, &cf, e)
	}
	return withStore(ctx, &cf, e, func(_ config.Config, _ store.Store, applied []string) error {
		if len(applied) == 0 {
			fmt.Fprintln(e.stdout, "the schema is up to date")
		}
		for _, m := range applied {
			fmt.Fprintln(e.stdout, "applied", m)
		}
		return nil
	})
}

// checkMigrations prints the pending migrations of the configured store
// with their expand/contract verdict, changing nothing.
func checkMigrations(ctx context.Context, cf *configFlags, e env) error {
	cfg, err := cf.load(e)
	if err != nil {
		return err
	}
	var pending []migration.Migration
	if p := sqlitePath(cfg.Storage); p != "" {
		pending, err = sqlite.Pending(ctx, p)
	} else if dsn := cfg.Storage.Reveal(); strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		if d := cfg.Database.DirectURL.Reveal(); d != "" {
			dsn = d
		}
		pending, err = postgres.Pending(ctx, dsn)
	} else {
		return fmt.Errorf("storage %q is not supported: use sqlite://PATH or postgres://USER@HOST:PORT/DB", cfg.Storage)
	}
	if err != nil {
		return err
	}
	if len(pending) == 0 {
		fmt.Fprintln(e.stdout, "the schema is up to date: nothing would run")
		return nil
	}
	unsafe := 0
	for _, m := range pending {
		how := ""
		if m.Concurrent {
			how = ", outside a transaction (CONCURRENTLY)"
		}
		if m.SafeWhileServing() {
			fmt.Fprintf(e.stdout, "would apply %s: %s, safe while the previous release serves%s\n", m.Name, m.Kind, how)
			continue
		}
		unsafe++
		fmt.Fprintf(e.stdout, "would apply %s: %s, NOT safe while the previous release serves: stop every instance of it first\n", m.Name, m.Kind)
		for _, why := range m.Unsafe {
			fmt.Fprintf(e.stdout, "  %s\n", why)
		}
	}
	if unsafe > 0 {
		return fmt.Errorf("%d of %d pending migrations are not safe while the previous release serves", unsafe, len(pending))
	}
	return nil
}
