package server

import (
	"github.com/latchkey/latchkey/internal/protocol"
)

// requestedResources reads the resource parameters of a token request (RFC
// 8707 §2, S204): absolute URIs without fragment that the client may ask
// for. Under an existing grant (a code or a refresh token) they may only
// narrow what it granted (S206); none asked means all it granted. A first
// request (client credentials, password) may name any of the client's.
func requestedResources(t tokenRequest, granted []string, underGrant bool) ([]string, error) {
	asked := t.form.All("resource")
	allowed := t.client.Resources
	if underGrant {
		if len(asked) == 0 {
			return granted, nil
		}
		if len(granted) == 0 {
			return nil, protocol.Errorf(protocol.ErrInvalidTarget, "the grant names no resource, so none can be asked for now")
		}
		allowed = granted
	}
	res, perr := protocol.ParseResources(asked, allowed)
	if perr != nil {
		if underGrant && perr.Code == protocol.ErrInvalidTarget {
			perr.Description = "a resource outside what was granted was asked for"
		}
		return nil, perr
	}
	return res, nil
}
