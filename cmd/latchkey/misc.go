package main

import (
	"context"
	"fmt"
	"net/url"
	"runtime/debug"
	"strings"

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
	// The subcommand comes first, so that config validate --help works.
	var sub string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		sub, args = args[0], args[1:]
	}
	if done, err := parse(fs, args); done {
		return err
	}
	rest := fs.Args()
	if sub == "" && len(rest) > 0 {
		sub, rest = rest[0], rest[1:]
	}
	if sub != "validate" || len(rest) != 1 {
		fs.Usage()
		return usageError{"expected: latchkey config validate FILE"}
	}
	file := rest[0]
	cfg, err := config.Load(file, func(string) string { return "" }, rules())
	if err == nil {
		err = cfg.Validate(rules())
	}
	if err != nil {
		fmt.Fprintln(e.stdout, err)
		return fmt.Errorf("%s is not valid", file)
	}
	fmt.Fprintf(e.stdout, "%s is valid: %d clients, %d users\n", file, len(cfg.Clients), len(cfg.Users))
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
