package main

import (
	"context"
	"fmt"

	"github.com/latchkey/latchkey/internal/config"
)

const configExample = "latchkey config validate latchkey.yaml"

func runConfig(_ context.Context, args []string, e env) error {
	fs := newFlags("config", "config validate FILE", configExample, e.stdout)
	sub, rest, done, err := parseSubcommand(fs, args) // config validate --help works too
	if done {
		return err
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
