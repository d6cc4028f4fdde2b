package config

import (
	"fmt"
	"slices"

	"github.com/latchkey/latchkey/internal/protocol"
)

// tokenExchange checks a client's token exchange policy (RFC 8693): it
// needs the grant, names configured clients only, and asks for refresh
// tokens only from a client that may use them.
func (v *validator) tokenExchange(p string, cl Client) {
	x := cl.TokenExchange
	if x == nil {
		return
	}
	p += ".token_exchange"
	if !slices.Contains(cl.GrantTypes, protocol.GrantTokenExchange) {
		v.add(p, "has no effect without the grant; add %s to grant_types or remove token_exchange", protocol.GrantTokenExchange)
	}
	for j, id := range x.AllowedSubjectClients {
		ip := fmt.Sprintf("%s.allowed_subject_clients[%d]", p, j)
		switch {
		case id == "":
			v.add(ip, "must not be empty; name a client id")
		case slices.Index(x.AllowedSubjectClients, id) < j:
			v.add(ip, "%q is listed twice; remove one", id)
		case !slices.ContainsFunc(v.c.Clients, func(c Client) bool { return c.ID == id }):
			v.add(ip, "%q is not the id of a client in this file; add that client or remove it here", id)
		}
	}
	if x.RefreshTokens && !slices.Contains(cl.GrantTypes, protocol.GrantRefreshToken) {
		v.add(p+".refresh_tokens", "needs %s in grant_types, so the client can use them; add it or set refresh_tokens: false", protocol.GrantRefreshToken)
	}
}
