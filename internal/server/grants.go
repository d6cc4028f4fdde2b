package server

import (
	"github.com/latchkey/latchkey/internal/protocol"
)

// grantDef is one entry of the grant registry: what the grant is, and the
// function that runs it at the token endpoint once the client is
// authenticated and allowed the grant.
type grantDef struct {
	protocol.GrantInfo
	run func(*Server, tokenRequest) (protocol.TokenResponse, error)
}

// grantRegistry declares every grant Latchkey implements, in the order
// they are shown (metadata, validation messages, CLI help). It is the one
// list of grants: token-endpoint dispatch, grant_types_supported, the
// validation of a client's grant_types and the CLI's help all come from
// it. A new grant is one entry here and one grant_*.go file.
func grantRegistry() []grantDef {
	return []grantDef{
		{GrantInfo: protocol.GrantInfo{Type: protocol.GrantAuthorizationCode, Summary: "a user signs in and consents in the browser",
			Public: true, User: true, Refresh: true, Redirect: true}, run: (*Server).grantAuthorizationCode},
		{GrantInfo: protocol.GrantInfo{Type: protocol.GrantRefreshToken, Summary: "a refresh token is traded for new tokens",
			Public: true, User: true}, run: (*Server).grantRefresh},
		{GrantInfo: protocol.GrantInfo{Type: protocol.GrantClientCredentials, Summary: "the client acts for itself"},
			run: (*Server).grantClientCredentials},
		{GrantInfo: protocol.GrantInfo{Type: protocol.GrantDeviceCode, Summary: "a device without a browser shows a code the user enters elsewhere",
			Public: true, User: true, Refresh: true}, run: (*Server).grantDeviceCode},
		{GrantInfo: protocol.GrantInfo{Type: protocol.GrantJWTBearer, Summary: "a workload's JWT from a trusted issuer is traded for a token"},
			run: (*Server).grantJWTBearer},
		{GrantInfo: protocol.GrantInfo{Type: protocol.GrantTokenExchange, Summary: "a service trades a token it received for one to call another service for the same subject",
			Refresh: true}, // only under a policy with refresh_tokens: true
			run: (*Server).grantTokenExchange},
		{GrantInfo: protocol.GrantInfo{Type: protocol.GrantPassword, Summary: "the client sends the user's username and password",
			User: true, Refresh: true, Legacy: true}, run: (*Server).grantPassword},
	}
}

// Grants describes every grant the server implements, in display order,
// for configuration validation and the CLI.
func Grants() []protocol.GrantInfo {
	reg := grantRegistry()
	out := make([]protocol.GrantInfo, len(reg))
	for i, g := range reg {
		out[i] = g.GrantInfo
	}
	return out
}

func grantsByType() map[string]grantDef {
	reg := grantRegistry()
	m := make(map[string]grantDef, len(reg))
	for _, g := range reg {
		m[g.Type] = g
	}
	return m
}
