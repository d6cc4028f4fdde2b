package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/latchkey/latchkey/internal/protocol"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/latchkey/latchkey/bearer"
	"github.com/latchkey/latchkey/dpop"
	"github.com/latchkey/latchkey/examples/notes/notes"
	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/oauthclient"
)

const demoExample = `latchkey demo
latchkey demo --browser`

// demoSetup is what the demo starts: Latchkey, the notes API, and the
// clients and user it plays with.
type demoSetup struct {
	issuer, notesURL string
	// calendarURL is the second resource server, which the notes API
	// calls for the user with an exchanged token.
	calendarURL    string
	user, password string
	secrets        map[string]string
	// stopped is closed when Latchkey has stopped and closed its store.
	stopped chan struct{}
}

// runDemo plays the grants of the seed text step by step against a real
// Latchkey and a real resource server, both on loopback ports, with a
// temporary SQLite store that is removed afterwards.
func runDemo(ctx context.Context, args []string, e env) error {
	fs := newFlags("demo", "demo [--browser]", demoExample, e.stdout)
	browser := fs.Bool("browser", false, "do the login and consent yourself in a real browser instead of the scripted one")
	if done, err := parse(fs, args); done {
		return err
	}
	dir, err := os.MkdirTemp("", "latchkey-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	d, err := startDemo(ctx, dir, e)
	if err != nil {
		return err
	}
	// Stop Latchkey and let it close its database before dir is removed.
	defer func() { stop(); <-d.stopped }()
	p := &player{d: d, out: e.stdout, browser: *browser, e: e}
	return p.play(ctx)
}

func startDemo(ctx context.Context, dir string, e env) (*demoSetup, error) {
	asLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	rsLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		asLn.Close()
		return nil, err
	}
	calLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		asLn.Close()
		rsLn.Close()
		return nil, err
	}
	d := &demoSetup{issuer: "http://" + asLn.Addr().String(), notesURL: "http://" + rsLn.Addr().String(), calendarURL: "http://" + calLn.Addr().String(),
		user: "alice", password: randomHex(8), secrets: map[string]string{}, stopped: make(chan struct{})}
	cfg := demoConfig(d, dir)
	if err := cfg.Validate(rules()); err != nil {
		return nil, fmt.Errorf("demo config: %w", err)
	}
	quiet := slog.New(slog.DiscardHandler)
	served := make(chan error, 1)
	go func() {
		served <- serve(ctx, cfg, asLn, false, env{getenv: e.getenv, stdout: io.Discard, stderr: io.Discard}, quiet)
		close(d.stopped)
	}()
	if err := waitReady(ctx, d.issuer+"/healthz", served); err != nil {
		return nil, err
	}
	v, err := bearer.New(ctx, bearer.Config{Issuer: d.issuer, Audience: d.notesURL, PublicURL: d.notesURL})
	if err != nil {
		return nil, fmt.Errorf("notes API: %w", err)
	}
	rs := &http.Server{Handler: notes.NewHandler(v), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = rs.Serve(rsLn) }()
	cv, err := bearer.New(ctx, bearer.Config{Issuer: d.issuer, Audience: d.calendarURL, PublicURL: d.calendarURL})
	if err != nil {
		v.Close()
		return nil, fmt.Errorf("calendar API: %w", err)
	}
	cs := &http.Server{Handler: calendarHandler(cv), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = cs.Serve(calLn) }()
	go func() {
		<-ctx.Done()
		rs.Close()
		cs.Close()
		v.Close()
		cv.Close()
	}()
	return d, nil
}

// demoConfig defines the demo's clients and user the way a user would, in
// the configuration: one client per grant, each allowed to call the notes
// API (its audience).
func demoConfig(d *demoSetup, dir string) config.Config {
	cfg := config.Default()
	cfg.Issuer = d.issuer
	cfg.Storage = config.StorageURL("sqlite://" + filepath.Join(dir, "latchkey.db"))
	cfg.Secrets.System = config.Secret(randomHex(32))
	cfg.Log.Level = "error"
	for _, id := range []string{"notes-web", "notes-cli", "notes-sync", "notes-bank", "notes-api"} {
		d.secrets[id] = randomHex(24)
	}
	aud := []string{d.notesURL}
	cfg.Clients = []config.Client{
		{ID: "notes-web", Name: "Notes Web", Secret: config.Secret(d.secrets["notes-web"]), RedirectURIs: []string{"http://127.0.0.1/callback"},
			GrantTypes: []string{protocol.GrantAuthorizationCode, protocol.GrantRefreshToken}, Scopes: []string{"openid", "profile", "read", "write"}, Audience: aud,
			Resources: []string{d.notesURL, d.calendarURL}},
		{ID: "notes-cli", Name: "Notes CLI", Secret: config.Secret(d.secrets["notes-cli"]),
			GrantTypes: []string{protocol.GrantPassword, protocol.GrantRefreshToken}, Scopes: []string{"read", "write"}, Audience: aud},
		{ID: "notes-sync", Name: "Notes Sync", Secret: config.Secret(d.secrets["notes-sync"]),
			GrantTypes: []string{protocol.GrantClientCredentials}, Scopes: []string{"read"}, Audience: aud},
		{ID: "notes-bank", Name: "Notes Bank", Secret: config.Secret(d.secrets["notes-bank"]),
			GrantTypes: []string{protocol.GrantClientCredentials}, Scopes: []string{"read"}, Audience: aud,
			DPoPBoundAccessTokens: true},
		// The notes API's own client: it trades the tokens users bring it
		// for tokens to the calendar API (RFC 8693), always as itself (act).
		{ID: "notes-api", Name: "Notes API", Secret: config.Secret(d.secrets["notes-api"]),
			GrantTypes: []string{protocol.GrantTokenExchange}, Scopes: []string{"read"}, Resources: []string{d.calendarURL},
			TokenExchange: &config.TokenExchange{AllowedSubjectClients: []string{"notes-web"}}},
		{ID: demoTV, Name: "Notes TV", Public: true,
			GrantTypes: []string{protocol.GrantDeviceCode}, Scopes: []string{"read"}, Audience: aud},
	}
	// The TV polls every second, not every 5 s, so the act does not drag.
	cfg.Device.Interval = config.Duration(time.Second)
	cfg.Users = []config.User{{Username: d.user, Password: config.Secret(d.password),
		Claims: map[string]any{"name": "Alice Liddell", "email": "alice@example.com", "email_verified": true}}}
	return cfg
}

// waitReady polls url until it answers 200, the server fails, or 10 s pass.
func waitReady(ctx context.Context, url string, served <-chan error) error {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-served:
			return fmt.Errorf("latchkey stopped: %w", err)
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("latchkey did not become ready within 10 seconds")
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newDemoClient is an OAuth client of the demo that traces to out; with a
// prover its tokens are DPoP-bound.
func newDemoClient(ctx context.Context, d *demoSetup, id string, scopes []string, out io.Writer, prover ...*dpop.Prover) (*oauthclient.Client, error) {
	cfg := oauthclient.Config{Issuer: d.issuer, ClientID: id, ClientSecret: config.Secret(d.secrets[id]), Scopes: scopes, Trace: out}
	if len(prover) > 0 {
		cfg.DPoP = prover[0]
	}
	return oauthclient.New(ctx, cfg)
}
