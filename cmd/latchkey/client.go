package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/admin"
	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/protocol"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/token"
)

const clientExample = `latchkey client create --id reports --grant-types client_credentials --scopes read,write
latchkey client create --id web --grant-types authorization_code,refresh_token --scopes openid,profile,read --redirect-uris https://app.example/callback
latchkey client create --id spa --public --grant-types authorization_code,refresh_token --scopes openid,read --redirect-uris http://127.0.0.1:9999/callback
latchkey client create --id svc --grant-types client_credentials --scopes read --token-endpoint-auth-method private_key_jwt --jwks-file client.pub.pem --dpop-bound
latchkey client create --id bank --profile fapi2 --grant-types authorization_code,refresh_token --scopes openid,accounts --redirect-uris https://bank.example/cb --jwks-uri https://bank.example/jwks.json --resource https://api.bank.example
latchkey client list
latchkey client show reports
latchkey client rotate-secret reports
latchkey client delete reports`

func runClient(ctx context.Context, args []string, e env) error {
	fs := newFlags("client", "client create|list|show|delete|rotate-secret [ID] [flags]", clientExample, e.stdout)
	var cf configFlags
	cf.register(fs)
	var c clientFlags
	c.register(fs)
	var rf remoteFlags
	rf.register(fs, e.getenv)
	sub, id, done, err := parseNamedSubcommand(fs, args, "client", []string{"create", "list", "show", "delete", "rotate-secret"})
	if done {
		return err
	}
	if id == "" {
		id = c.id
	}
	if remote, err := rf.remote(e.getenv, cf.issuer); err != nil {
		return err
	} else if remote {
		return runClientRemote(ctx, sub, id, c, rf, e)
	}
	return withStore(ctx, &cf, e, func(_ config.Config, st store.Store, _ []string) error {
		switch sub {
		case "create":
			return createClient(ctx, st, id, c, e)
		case "list":
			return listClients(ctx, st, rf.output, e)
		case "show":
			return showClient(ctx, st, id, e)
		case "delete":
			return deleteClient(ctx, st, id, e)
		case "rotate-secret":
			return rotateSecret(ctx, st, id, e)
		}
		return usageError{fmt.Sprintf("unknown client subcommand %q", sub)}
	})
}

type clientFlags struct {
	id, name, format, authMethod                                   string
	public, introspection, skipConsent                             bool
	requireMFA, passwordGrantMFA                                   bool
	grants, scopes, defaults, redirects, logoutRedirects, audience listFlag
	// private_key_jwt, sender constraints, FAPI 2.0
	jwksFile, jwksURI, profile, rotation string
	resources                            repeatFlag
	dpopBound, requireNonce, requirePAR  bool
}

