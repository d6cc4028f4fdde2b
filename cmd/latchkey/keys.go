package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"
)

const keysExample = `latchkey keys list
latchkey keys rotate --config latchkey.yaml`

func runKeys(ctx context.Context, args []string, e env) error {
	fs := newFlags("keys", "keys list|rotate [--config FILE] [--storage URL]", keysExample, e.stdout)
	var cf configFlags
	cf.register(fs)
	// The subcommand may come before the flags (keys rotate --config FILE)
	// or after them (keys --config FILE rotate).
	var sub string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		sub, args = args[0], args[1:]
	}
	if done, err := parse(fs, args); done {
		return err
	}
	rest := fs.Args()
	if sub == "" && len(rest) == 1 {
		sub, rest = rest[0], nil
	}
	if len(rest) != 0 || (sub != "list" && sub != "rotate") {
		fs.Usage()
		return usageError{"expected: latchkey keys list|rotate"}
	}
	cfg, err := cf.load(e)
	if err != nil {
		return err
	}
	log := newLogger(cfg, e.stderr)
	st, _, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	secret, err := systemSecret(cfg, log)
	if err != nil {
		return err
	}
	km, err := keyManager(cfg, st, secret, log)
	if err != nil {
		return err
	}
	if err := km.Init(ctx); err != nil {
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
	all, err := st.ListKeys(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KID\tALG\tCREATED\tSIGNS FROM")
	for _, k := range all {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.KID, k.Alg, k.CreatedAt.Format(time.RFC3339), k.ActiveAt.Format(time.RFC3339))
	}
	return tw.Flush()
}
