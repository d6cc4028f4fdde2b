// Command mcp is an MCP server (streamable HTTP transport, on the official
// Go SDK) whose tools act for the user of a Latchkey access token:
// whoami, notes_list (scope notes:read) and notes_add (scope notes:write).
//
//	mcp --issuer http://127.0.0.1:8080 --resource http://127.0.0.1:9091/mcp
//
// It publishes Protected Resource Metadata (RFC 9728) at
// /.well-known/oauth-protected-resource/mcp, naming Latchkey, so that an
// MCP client that knows only the server's URL finds where to get a token
// from the first 401's resource_metadata; it accepts only tokens whose aud
// is the resource URL (RFC 8707), checked by the bearer package.
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
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/latchkey/latchkey/bearer"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "mcp:", err)
		os.Exit(1)
	}
}

// options are the command's flags, each defaulting to an environment
// variable.
type options struct {
	addr, issuer, resource string
	scopes                 []string
}

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	var o options
	var scopes string
	fs := flag.NewFlagSet("mcp", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.addr, "addr", or(getenv("MCP_ADDR"), "127.0.0.1:9091"), "address to listen on (env MCP_ADDR)")
	fs.StringVar(&o.issuer, "issuer", getenv("MCP_ISSUER"), "Latchkey's issuer URL (env MCP_ISSUER)")
	fs.StringVar(&o.resource, "resource", getenv("MCP_RESOURCE"),
		"this server's MCP endpoint as clients call it, the tokens' required aud (env MCP_RESOURCE)")
	fs.StringVar(&scopes, "scopes", or(getenv("MCP_SCOPES"), scopeRead+" "+scopeWrite),
		"scopes published in the metadata, space- or comma-separated (env MCP_SCOPES)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: mcp --issuer URL --resource URL [--addr ADDR] [--scopes LIST]")
		fmt.Fprintln(stderr, "example: mcp --issuer http://127.0.0.1:8080 --resource http://127.0.0.1:9091/mcp")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.issuer == "" || o.resource == "" {
		fs.Usage()
		return o, errors.New("--issuer and --resource are required")
	}
	o.scopes = strings.FieldsFunc(scopes, func(r rune) bool { return r == ' ' || r == ',' })
	return o, nil
}

// run serves until ctx ends. It prints the address it listens on to
// stdout, so that a caller giving --addr 127.0.0.1:0 can find it; the
// resource URL must then be given with that port.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer ln.Close()
	return serve(ctx, ln, o, stdout, slog.New(slog.NewTextHandler(stderr, nil)))
}

// serve runs the MCP server on ln until ctx ends, then shuts it down,
// giving requests in flight five seconds.
func serve(ctx context.Context, ln net.Listener, o options, stdout io.Writer, log *slog.Logger) error {
	if _, err := bearer.MetadataURL(o.resource); err != nil {
		return fmt.Errorf("--resource: %w", err)
	}
	u, _ := url.Parse(o.resource) // checked by MetadataURL
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	v, err := bearer.New(ctx, bearer.Config{
		Issuer: o.issuer, Resource: o.resource, ScopesSupported: o.scopes,
		ResourceName: "Latchkey notes (MCP)", Logger: log,
	})
	if err != nil {
		return fmt.Errorf("%w (is Latchkey running at %s?)", err, o.issuer)
	}
	defer v.Close()
	srv := &http.Server{
		Handler:           newHandler(v, path, newNoteStore(time.Now), log),
		ReadHeaderTimeout: 5 * time.Second, IdleTimeout: time.Minute,
		// No WriteTimeout: MCP responses may be long-lived event streams.
	}
	fmt.Fprintf(stdout, "mcp: listening on http://%s, MCP endpoint %s, metadata %s\n", ln.Addr(), o.resource, v.MetadataURL())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); errors.Is(err, context.DeadlineExceeded) {
		// Event streams stay open until their clients leave: cut them.
		return srv.Close()
	} else if err != nil {
		return err
	}
	return nil
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