func (c *clientFlags) register(fs flagRegistrar) {
	fs.StringVar(&c.id, "id", "", "client `id` (create)")
	fs.StringVar(&c.name, "name", "", "display `name` shown on the consent page (create)")
	fs.StringVar(&c.format, "access-token-format", "jwt", "`jwt` or opaque (create)")
	fs.BoolVar(&c.public, "public", false, "a public client: no secret, PKCE only (create)")
	fs.BoolVar(&c.introspection, "introspection", false, "may introspect any token, for resource servers (create)")
	fs.BoolVar(&c.skipConsent, "skip-consent", false, "first-party client: users are not asked to consent (create)")
	fs.BoolVar(&c.requireMFA, "require-mfa", false, "every sign-in for it uses a second factor; users without one enrol at sign-in (create)")
	fs.BoolVar(&c.passwordGrantMFA, "password-grant-mfa", false, "the password grant stays open to users who have a second factor (create)")
	fs.Var(&c.grants, "grant-types", "comma-separated grant types (create): "+grantNames())
	fs.StringVar(&c.authMethod, "token-endpoint-auth-method", "", "`method` the client authenticates with: "+authMethodNames()+
		" (create; default: client_secret_basic or client_secret_post, none when public)")
	fs.Var(&c.scopes, "scopes", "comma-separated scopes it may get (create)")
	fs.Var(&c.defaults, "default-scopes", "scopes granted when a request names none (create; default: all)")
	fs.Var(&c.redirects, "redirect-uris", "comma-separated redirect URIs (create)")
	fs.Var(&c.logoutRedirects, "post-logout-redirect-uris", "comma-separated post-logout redirect URIs (create)")
	fs.Var(&c.audience, "audience", "access-token audience (create; default: the issuer)")
	fs.StringVar(&c.jwksFile, "jwks-file", "", "the public keys of a private_key_jwt client: a JWK Set (JSON) or a PEM public key in `FILE`,\n"+
		"e.g. --jwks-file client.pub.pem (create)")
	fs.StringVar(&c.jwksURI, "jwks-uri", "", "where a private_key_jwt client publishes its JWK Set, an https `URL`, e.g.\n"+
		"--jwks-uri https://app.example/jwks.json (create)")
	fs.Var(&c.resources, "resource", "a resource indicator (RFC 8707) the client may ask tokens for, their aud: an absolute `URI`;\n"+
		"repeat for several, e.g. --resource https://api.example --resource https://files.example (create)")
	fs.BoolVar(&c.dpopBound, "dpop-bound", false, "its tokens must be DPoP-bound: every token request carries a DPoP proof (RFC 9449 §5) (create)")
	fs.BoolVar(&c.requireNonce, "require-dpop-nonce", false, "its DPoP proofs must carry a nonce the server gives (RFC 9449 §8) (create)")
	fs.BoolVar(&c.requirePAR, "require-par", false, "it must push its authorization requests to the PAR endpoint (RFC 9126 §6) (create)")
	fs.StringVar(&c.profile, "profile", "", "`fapi2`: the FAPI 2.0 Security Profile: private_key_jwt, DPoP-bound tokens and PAR, no secret,\n"+
		"not public, no password grant; give --jwks-file or --jwks-uri (create)")
	fs.StringVar(&c.rotation, "refresh-rotation", "", "`rotate` (a new refresh token at every use; the default) or reuse (the default under fapi2) (create)")
}

// toConfig checks the flags with the same rules as the config file.
func (c clientFlags) toConfig(id string) (config.Client, error) {
	cc := config.Client{
		ID: id, Name: c.name, Public: c.public, RedirectURIs: c.redirects, PostLogoutRedirectURIs: c.logoutRedirects,
		GrantTypes: c.grants, Scopes: c.scopes, DefaultScopes: c.defaults, Audience: c.audience,
		AccessTokenFormat: c.format, Introspection: c.introspection, SkipConsent: c.skipConsent,
		TokenEndpointAuthMethod: c.authMethod, JWKSURI: c.jwksURI, Resources: c.resources,
		DPoPBoundAccessTokens: c.dpopBound, RequireDPoPNonce: c.requireNonce, RequirePushedAuthorizationRequests: c.requirePAR,
		Profile: c.profile, RefreshTokenRotation: c.rotation, RequireMFA: c.requireMFA, PasswordGrantMFA: c.passwordGrantMFA,
	}
	if c.jwksFile != "" {
		set, err := readJWKS(c.jwksFile)
		if err != nil {
			return cc, err
		}
		cc.JWKS = set
	}
	if cc.UsesKeys() && len(cc.JWKS) == 0 && cc.JWKSURI == "" {
		return cc, usageError{"a private_key_jwt client needs its public keys: give --jwks-file FILE or --jwks-uri URL"}
	}
	return cc, nil
}

// flagOf names the flag of a client field whose name differs from it.
var flagOf = map[string]string{
	"jwks": "--jwks-file", "resources": "--resource", "dpop_bound_access_tokens": "--dpop-bound",
	"require_pushed_authorization_requests": "--require-par", "refresh_token_rotation": "--refresh-rotation",
}

// grantNames lists the grants of the server's registry for --help.
func grantNames() string {
	var names []string
	for _, g := range server.Grants() {
		names = append(names, g.Type+" ("+g.Summary+")")
	}
	return strings.Join(names, ", ")
}

// authMethodNames lists the server's client authentication methods.
func authMethodNames() string {
	var names []string
	for _, m := range server.AuthMethods() {
		names = append(names, string(m))
	}
	return strings.Join(names, ", ")
}

