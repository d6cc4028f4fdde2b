// Command notes serves a small notes API that accepts Latchkey's access
// tokens: GET /notes needs scope read, POST /notes needs scope write.
//
//	notes --issuer http://127.0.0.1:8080 --audience https://notes.example
//
// Opaque tokens are checked by introspection when the API has client
// credentials of its own (allowed to introspect):
//
//	NOTES_INTROSPECTION_CLIENT_SECRET=... notes --issuer ... --audience ... \
//	    --introspection-client-id notes-api
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/latchkey/latchkey/bearer"
	"github.com/latchkey/latchkey/examples/notes/notes"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "notes:", err)
		os.Exit(1)
	}
}

// options are the command's flags, each defaulting to an environment
// variable.
type options struct {
	issuer, audience, listen string
	clientID, clientSecret   string
}

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("notes", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.issuer, "issuer", getenv("NOTES_ISSUER"), "Latchkey's issuer URL (env NOTES_ISSUER)")
	fs.StringVar(&o.audience, "audience", getenv("NOTES_AUDIENCE"), "this API's identifier, expected in the tokens' aud (env NOTES_AUDIENCE)")
	fs.StringVar(&o.listen, "listen", or(getenv("NOTES_LISTEN"), "127.0.0.1:9090"), "address to listen on (env NOTES_LISTEN)")
	fs.StringVar(&o.clientID, "introspection-client-id", getenv("NOTES_INTROSPECTION_CLIENT_ID"),
		"client id for introspecting opaque tokens (env NOTES_INTROSPECTION_CLIENT_ID)")
	fs.StringVar(&o.clientSecret, "introspection-client-secret", getenv("NOTES_INTROSPECTION_CLIENT_SECRET"),
		"its secret; prefer the env NOTES_INTROSPECTION_CLIENT_SECRET, which ps does not show")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: notes --issuer URL --audience ID [--listen ADDR]")
		fmt.Fprintln(stderr, "example: notes --issuer http://127.0.0.1:8080 --audience https://notes.example")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.issuer == "" || o.audience == "" {
		fs.Usage()
		return o, errors.New("--issuer and --audience are required")
	}
	if (o.clientID == "") != (o.clientSecret == "") {
		return o, errors.New("introspection needs both a client id and a secret")
	}
	return o, nil
}

// run serves the API until ctx ends. It prints the address it listens on
// to stdout, so that a caller giving --listen 127.0.0.1:0 can find it.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	cfg := bearer.Config{Issuer: o.issuer, Audience: o.audience, Logger: slog.New(slog.NewTextHandler(stderr, nil))}
	if o.clientID != "" {
		cfg.Introspection = &bearer.IntrospectionConfig{ClientID: o.clientID, ClientSecret: bearer.Secret(o.clientSecret)}
	}
	v, err := bearer.New(ctx, cfg)
	if err != nil {
		return fmt.Errorf("%w (is Latchkey running at %s?)", err, o.issuer)
	}
	defer v.Close()

	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler: notes.NewHandler(v), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 10 * time.Second, IdleTimeout: time.Minute,
	}
	fmt.Fprintf(stdout, "notes: listening on http://%s\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
