package main

import (
	"context"
	"fmt"
	"net/url"
	"runtime/debug"

	"github.com/latchkey/latchkey/internal/config"
)

func runVersion(_ context.Context, args []string, e env) error {
	fs := newFlags("version", "version", "latchkey version", e.stdout)
	if done, err := parse(fs, args); done {
		return err
	}
	fmt.Fprintln(e.stdout, "latchkey", version())
	return nil
}

// version is the module version, or the VCS revision of a development build.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " (" + s.Value[:12] + ")"
		}
	}
	return v + " " + bi.GoVersion
}

func runMigrate(ctx context.Context, args []string, e env) error {
	fs := newFlags("migrate", "migrate [--config FILE] [--storage URL]",
		"latchkey migrate --storage sqlite:///var/lib/latchkey/latchkey.db", e.stdout)
	var cf configFlags
	cf.register(fs)
	if done, err := parse(fs, args); done {
		return err
	}
	cfg, err := cf.load(e)
	if err != nil {
		return err
	}
	st, applied, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	if len(applied) == 0 {
		fmt.Fprintln(e.stdout, "the schema is up to date")
	}
	for _, m := range applied {
		fmt.Fprintln(e.stdout, "applied", m)
	}
	return nil
}

const configExample = "latchkey config validate latchkey.yaml"

func runConfig(_ context.Context, args []string, e env) error {
	fs := newFlags("config", "config validate FILE", configExample, e.stdout)
	if done, err := parse(fs, args); done {
		return err
	}
	rest := fs.Args()
	if len(rest) != 2 || rest[0] != "validate" {
		fs.Usage()
		return usageError{"expected: latchkey config validate FILE"}
	}
	cfg, err := config.Load(rest[1], func(string) string { return "" })
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		fmt.Fprintln(e.stdout, err)
		return fmt.Errorf("%s is not valid", rest[1])
	}
	fmt.Fprintf(e.stdout, "%s is valid: %d clients, %d users\n", rest[1], len(cfg.Clients), len(cfg.Users))
	return nil
}

// redactDSN hides a password in a storage URL before it is logged.
func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		return dsn
	}
	return u.Redacted()
}