func createClient(ctx context.Context, st store.Store, id string, c clientFlags, e env) error {
	if id == "" {
		return usageError{"client create needs --id"}
	}
	cc, err := c.toConfig(id)
	if err != nil {
		return err
	}
	withSecret := !cc.Public && !cc.UsesKeys() // a private_key_jwt client proves itself with its key
	if withSecret {
		cc.Secret = config.Secret(strings.Repeat("x", 32)) // validated as present; the real one is generated below
	}
	if err := validateClient(cc); err != nil {
		return err
	}
	sc := clientFromConfig(cc, time.Now())
	sc.Source = "cli"
	var secret string
	if withSecret {
		var err error
		if secret, _, err = token.New(token.PrefixClientSecret, rand.Reader); err != nil {
			return err
		}
		sc.SecretHash = token.HashSecret(secret)
	}
	if err := st.CreateClient(ctx, sc); errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("client %q exists already: pick another id, or delete it first", id)
	} else if err != nil {
		return err
	}
	printCreated(e, id, secret, sc.TokenEndpointAuthMethod)
	return nil
}

// printCreated says that client id was created, with its secret (shown
// once) or how it authenticates instead; local and remote alike.
func printCreated(e env, id, secret, method string) {
	fmt.Fprintf(e.stdout, "created client %s\n", id)
	if secret != "" {
		fmt.Fprintf(e.stdout, "client_secret: %s\n", secret)
		fmt.Fprintln(e.stdout, "Store it now: it is shown only once (rotate-secret makes a new one).")
	}
	if method == string(protocol.AuthPrivateKeyJWT) {
		fmt.Fprintln(e.stdout, "It authenticates with private_key_jwt and has no secret: latchkey token --private-key KEY.pem")
	}
}

// validateClient runs the config file's rules on one client. Problems
// name the flag to change (--grant-types), not the path the config file
// would have (clients[0].grant_types[1]).
func validateClient(cc config.Client) error {
	cfg := config.Default()
	cfg.Clients = []config.Client{cc}
	err := cfg.Validate(rules())
	var probs config.Problems
	if !errors.As(err, &probs) {
		return err
	}
	for i, p := range probs {
		rest, ok := strings.CutPrefix(p.Where, "clients[0].")
		if field := strings.FieldsFunc(rest, func(r rune) bool { return r == '.' || r == '[' }); ok && len(field) > 0 && field[0] != "secret" {
			probs[i].Where = "--" + strings.ReplaceAll(field[0], "_", "-")
			if f, ok := flagOf[field[0]]; ok {
				probs[i].Where = f
			}
		}
	}
	return probs
}

func listClients(ctx context.Context, st store.Store, output string, e env) error {
	all, err := st.ListClients(ctx)
	if err != nil {
		return err
	}
	views := make([]map[string]any, len(all))
	for i, c := range all {
		views[i] = admin.ClientView(c)
	}
	return printClients(views, output, e)
}

// printClients prints client views (as the admin API has them) as a
// table or as JSON; local and remote alike.
func printClients(views []map[string]any, output string, e env) error {
	if output == "json" {
		return writeJSONList(e.stdout, views)
	}
	var rows [][]string
	for _, v := range views {
		kind := "confidential"
		if v["public"] == true {
			kind = "public"
		}
		rows = append(rows, []string{str(v["id"]), kind, joined(v["grant_types"]), joined(v["scopes"]), str(v["source"])})
	}
	return writeTable(e.stdout, []string{"ID", "TYPE", "GRANT TYPES", "SCOPES", "SOURCE"}, rows)
}

// str is a view's string member.
func str(v any) string {
	s, _ := v.(string)
	return s
}

// joined is a view's list member, comma-separated.
func joined(v any) string {
	var out []string
	switch l := v.(type) {
	case []string:
		out = l
	case []any:
		for _, x := range l {
			out = append(out, str(x))
		}
	}
	return strings.Join(out, ",")
}

func showClient(ctx context.Context, st store.Store, id string, e env) error {
	c, err := getClient(ctx, st, id)
	if err != nil {
		return err
	}
	return printClient(c, e)
}

