package main

import (
	"bytes"
	"context"
	"crypto"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/latchkey/latchkey/dpop"
	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/oauthclient"
	"github.com/latchkey/latchkey/internal/protocol"
)

const tokenExample = `latchkey token client-credentials --client-id demo-service --client-secret "$SECRET" --scope read
curl -H "Authorization: Bearer $(latchkey token client-credentials --client-id demo-service -o token)" http://127.0.0.1:9090/notes
latchkey token password --client-id demo-app --username demo --scope "openid read" --trace
latchkey token authorization-code --client-id demo-web --scope "openid profile"
latchkey token device --client-id demo-tv --scope "openid read"
latchkey token jwt-bearer --client-id deployer --assertion-file /var/run/secrets/tokens/latchkey --scope deploy
latchkey token exchange --client-id notes-api --subject-token "$USER_TOKEN" --resource https://calendar.example --scope read
latchkey token refresh --client-id demo-app REFRESH_TOKEN
latchkey token introspect --client-id demo-service TOKEN
latchkey token revoke --client-id demo-app TOKEN
latchkey token register --redirect-uri http://127.0.0.1:9999/callback --grant-type authorization_code --auth-method none
latchkey token client-credentials --client-id svc --private-key client.pem --dpop --scope read
latchkey token client-credentials --client-id svc --private-key client.pem --key-id 2026-01 --resource https://api.example
latchkey token authorization-code --client-id web --private-key client.pem --par --dpop-key dpop.pem --scope openid
latchkey token refresh --client-id web --private-key client.pem --dpop-key dpop.pem REFRESH_TOKEN`

// tokenFlags are the flags every token subcommand takes.
type tokenFlags struct {
	serverFlags
	scope, output string
	trace         bool
	// subcommand-specific
	username, password, redirectURI, hint string
	noBrowser, passwordStdin              bool
	timeout                               time.Duration
	// sender constraints and FAPI 2.0
	dpop, par                  bool
	dpopKey, privateKey, keyID string
	resources                  repeatFlag
	device                     deviceFlags
	exchange                   exchangeFlags
	assertionFile              string
	set                        map[string]bool // the flags given
}

func (t *tokenFlags) register(fs *flag.FlagSet, getenv func(string) string) {
	t.serverFlags.register(fs, getenv)
	fs.StringVar(&t.scope, "scope", "", "requested `scopes`, space- or comma-separated")
	fs.StringVar(&t.output, "o", "json", "output: `json` (the whole response) or token (the bare access token)")
	fs.BoolVar(&t.trace, "trace", false, "print every HTTP request and response, numbered as steps, secrets masked, DPoP proofs and\n"+
		"client assertions decoded (to stderr)")
	fs.StringVar(&t.username, "username", "", "resource owner's `username` (password)")
	fs.StringVar(&t.password, "password", "", "resource owner's `password` (password; prompted when absent)")
	fs.BoolVar(&t.passwordStdin, "password-stdin", false, "read the resource owner's password from standard input (password)")
	fs.StringVar(&t.redirectURI, "redirect-uri", "", "loopback redirect `URI` (authorization-code; default http://127.0.0.1:<random>/callback)")
	fs.BoolVar(&t.noBrowser, "no-browser", false, "only print the URL, do not open a browser (authorization-code)")
	fs.DurationVar(&t.timeout, "timeout", 5*time.Minute, "how long to wait for the browser (authorization-code); for the user's approval\n"+
		"when given (device, which otherwise waits until the codes expire)")
	fs.StringVar(&t.hint, "hint", "", "token_type_hint: access_token or refresh_token (introspect, revoke)")
	fs.BoolVar(&t.dpop, "dpop", false, "bind the tokens to a new P-256 key with DPoP proofs (RFC 9449), forgotten at exit; token_type is then DPoP")
	fs.StringVar(&t.dpopKey, "dpop-key", "", "DPoP with the PEM private key (PKCS#8 or EC) in `FILE`, e.g. --dpop-key dpop.pem; when FILE does\n"+
		"not exist a new P-256 key is saved there (mode 0600), so a later refresh can prove the same key")
	fs.StringVar(&t.privateKey, "private-key", "", "authenticate with private_key_jwt (RFC 7523), not a secret: a new assertion for every request,\n"+
		"signed with the PEM private key in `FILE` (ES256 for P-256, PS256 for RSA, EdDSA for Ed25519), e.g. --private-key client.pem")
	fs.StringVar(&t.keyID, "key-id", "", "the `KID` of --private-key's key, when the client registered several, e.g. --key-id 2026-01")
	fs.BoolVar(&t.par, "par", false, "push the authorization request to the PAR endpoint first (RFC 9126); the browser gets only\n"+
		"client_id and request_uri (authorization-code)")
	fs.Var(&t.resources, "resource", "resource indicator (RFC 8707): a `URI` the token is for, its aud; repeat for several, e.g.\n"+
		"--resource https://api.example --resource https://files.example (not introspect, revoke)")
	t.device.register(fs)
	t.exchange.register(fs)
	fs.StringVar(&t.assertionFile, "assertion-file", "", "the `FILE` holding the JWT to present, read at each run (jwt-bearer; - reads standard\n"+
		"input), e.g. --assertion-file /var/run/secrets/tokens/latchkey")
}

