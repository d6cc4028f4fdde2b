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
