package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/protocol"
)

// devRegistration opens dynamic client registration (RFC 7591) to local
// agents under serve --dev, so an MCP client connects at once: public
// clients only, loopback redirect URIs only, the code grant with refresh
// tokens. A configuration that enables registration itself is kept.
func devRegistration(r config.Registration) config.Registration {
	if r.Enabled {
		return r
	}
	r.Enabled, r.Open = true, true
	r.Policy.GrantTypes = []string{protocol.GrantAuthorizationCode, protocol.GrantRefreshToken}
	r.Policy.AuthMethods = []string{string(protocol.AuthNone)}
	r.Policy.DefaultAuthMethod = string(protocol.AuthNone)
	r.Policy.Scopes = []string{"openid", "profile", "email", "offline_access", "read", "write"}
	r.Policy.DefaultScopes = []string{"openid", "read"}
	r.Policy.RedirectURIs = config.RegistrationRedirects{Loopback: true}
	return r
}

// printDevRegistration tells how a local agent registers itself.
func printDevRegistration(w io.Writer, cfg config.Config) {
	r := cfg.Registration
	if !r.Enabled {
		return
	}
	open := "open to anyone"
	if !r.Open {
		open = "with an initial access token"
	}
	redirects := "loopback redirect URIs"
	if r.Policy.RedirectURIs != (config.RegistrationRedirects{Loopback: true}) {
		redirects = "the configured redirect URIs"
	}
	fmt.Fprintf(w, `# dynamic client registration (RFC 7591) is on, %s, for %s and token_endpoint_auth_method %s:
# an MCP client or any local agent registers itself and gets a client_id at once
curl -s -H 'Content-Type: application/json' -d '{"redirect_uris":["http://127.0.0.1:8976/callback"],"token_endpoint_auth_method":"none","grant_types":["authorization_code","refresh_token"]}' %s/register
`, open, redirects, strings.Join(r.Policy.AuthMethods, " or "), cfg.Issuer)
	if len(r.Policy.Resources) == 0 {
		fmt.Fprintln(w, "# an agent that sends resource= needs it in registration.policy.resources (e.g. your MCP server's URL)")
	}
	fmt.Fprintln(w)
}
