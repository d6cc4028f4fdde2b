package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// newFlags returns a flag set whose --help prints usage, an example and
// the flags, and whose mistakes come back as usage errors.
func newFlags(name, usage, example string, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: latchkey %s\n\n", usage)
		if example != "" {
			fmt.Fprintf(out, "Example:\n  %s\n\n", strings.ReplaceAll(example, "\n", "\n  "))
		}
		fmt.Fprintln(out, "Flags:")
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args; --help ends the command successfully.
func parse(fs *flag.FlagSet, args []string) (done bool, err error) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return true, nil
		}
		return true, usageError{err.Error()}
	}
	return false, nil
}

// listFlag collects a comma-separated or repeated flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}

// flagRegistrar is the part of *flag.FlagSet that flag groups register on.
type flagRegistrar interface {
	StringVar(p *string, name, value, usage string)
	BoolVar(p *bool, name string, value bool, usage string)
	Var(value flag.Value, name, usage string)
}

// serverFlags say which authorization server to talk to and as which
// client; the client-side commands (token, bench) share them.
type serverFlags struct {
	issuer, clientID, secret, authMethod string
}

func (c *serverFlags) register(fs *flag.FlagSet, getenv func(string) string) {
	issuer := getenv("LATCHKEY_ISSUER")
	if issuer == "" {
		issuer = "http://127.0.0.1:8080"
	}
	fs.StringVar(&c.issuer, "issuer", issuer, "the authorization server's issuer `URL` (LATCHKEY_ISSUER); endpoints are discovered from it")
	fs.StringVar(&c.clientID, "client-id", getenv("LATCHKEY_CLIENT_ID"), "client `id` (LATCHKEY_CLIENT_ID)")
	fs.StringVar(&c.secret, "client-secret", "", "client `secret` (prefer LATCHKEY_CLIENT_SECRET: flags show in ps)")
	fs.StringVar(&c.authMethod, "auth-method", "basic", "client authentication: `basic` (client_secret_basic) or post (client_secret_post)")
}

// secretFromEnv takes the secret from LATCHKEY_CLIENT_SECRET unless
// --client-secret gave one; call it after parsing.
func (c *serverFlags) secretFromEnv(getenv func(string) string) {
	if c.secret == "" {
		c.secret = getenv("LATCHKEY_CLIENT_SECRET")
	}
}
