package main

import (
	"context"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/oauthex"

	"github.com/latchkey/latchkey/internal/server"
)

// TestAgentWithDynamicRegistration runs the MCP authorization flow with a
// client that registers itself (RFC 7591), as an MCP client does when the
// server has no document for it: anonymous open registration (S196) of a
// public client (token_endpoint_auth_method none) with a loopback
// redirect URI (RFC 8252 §7.3, S208); the registration policy's resources
// name the MCP server, so the new client may ask tokens for it.
func TestAgentWithDynamicRegistration(t *testing.T) {
	cb := newCallback(t)
	s := newStack(t, func(c *server.Config, resource string) {
		c.Registration.Enabled, c.Registration.Open = true, true
		c.Registration.Policy.Scopes = []string{scopeRead, scopeWrite}
		c.Registration.Policy.Resources = []string{resource}
	})
	a := connect(t, s, cb, func(c *auth.AuthorizationCodeHandlerConfig) {
		c.DynamicClientRegistrationConfig = &auth.DynamicClientRegistrationConfig{Metadata: &oauthex.ClientRegistrationMetadata{
			ClientName: "Notes agent (registered)", RedirectURIs: []string{cb.URL + "/cb"},
			GrantTypes: []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"},
			TokenEndpointAuthMethod: "none", Scope: scopeRead + " " + scopeWrite,
		}}
	})
	clients, err := s.env.Store.ListClients(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var id string
	for _, c := range clients {
		if strings.HasPrefix(c.ID, "dcr_") {
			if id != "" || !c.Public || c.TokenEndpointAuthMethod != "none" {
				t.Fatalf("registered clients: %+v", clients)
			}
			id = c.ID
		}
	}
	if id == "" {
		t.Fatalf("no registered client among %+v", clients)
	}
	checkDiscovery(t, s, a, id, true)
	checkTools(t, s, a, id)
	checkRefresh(t, a)
}
