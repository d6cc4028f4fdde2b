package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/latchkey/latchkey/internal/config"
)

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
