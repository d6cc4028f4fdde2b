package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/token"
)

const clientExample = `latchkey client create --id reports --grant-types client_credentials --scopes read,write
latchkey client create --id web --grant-types authorization_code,refresh_token --scopes openid,profile,read --redirect-uris https://app.example/callback
latchkey client create --id spa --public --grant-types authorization_code,refresh_token --scopes openid,read --redirect-uris http://127.0.0.1:9999/callback
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
	sub, id, done, err := parseNamedSubcommand(fs, args, "client", []string{"create", "list", "show", "delete", "rotate-secret"})
	if done {
		return err
	}
	if id == "" {
		id = c.id
	}
	return withStore(ctx, &cf, e, func(_ config.Config, st store.Store, _ []string) error {
		switch sub {
		case "create":
			return createClient(ctx, st, id, c, e)
		case "list":
			return listClients(ctx, st, e)
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
	grants, scopes, defaults, redirects, logoutRedirects, audience listFlag
}

func (c *clientFlags) register(fs flagRegistrar) {
	fs.StringVar(&c.id, "id", "", "client `id` (create)")
	fs.StringVar(&c.name, "name", "", "display `name` shown on the consent page (create)")
	fs.StringVar(&c.format, "access-token-format", "jwt", "`jwt` or opaque (create)")
	fs.BoolVar(&c.public, "public", false, "a public client: no secret, PKCE only (create)")
	fs.BoolVar(&c.introspection, "introspection", false, "may introspect any token, for resource servers (create)")
	fs.BoolVar(&c.skipConsent, "skip-consent", false, "first-party client: users are not asked to consent (create)")
	fs.Var(&c.grants, "grant-types", "comma-separated grant types (create): "+grantNames())
	fs.StringVar(&c.authMethod, "token-endpoint-auth-method", "", "`method` the client authenticates with: "+authMethodNames()+
		" (create; default: client_secret_basic or client_secret_post, none when public)")
	fs.Var(&c.scopes, "scopes", "comma-separated scopes it may get (create)")
	fs.Var(&c.defaults, "default-scopes", "scopes granted when a request names none (create; default: all)")
	fs.Var(&c.redirects, "redirect-uris", "comma-separated redirect URIs (create)")
	fs.Var(&c.logoutRedirects, "post-logout-redirect-uris", "comma-separated post-logout redirect URIs (create)")
	fs.Var(&c.audience, "audience", "access-token audience (create; default: the issuer)")
}

// toConfig checks the flags with the same rules as the config file.
func (c clientFlags) toConfig(id string) config.Client {
	return config.Client{
		ID: id, Name: c.name, Public: c.public, RedirectURIs: c.redirects, PostLogoutRedirectURIs: c.logoutRedirects,
		GrantTypes: c.grants, Scopes: c.scopes, DefaultScopes: c.defaults, Audience: c.audience,
		AccessTokenFormat: c.format, Introspection: c.introspection, SkipConsent: c.skipConsent,
		TokenEndpointAuthMethod: c.authMethod,
	}
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
	cc := c.toConfig(id)
	if !cc.Public {
		cc.Secret = config.Secret(strings.Repeat("x", 32)) // validated as present; the real one is generated below
	}
	if err := validateClient(cc); err != nil {
		return err
	}
	sc := clientFromConfig(cc, time.Now())
	sc.Source = "cli"
	var secret string
	if !cc.Public {
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
	fmt.Fprintf(e.stdout, "created client %s\n", id)
	if secret != "" {
		fmt.Fprintf(e.stdout, "client_secret: %s\n", secret)
		fmt.Fprintln(e.stdout, "Store it now: it is shown only once (rotate-secret makes a new one).")
	}
	return nil
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
		}
	}
	return probs
}

func listClients(ctx context.Context, st store.Store, e env) error {
	all, err := st.ListClients(ctx)
	if err != nil {
		return err
	}
	var rows [][]string
	for _, c := range all {
		kind := "confidential"
		if c.Public {
			kind = "public"
		}
		rows = append(rows, []string{c.ID, kind, strings.Join(c.GrantTypes, ","), strings.Join(c.Scopes, ","), c.Source})
	}
	return writeTable(e.stdout, []string{"ID", "TYPE", "GRANT TYPES", "SCOPES", "SOURCE"}, rows)
}

func showClient(ctx context.Context, st store.Store, id string, e env) error {
	c, err := getClient(ctx, st, id)
	if err != nil {
		return err
	}
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
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
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
