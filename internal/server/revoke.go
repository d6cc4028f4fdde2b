package server

import (
	"fmt"
	"net/http"

	"github.com/latchkey/latchkey/internal/protocol"
)

// handleRevoke is RFC 7009. A refresh token revokes its whole grant with
// every token issued under it (S072); an access token's jti is revoked
// until it expires. Unknown, invalid or expired tokens get 200 like
// successes (S073); a token of another client is refused and stays valid
// (S071).
func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) error {
	form, perr := protocol.ParseForm(r, protocol.MaxFormBytes)
	if perr != nil {
		return perr
	}
	client, _, err := s.authenticateClient(r, form)
	if err != nil {
		return err
	}
	raw := form.Get("token")
	if raw == "" {
		return protocol.Errorf(protocol.ErrInvalidRequest, "token is required")
	}
	ctx := r.Context()
	ti, ok, err := s.lookupToken(ctx, raw)
	if err != nil {
		return err
	}
	protocol.NoStore(w.Header())
	if !ok {
		w.WriteHeader(http.StatusOK)
		return nil
	}
	if ti.clientID != client.ID {
		return protocol.Errorf(protocol.ErrUnauthorizedClient, "the token was not issued to this client")
	}
	switch {
	case ti.refresh:
		err = s.st.RevokeGrant(ctx, ti.grantID, s.now())
	case ti.active:
		err = s.st.RevokeJTI(ctx, ti.jti, ti.expiry)
	}
	if err != nil {
		return fmt.Errorf("revoke: %w", err)
	}
	if ti.refresh || ti.active {
		s.recordRevoked(r, client.ID, ti)
	}
	w.WriteHeader(http.StatusOK)
	return nil
}
