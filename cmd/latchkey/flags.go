package main

import (
	"errors"
	"flag"
	"fmt"
	"github.com/latchkey/latchkey/internal/protocol"
	"io"
	"slices"
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

// repeatFlag collects a flag given several times, each value whole (a
// URI may hold a comma).
type repeatFlag []string

func (r *repeatFlag) String() string { return strings.Join(*r, " ") }

func (r *repeatFlag) Set(v string) error {
	if v = strings.TrimSpace(v); v == "" {
		return errors.New("must not be empty")
	}
	*r = append(*r, v)
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
	issuer, clientID, secret string
	authMethod               authMethodFlag
}

func (c *serverFlags) register(fs *flag.FlagSet, getenv func(string) string) {
	issuer := getenv("LATCHKEY_ISSUER")
	if issuer == "" {
		issuer = "http://127.0.0.1:8080"
	}
	fs.StringVar(&c.issuer, "issuer", issuer, "the authorization server's issuer `URL` (LATCHKEY_ISSUER); endpoints are discovered from it")
	fs.StringVar(&c.clientID, "client-id", getenv("LATCHKEY_CLIENT_ID"), "client `id` (LATCHKEY_CLIENT_ID)")
	fs.StringVar(&c.secret, "client-secret", "", "client `secret` (prefer LATCHKEY_CLIENT_SECRET: flags show in ps)")
	c.authMethod = authMethodFlag(protocol.AuthBasic)
	fs.Var(&c.authMethod, "auth-method", "client authentication: `basic` (client_secret_basic) or post (client_secret_post)")
}

// secretFromEnv takes the secret from LATCHKEY_CLIENT_SECRET unless
// --client-secret gave one; call it after parsing.
func (c *serverFlags) secretFromEnv(getenv func(string) string) {
	if c.secret == "" {
		c.secret = getenv("LATCHKEY_CLIENT_SECRET")
	}
}

// parseSubcommand parses "COMMAND SUB [flags]", where SUB may also come
// after the flags (keys rotate --config FILE, keys --config FILE rotate).
// It returns SUB ("" when there is none) and the arguments left after it;
// done and err are as for parse.
func parseSubcommand(fs *flag.FlagSet, args []string) (sub string, rest []string, done bool, err error) {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		sub, args = args[0], args[1:]
	}
	if done, err := parse(fs, args); done {
		return "", nil, true, err
	}
	rest = fs.Args()
	if sub == "" && len(rest) > 0 {
		sub, rest = rest[0], rest[1:]
	}
	return sub, rest, false, nil
}

// parseNamedSubcommand parses "COMMAND SUB [NAME] [flags]" for the
// commands that manage named things (client, user): SUB comes first and
// must be one of subs, checked before the store is opened (or created);
// NAME is optional. done and err are as for parse.
func parseNamedSubcommand(fs *flag.FlagSet, args []string, command string, subs []string) (sub, name string, done bool, err error) {
	choices := strings.Join(subs[:len(subs)-1], ", ") + " or " + subs[len(subs)-1]
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if done, err := parse(fs, args); done {
			return "", "", true, err
		}
		fs.Usage()
		return "", "", true, usageError{"expected a subcommand: " + choices}
	}
	sub, rest := args[0], args[1:]
	if !slices.Contains(subs, sub) {
		return "", "", true, usageError{fmt.Sprintf("unknown %s subcommand %q: use %s", command, sub, choices)}
	}
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		name, rest = rest[0], rest[1:]
	}
	if done, err := parse(fs, rest); done {
		return "", "", true, err
	}
	return sub, name, false, nil
}

// authMethodFlag is --auth-method: an RFC 7591 name or the short basic
// and post.
type authMethodFlag protocol.AuthMethod

func (f *authMethodFlag) String() string {
	if *f == authMethodFlag(protocol.AuthPost) {
		return "post"
	}
	return "basic"
}

func (f *authMethodFlag) Set(s string) error {
	m, ok := protocol.ParseAuthMethod(s)
	if !ok || !m.UsesSecret() {
		return errors.New("must be basic or post (client_secret_basic or client_secret_post)")
	}
	*f = authMethodFlag(m)
	return nil
}

// method is the parsed value.
func (f authMethodFlag) method() protocol.AuthMethod { return protocol.AuthMethod(f) }