// check refuses the combinations of flags that cannot work for sub.
func (t *tokenFlags) check(sub string, getenv func(string) string) error {
	if t.privateKey != "" {
		switch {
		case t.set["client-secret"]:
			return usageError{"--private-key authenticates with private_key_jwt, --client-secret with a secret: give one of them"}
		case t.secret != "":
			return usageError{"--private-key authenticates with private_key_jwt, but LATCHKEY_CLIENT_SECRET holds a secret: unset it"}
		case t.set["auth-method"]:
			return usageError{"--auth-method says how a secret is sent; with --private-key there is none: leave it out"}
		}
	} else if t.keyID != "" {
		return usageError{"--key-id names the key of --private-key: give --private-key FILE too"}
	}
	if err := t.device.check(sub, t.set); err != nil {
		return err
	}
	if err := t.exchange.check(sub, t.set); err != nil {
		return err
	}
	if t.set["assertion-file"] && sub != "jwt-bearer" {
		return usageError{"--assertion-file is for latchkey token jwt-bearer only"}
	}
	if t.par && sub != "authorization-code" {
		return usageError{"--par pushes an authorization request: it is for authorization-code only"}
	}
	if sub == "introspect" || sub == "revoke" {
		for _, name := range []string{"dpop", "dpop-key", "resource"} {
			if t.set[name] {
				return usageError{fmt.Sprintf("--%s is for requests that get tokens, not %s", name, sub)}
			}
		}
	}
	for _, r := range t.resources {
		if msg := protocol.ResourceProblem(r); msg != "" {
			return usageError{fmt.Sprintf("--resource %q %s", r, msg)}
		}
	}
	return nil
}

// keys reads the private key and the DPoP key the flags name; a --dpop-key
// file that does not exist is created, and said so on stderr.
func (t *tokenFlags) keys(cfg *oauthclient.Config, e env) error {
	if t.privateKey != "" {
		key, err := oauthclient.ReadPrivateKey(t.privateKey)
		if err != nil {
			return fmt.Errorf("--private-key: %w", err)
		}
		if _, err := oauthclient.AssertionAlg(key); err != nil {
			return fmt.Errorf("--private-key %s: %w", t.privateKey, err)
		}
		cfg.PrivateKey, cfg.KeyID = key, t.keyID
	}
	var key crypto.Signer
	var err error
	switch {
	case t.dpopKey != "":
		var created bool
		if key, created, err = oauthclient.LoadOrCreateKey(t.dpopKey); err != nil {
			return fmt.Errorf("--dpop-key: %w", err)
		}
		if created {
			fmt.Fprintf(e.stderr, "saved a new DPoP key in %s (mode 0600): give --dpop-key %s again to refresh the tokens bound to it\n", t.dpopKey, t.dpopKey)
		}
	case t.dpop:
		if key, err = dpop.GenerateKey(); err != nil {
			return err
		}
	default:
		return nil
	}
	if cfg.DPoP, err = dpop.NewProver(key); err != nil {
		return fmt.Errorf("--dpop-key %s: %w", t.dpopKey, err)
	}
	return nil
}

func runToken(ctx context.Context, args []string, e env) error {
	if isRegister(args) {
		return runTokenRegister(ctx, args[1:], e)
	}
	fs := newFlags("token", "token client-credentials|password|authorization-code|device|exchange|jwt-bearer|refresh|introspect|revoke|register [flags] [TOKEN]", tokenExample, e.stdout)
	var t tokenFlags
	t.register(fs, e.getenv)
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if done, err := parse(fs, args); done {
			return err
		}
		fs.Usage()
		return usageError{"expected a subcommand: client-credentials, password, authorization-code, device, exchange, jwt-bearer, refresh, introspect, revoke or register"}
	}
	sub := args[0]
	if done, err := parse(fs, args[1:]); done {
		return err
	}
	// Flags may also follow the token: token introspect TOKEN --client-id svc.
	rest := fs.Args()
	if len(rest) > 1 {
		first := rest[0]
		if done, err := parse(fs, rest[1:]); done {
			return err
		}
		rest = append([]string{first}, fs.Args()...)
	}
	if len(rest) > 1 {
		return usageError{fmt.Sprintf("unexpected arguments: %s", strings.Join(rest[1:], " "))}
	}
	t.set = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { t.set[f.Name] = true })
	t.secretFromEnv(e.getenv)
	switch sub { // before discovery, so a typo is not reported as a network error
	case "client-credentials", "password", "authorization-code", "device", "exchange", "jwt-bearer", "refresh", "introspect", "revoke":
	default:
		return usageError{fmt.Sprintf("unknown token subcommand %q: use client-credentials, password, authorization-code, device, exchange, jwt-bearer, refresh, introspect or revoke", sub)}
	}
	if t.clientID == "" {
		return usageError{"--client-id is required"}
	}
	if t.output != "json" && t.output != "token" {
		return usageError{"-o must be json or token"}
	}
	if err := t.check(sub, e.getenv); err != nil {
		return err
	}
	cfg := oauthclient.Config{Issuer: t.issuer, ClientID: t.clientID, ClientSecret: config.Secret(t.secret), AuthMethod: t.authMethod.method(),
		Scopes: strings.FieldsFunc(t.scope, func(r rune) bool { return r == ' ' || r == ',' }), Resources: t.resources}
	if err := t.keys(&cfg, e); err != nil {
		return err
	}
	if t.trace {
		cfg.Trace = e.stderr
	}
	c, err := oauthclient.New(ctx, cfg)
	if err != nil {
		return err
	}
	return runTokenSub(ctx, c, sub, rest, t, e)
}