// printClient prints what client show shows; local and remote alike.
func printClient(c store.Client, e env) error {
	out := map[string]any{
		"id": c.ID, "name": c.Name, "public": c.Public, "redirect_uris": c.RedirectURIs,
		"post_logout_redirect_uris": c.PostLogoutRedirectURIs, "grant_types": c.GrantTypes, "scopes": c.Scopes,
		"default_scopes": c.DefaultScopes, "audience": c.Audience, "access_token_format": c.AccessTokenFormat,
		"introspection": c.Introspection, "skip_consent": c.SkipConsent, "source": c.Source,
		"created_at": c.CreatedAt.Format(time.RFC3339), "has_secret": c.SecretHash != "",
	}
	if c.TokenEndpointAuthMethod != "" {
		out["token_endpoint_auth_method"] = c.TokenEndpointAuthMethod
	}
	showKeysAndConstraints(out, c)
	showRegistered(out, c)
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// showKeysAndConstraints adds the client's keys, resources, DPoP, PAR,
// profile and refresh rotation to what client show prints, each only when
// set.
func showKeysAndConstraints(out map[string]any, c store.Client) {
	if c.JWKS != "" {
		var set any
		if json.Unmarshal([]byte(c.JWKS), &set) == nil {
			out["jwks"] = set
		}
	}
	for name, v := range map[string]string{"jwks_uri": c.JWKSURI, "profile": c.Profile, "refresh_token_rotation": c.RefreshRotation} {
		if v != "" {
			out[name] = v
		}
	}
	if len(c.Resources) > 0 {
		out["resources"] = c.Resources
	}
	for name, v := range map[string]bool{"dpop_bound_access_tokens": c.DPoPBoundAccessTokens, "require_dpop_nonce": c.RequireDPoPNonce,
		"require_pushed_authorization_requests": c.RequirePAR, "require_mfa": c.RequireMFA, "password_grant_mfa": c.PasswordGrantMFA} {
		if v {
			out[name] = true
		}
	}
	if x := c.TokenExchange; slices.Contains(c.GrantTypes, protocol.GrantTokenExchange) {
		out["token_exchange"] = map[string]any{"allowed_subject_clients": nonNil(x.AllowedSubjectClients),
			"impersonation": x.Impersonation, "refresh_tokens": x.RefreshTokens, "beyond_subject_lifetime": x.BeyondSubjectLifetime}
	}
}

// nonNil shows an empty list as [] rather than null.
func nonNil(list []string) []string {
	if list == nil {
		return []string{}
	}
	return list
}

// showRegistered adds what a self-registered client (RFC 7591) asserts
// about itself: unverified, so client show says so.
func showRegistered(out map[string]any, c store.Client) {
	if c.Source != "registration" {
		return
	}
	out["verified"] = false
	for name, v := range map[string]string{"client_uri": c.ClientURI, "logo_uri": c.LogoURI} {
		if v != "" {
			out[name] = v
		}
	}
	var more map[string]any
	if c.Metadata != "" && json.Unmarshal([]byte(c.Metadata), &more) == nil {
		for k, v := range more {
			out[k] = v
		}
	}
}

func getClient(ctx context.Context, st store.Store, id string) (store.Client, error) {
	if id == "" {
		return store.Client{}, usageError{"name the client: latchkey client show ID"}
	}
	c, err := st.GetClient(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return c, fmt.Errorf("no client %q (latchkey client list shows them)", id)
	}
	return c, err
}

func deleteClient(ctx context.Context, st store.Store, id string, e env) error {
	c, err := getClient(ctx, st, id)
	if err != nil {
		return err
	}
	if err := st.DeleteClient(ctx, id); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "deleted client %s and every token issued to it\n", id)
	if c.Source == "config" {
		fmt.Fprintln(e.stdout, "note: it is defined in the config file and comes back at the next start unless you remove it there")
	}
	return nil
}

func rotateSecret(ctx context.Context, st store.Store, id string, e env) error {
	c, err := getClient(ctx, st, id)
	if err != nil {
		return err
	}
	if c.Public {
		return fmt.Errorf("client %s is public: it has no secret", id)
	}
	if c.TokenEndpointAuthMethod == string(protocol.AuthPrivateKeyJWT) {
		return fmt.Errorf("client %s authenticates with private_key_jwt: it has no secret (its keys are its jwks or jwks_uri)", id)
	}
	if c.Source == "config" {
		return fmt.Errorf("client %s is defined in the config file: change its secret there", id)
	}
	secret, _, err := token.New(token.PrefixClientSecret, rand.Reader)
	if err != nil {
		return err
	}
	if err := st.SetClientSecret(ctx, id, token.HashSecret(secret), time.Now()); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "client_secret: %s\n", secret)
	fmt.Fprintln(e.stdout, "The old secret no longer works. Store this one now: it is shown only once.")
	return nil
}
