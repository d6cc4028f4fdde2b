package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/latchkey/latchkey/internal/oauthclient"
)

const registerExample = `latchkey token register --redirect-uri http://127.0.0.1:9999/callback --grant-type authorization_code --grant-type refresh_token --auth-method none
latchkey token register --grant-type client_credentials --scope read --initial-access-token "$LATCHKEY_INITIAL_ACCESS_TOKEN"
latchkey token register --grant-type client_credentials --auth-method private_key_jwt --jwks-file client.pub.pem`

// registerFlags are the flags of token register.
type registerFlags struct {
	issuer, scope, name, authMethod, jwksURI, jwksFile, initialToken string
	redirects, grants                                                repeatFlag
	trace                                                            bool
}

// runTokenRegister registers a client with any server that offers
// dynamic client registration (RFC 7591) and prints the answer: the
// client_id, its secret and registration access token, shown only once.
func runTokenRegister(ctx context.Context, args []string, e env) error {
	fs := newFlags("token register", "token register [flags]", registerExample, e.stdout)
	var f registerFlags
	issuer := e.getenv("LATCHKEY_ISSUER")
	if issuer == "" {
		issuer = "http://127.0.0.1:8080"
	}
	fs.StringVar(&f.issuer, "issuer", issuer, "the authorization server's issuer `URL` (LATCHKEY_ISSUER)")
	fs.Var(&f.redirects, "redirect-uri", "a redirect `URI`; repeat for several")
	fs.Var(&f.grants, "grant-type", "a grant `type`, e.g. authorization_code; repeat for several (default: the server's, authorization_code)")
	fs.StringVar(&f.scope, "scope", "", "the `scopes` the client may ask for, space- or comma-separated (default: the server's)")
	fs.StringVar(&f.name, "client-name", "", "the `name` users see on the consent page")
	fs.StringVar(&f.authMethod, "auth-method", "", "token_endpoint_auth_method: none, client_secret_basic, client_secret_post or private_key_jwt\n"+
		"(default: the server's, client_secret_basic)")
	fs.StringVar(&f.jwksURI, "jwks-uri", "", "where a private_key_jwt client publishes its keys, an https `URL`")
	fs.StringVar(&f.jwksFile, "jwks-file", "", "the public keys of a private_key_jwt client: a JWK Set or a PEM public key in `FILE`")
	fs.StringVar(&f.initialToken, "initial-access-token", "", "an initial access `token` (prefer LATCHKEY_INITIAL_ACCESS_TOKEN: flags show in ps)")
	fs.BoolVar(&f.trace, "trace", false, "print the HTTP requests and responses, secrets masked (to stderr)")
	if done, err := parse(fs, args); done {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected arguments: %s", strings.Join(fs.Args(), " "))}
	}
	if f.initialToken == "" {
		f.initialToken = e.getenv("LATCHKEY_INITIAL_ACCESS_TOKEN")
	}
	md, err := f.metadata()
	if err != nil {
		return err
	}
	cfg := oauthclient.Config{Issuer: f.issuer}
	if f.trace {
		cfg.Trace = e.stderr
	}
	c, err := oauthclient.New(ctx, cfg)
	if err != nil {
		return err
	}
	out, err := c.Register(ctx, f.initialToken, md)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, out, "", "  "); err != nil {
		return fmt.Errorf("the registration response is not JSON: %w", err)
	}
	buf.WriteByte('\n')
	if _, err := buf.WriteTo(e.stdout); err != nil {
		return err
	}
	fmt.Fprintln(e.stderr, "Store client_secret and registration_access_token now: they are shown only once.")
	return nil
}

// metadata is the registration request the flags describe (RFC 7591 §2);
// what they leave out the server chooses.
func (f registerFlags) metadata() (map[string]any, error) {
	md := map[string]any{}
	if len(f.redirects) > 0 {
		md["redirect_uris"] = []string(f.redirects)
	}
	if len(f.grants) > 0 {
		md["grant_types"] = []string(f.grants)
	}
	if scopes := strings.FieldsFunc(f.scope, func(r rune) bool { return r == ' ' || r == ',' }); len(scopes) > 0 {
		md["scope"] = strings.Join(scopes, " ")
	}
	for name, v := range map[string]string{"client_name": f.name, "token_endpoint_auth_method": f.authMethod, "jwks_uri": f.jwksURI} {
		if v != "" {
			md[name] = v
		}
	}
	if f.jwksFile != "" {
		if f.jwksURI != "" {
			return nil, usageError{"give --jwks-file or --jwks-uri, not both (RFC 7591 §2)"}
		}
		set, err := readJWKS(f.jwksFile)
		if err != nil {
			return nil, err
		}
		md["jwks"] = set
	}
	return md, nil
}

// isRegister reports whether the token subcommand is register, which
// takes flags of its own.
func isRegister(args []string) bool { return len(args) > 0 && args[0] == "register" }
