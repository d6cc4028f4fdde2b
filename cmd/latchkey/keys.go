package main

import (
	"context"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/internal/admin"
	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/store"
)

const keysExample = `latchkey keys list
latchkey keys rotate --config latchkey.yaml`

func runKeys(ctx context.Context, args []string, e env) error {
	fs := newFlags("keys", "keys list|rotate [--config FILE] [--storage URL]", keysExample, e.stdout)
	var cf configFlags
	cf.register(fs)
	var rf remoteFlags
	rf.register(fs, e.getenv)
	sub, rest, done, err := parseSubcommand(fs, args)
	if done {
		return err
	}
	if len(rest) != 0 || (sub != "list" && sub != "rotate") {
		fs.Usage()
		return usageError{"expected: latchkey keys list|rotate"}
	}
	if remote, err := rf.remote(e.getenv, cf.issuer); err != nil {
		return err
	} else if remote {
		return runKeysRemote(ctx, sub, rf, e)
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
			views := make([]map[string]any, len(added))
			for i, k := range added {
				views[i] = admin.KeyView(k, "pending")
			}
			printStaged(views, e)
			return nil
		}
		return listKeys(ctx, st, rf.output, e)
	})
}

func listKeys(ctx context.Context, st store.Store, output string, e env) error {
	all, err := st.ListKeys(ctx)
	if err != nil {
		return err
	}
	states := admin.KeyStates(all, time.Now())
	views := make([]map[string]any, len(all))
	for i, k := range all {
		views[i] = admin.KeyView(k, states[i])
	}
	return printKeys(views, output, e)
}

// printKeys prints key views as a table or JSON; local and remote alike.
func printKeys(views []map[string]any, output string, e env) error {
	if output == "json" {
		return writeJSONList(e.stdout, views)
	}
	var rows [][]string
	for _, v := range views {
		rows = append(rows, []string{str(v["kid"]), str(v["alg"]), str(v["state"]), str(v["created_at"]), str(v["active_at"])})
	}
	return writeTable(e.stdout, []string{"KID", "ALG", "STATE", "CREATED", "SIGNS FROM"}, rows)
}

// printStaged says which keys a rotation staged.
func printStaged(views []map[string]any, e env) {
	for _, v := range views {
		fmt.Fprintf(e.stdout, "staged %s key %s: published now, signing from %s\n", str(v["alg"]), str(v["kid"]), str(v["active_at"]))
	}
	fmt.Fprintln(e.stdout, "running servers publish the new keys within keys.reload_interval (30s by default)")
}

// runKeysRemote is latchkey keys list|rotate --server URL.
func runKeysRemote(ctx context.Context, sub string, rf remoteFlags, e env) error {
	scope := admin.ScopeKeysRead
	if sub == "rotate" {
		scope = admin.ScopeKeysWrite
	}
	ac, err := rf.connect(ctx, scope)
	if err != nil {
		return err
	}
	if sub == "rotate" {
		var out struct {
			Items []map[string]any `json:"items"`
		}
		if err := ac.call(ctx, "POST", "/keys/rotation", nil, &out); err != nil {
			return err
		}
		printStaged(out.Items, e)
		return nil
	}
	views, err := ac.listAll(ctx, "/keys")
	if err != nil {
		return err
	}
	return printKeys(views, rf.output, e)
}
