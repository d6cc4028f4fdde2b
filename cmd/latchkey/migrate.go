package main

import (
	"context"
	"fmt"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/store"
)

func runMigrate(ctx context.Context, args []string, e env) error {
	fs := newFlags("migrate", "migrate [--config FILE] [--storage URL]",
		"latchkey migrate --storage sqlite:///var/lib/latchkey/latchkey.db", e.stdout)
	var cf configFlags
	cf.register(fs)
	if done, err := parse(fs, args); done {
		return err
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
