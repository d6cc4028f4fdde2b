package main

import (
	"context"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/store"
)

const keysExample = `latchkey keys list
latchkey keys rotate --config latchkey.yaml`

func runKeys(ctx context.Context, args []string, e env) error {
	fs := newFlags("keys", "keys list|rotate [--config FILE] [--storage URL]", keysExample, e.stdout)
	var cf configFlags
	cf.register(fs)
	sub, rest, done, err := parseSubcommand(fs, args)
	if done {
		return err
	}
	if len(rest) != 0 || (sub != "list" && sub != "rotate") {
		fs.Usage()
		return usageError{"expected: latchkey keys list|rotate"}
	}
	return withStore(ctx, &cf, e, func(cfg config.Config, st store.Store, _ []string) error {
		log := newLogger(cfg, e.stderr)
		rec, stopAudit, err := startAudit(ctx, cfg, st, nil, log)
		if err != nil {
			return err
		}
		defer stopAudit()
		km, _, err := startKeys(ctx, cfg, st, rec, log)
		if err != nil {
			return err
		}
		if sub == "rotate" {
			added, err := km.Rotate(ctx)
			if err != nil {
				return err
			}
			for _, k := range added {
				fmt.Fprintf(e.stdout, "staged %s key %s: published now, signing from %s\n", k.Alg, k.KID, k.ActiveAt.Format(time.RFC3339))
			}
			fmt.Fprintln(e.stdout, "running servers publish the new keys within keys.reload_interval (30s by default)")
			return nil
		}
		return listKeys(ctx, st, e)
	})
}

func listKeys(ctx context.Context, st store.Store, e env) error {
	all, err := st.ListKeys(ctx)
	if err != nil {
		return err
	}
	var rows [][]string
	for _, k := range all {
		rows = append(rows, []string{k.KID, k.Alg, k.CreatedAt.Format(time.RFC3339), k.ActiveAt.Format(time.RFC3339)})
	}
	return writeTable(e.stdout, []string{"KID", "ALG", "CREATED", "SIGNS FROM"}, rows)
}
