// Command floor is the reference floor for Latchkey's benchmarks: the
// smallest correct Go server for the requests `latchkey bench` sends with
// --grant client-credentials (with or without --dpop) and --grant
// introspect, and, with --store, for one user's grants: --grant password
// (one argon2id check), --grant refresh (a rotation in one SQLite write
// transaction, an ES256 access token, an RS256 ID token when openid is
// asked) and --grant authorization-code (a code inserted at /authorize
// behind a MACed session cookie; at /token the code deleted as it is
// read, PKCE S256, a refresh token inserted, both signatures). With
// --dpop it also verifies one ES256 DPoP proof per token request (RFC
// 9449, the public dpop package's Verifier with a replay cache in memory)
// and binds the token to its key. It does what those requests need and
// nothing else: one client, keys made at start, no revocation beyond a
// refresh family's, no logging per request. Measured beside Latchkey
// under the same load (bench/run), it shows what Latchkey costs above the
// work the protocol itself demands.
//
//	FLOOR_CLIENT_SECRET=s3cret go run ./bench/floor --addr 127.0.0.1:9090 --client-id bench
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
}

// run parses the flags, builds the floor and serves it until ctx ends.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := flag.NewFlagSet("floor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:9090", "`address` to listen on")
	clientID := fs.String("client-id", "bench", "the one client's `id`")
	secret := fs.String("client-secret", "", "the client's `secret` (default: $FLOOR_CLIENT_SECRET; flags show in ps)")
	issuer := fs.String("issuer", "", "issuer `URL` (default http://<addr>)")
	scopes := fs.String("scopes", "read write", "space-separated `scopes` the client may get (all of them when it asks for none)")
	withDPoP := fs.Bool("dpop", false, "every token request must carry an ES256 DPoP proof (RFC 9449), verified, its jti kept in memory; the token is bound to its key")
	store := fs.String("store", "", "SQLite `file` for codes and refresh tokens: adds the password, refresh_token and authorization_code grants for one user (--username, $FLOOR_PASSWORD) and the client's --redirect-uri")
	username := fs.String("username", "bench", "with --store: the one user's `name`")
	redirectURI := fs.String("redirect-uri", "", "with --store: the client's one redirect `URI`")
	replayCache := fs.Int("replay-cache", 1<<20, "with --dpop: the most proofs the replay cache holds (size it for every proof of the 60 s window at the highest rate)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: floor [--addr ADDR] [--client-id ID] [--issuer URL] [--scopes LIST] [--dpop] [--store FILE --username NAME --redirect-uri URI]")
		fmt.Fprintln(stderr, "\nExample:\n  FLOOR_CLIENT_SECRET=s3cret floor --addr 127.0.0.1:9090 --client-id bench")
		fmt.Fprintln(stderr, "  FLOOR_CLIENT_SECRET=s3cret floor --addr 127.0.0.1:9091 --client-id bench --dpop")
		fmt.Fprintln(stderr, "  FLOOR_CLIENT_SECRET=s3cret FLOOR_PASSWORD=pw floor --addr 127.0.0.1:9092 --client-id web --scopes 'openid read' \\")
		fmt.Fprintln(stderr, "    --store /tmp/floor.db --username bench --redirect-uri http://127.0.0.1:1/callback\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *secret == "" {
		*secret = getenv("FLOOR_CLIENT_SECRET")
	}
	if *secret == "" {
		return errors.New("no client secret: set FLOOR_CLIENT_SECRET or pass --client-secret")
	}
	password := getenv("FLOOR_PASSWORD")
	if *store != "" && (password == "" || *redirectURI == "") {
		return errors.New("--store needs the user's password in $FLOOR_PASSWORD and --redirect-uri")
	}
	if *issuer == "" {
		*issuer = "http://" + *addr
	}
	f, err := newFloor(config{
		Issuer: *issuer, ClientID: *clientID, ClientSecret: *secret, Scopes: strings.Fields(*scopes),
		DPoP: *withDPoP, ReplayCacheSize: *replayCache,
		StorePath: *store, Username: *username, Password: password, RedirectURI: *redirectURI,
	}, rand.Reader, time.Now)
	if err != nil {
		return err
	}
	if f.u != nil {
		defer f.u.close()
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           f.routes(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
	}
	slog.New(slog.NewTextHandler(stderr, nil)).Info("floor listening", "addr", ln.Addr().String(), "issuer", *issuer, "dpop", *withDPoP)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}