func runTokenSub(ctx context.Context, c *oauthclient.Client, sub string, rest []string, t tokenFlags, e env) error {
	arg := ""
	if len(rest) > 0 {
		arg = rest[0]
	}
	var resp oauthclient.Response
	var err error
	switch sub {
	case "client-credentials":
		resp, err = c.ClientCredentials(ctx)
	case "password":
		if t.username == "" {
			return usageError{"--username is required"}
		}
		pw, perr := readPassword(t.password, t.passwordStdin, e)
		if perr != nil {
			return perr
		}
		resp, err = c.Password(ctx, t.username, pw)
	case "authorization-code":
		resp, err = c.AuthorizationCode(ctx, oauthclient.AuthCodeOptions{
			RedirectURI: t.redirectURI, Timeout: t.timeout, Open: browserOpener(t.noBrowser, e), PAR: t.par})
	case "device":
		resp, err = tokenDevice(ctx, c, t, e)
	case "exchange":
		resp, err = tokenExchange(ctx, c, t.exchange, e.stdin)
	case "jwt-bearer":
		resp, err = tokenJWTBearer(ctx, c, t.assertionFile, e.stdin)
	case "refresh":
		if arg == "" {
			return usageError{"give the refresh token: latchkey token refresh [flags] REFRESH_TOKEN"}
		}
		resp, err = c.Refresh(ctx, arg)
	case "introspect":
		return introspect(ctx, c, arg, t.hint, e)
	case "revoke":
		if arg == "" {
			return usageError{"give the token: latchkey token revoke [flags] TOKEN"}
		}
		if err := c.Revoke(ctx, arg, t.hint); err != nil {
			return err
		}
		fmt.Fprintln(e.stderr, "revoked")
		return nil
	default:
		return usageError{fmt.Sprintf("unknown token subcommand %q", sub)}
	}
	if err != nil {
		return err
	}
	return printToken(e.stdout, resp, t.output)
}

func introspect(ctx context.Context, c *oauthclient.Client, token, hint string, e env) error {
	if token == "" {
		return usageError{"give the token: latchkey token introspect [flags] TOKEN"}
	}
	out, err := c.Introspect(ctx, token, hint)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func printToken(w io.Writer, resp oauthclient.Response, output string) error {
	if output == "token" {
		_, err := fmt.Fprintln(w, resp.Token.AccessToken)
		return err
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, resp.Raw, "", "  "); err != nil {
		return fmt.Errorf("the token response is not JSON: %w", err)
	}
	buf.WriteByte('\n')
	_, err := buf.WriteTo(w)
	return err
}

// browserOpener prints the URL and, unless told not to, opens the
// system's browser on it.
func browserOpener(noBrowser bool, e env) func(context.Context, string) error {
	return func(ctx context.Context, u string) error {
		fmt.Fprintf(e.stderr, "Open this URL in your browser to sign in:\n\n  %s\n\n", u)
		if noBrowser {
			return nil
		}
		var cmd *exec.Cmd
		switch runtime.GOOS {
		case "darwin":
			cmd = exec.CommandContext(ctx, "open", u)
		case "windows":
			cmd = exec.CommandContext(ctx, "rundll32", "url.dll,FileProtocolHandler", u)
		default:
			if _, err := exec.LookPath("xdg-open"); err != nil || e.getenv("DISPLAY")+e.getenv("WAYLAND_DISPLAY") == "" {
				return nil
			}
			cmd = exec.CommandContext(ctx, "xdg-open", u)
		}
		if err := cmd.Start(); err == nil {
			go func() { _ = cmd.Wait() }()
		}
		return nil
	}
}
