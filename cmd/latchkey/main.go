// Command latchkey is the Latchkey OAuth 2 authorization server, its admin
// tool and an OAuth 2 client. Run "latchkey help" for the commands.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := stopContext()
	err := run(ctx, os.Args, os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintln(os.Stderr, "latchkey:", err)
			os.Exit(2)
		}
		if !errors.Is(err, errSilent) {
			fmt.Fprintln(os.Stderr, "latchkey:", err)
		}
		os.Exit(1)
	}
}

// stopSignal is the cause of the end of a command's context: the signal
// that ended it. serve tells SIGTERM, which an orchestrator sends before
// it stops routing to the instance, from SIGINT, a person at a terminal.
type stopSignal struct {
	os.Signal
	// again is closed when a second SIGINT or SIGTERM arrives: whatever
	// the command still waits for, it should stop now.
	again <-chan struct{}
}

func (s stopSignal) Error() string { return s.String() + " signal received" }

// stopContext ends on the first SIGINT or SIGTERM, with the signal as its
// cause; stop releases the signals.
func stopContext() (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	again, done := make(chan struct{}), make(chan struct{})
	go func() {
		select {
		case sig := <-sigs:
			cancel(stopSignal{Signal: sig, again: again})
		case <-done:
			return
		}
		select {
		case <-sigs:
			close(again)
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel(context.Canceled)
	}
}

// env is what every command gets from the outside world.
type env struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// usageError is a mistake on the command line (exit status 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// errSilent ends a command that has printed its own explanation.
var errSilent = errors.New("failed")

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, e env) error
}

func commands() []command {
	return []command{
		{"serve", "run the authorization server", runServe},
		{"migrate", "apply database migrations and exit", runMigrate},
		{"backup", "copy the SQLite database to a file while the server serves it (backup FILE)", runBackup},
		{"restore", "check a backup and put it in place as the SQLite database, server stopped (restore FILE)", runRestore},
		{"gc", "remove expired codes, tokens, sessions, counters and old audit events, then exit", runGC},
		{"client", "manage clients (create, list, show, delete, rotate-secret)", runClient},
		{"registration", "manage initial access tokens for dynamic client registration (token create, list, revoke)", runRegistration},
		{"user", "manage users (create, list, delete, set-password)", runUser},
		{"keys", "manage signing keys (list, rotate)", runKeys},
		{"audit", "read the audit trail (audit tail [--follow] [--user] [--client] [--type] [--since])", runAudit},
		{"config", "check a configuration file (config validate FILE)", runConfig},
		{"demo", "play every grant step by step against a temporary Latchkey and a notes API", runDemo},
		{"token", "get, refresh, introspect or revoke tokens from any OAuth 2 server", runToken},
		{"bench", "load-test an OAuth 2 server's token endpoint and print rate and latency", runBench},
		{"version", "print the version", runVersion},
	}
}

// run is the whole program: main only adds the process around it.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	e := env{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	if len(args) < 2 || args[1] == "help" || args[1] == "-h" || args[1] == "--help" {
		printUsage(stdout)
		return nil
	}
	for _, c := range commands() {
		if c.name == args[1] {
			return c.run(ctx, args[2:], e)
		}
	}
	printUsage(stderr)
	return usageError{fmt.Sprintf("unknown command %q", args[1])}
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "Latchkey: an OAuth 2 authorization server in one binary.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage: latchkey COMMAND [flags]")
	fmt.Fprintln(w)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Start here:  latchkey serve --dev")
	fmt.Fprintln(w, "Help on one: latchkey COMMAND --help")
}
