package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/latchkey/latchkey/internal/protocol"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/token"
)

// deviceAuthorization is the device authorization response (RFC 8628
// §3.2, S188).
type deviceAuthorization struct {
	DeviceCode              string `json:"device_code"`
	UserCode                string `json:"user_code"`
	VerificationURI         string `json:"verification_uri"`
	VerificationURIComplete string `json:"verification_uri_complete"`
	ExpiresIn               int64  `json:"expires_in"`
	Interval                int64  `json:"interval"`
}

// userCodeDraws bounds how often a user code is drawn again when it
// collides with a stored one; with 20^8 codes even one retry is rare.
const userCodeDraws = 5

// handleDeviceAuthorization is the device authorization endpoint (RFC 8628
// §3.1, S187): a public client names itself with client_id, a
// confidential one authenticates exactly as at the token endpoint; the
// client must be allowed the device grant, and scope and resource are
// checked as at the token endpoint. It answers a fresh device code
// (stored as a digest, S194) and user code (stored as a keyed digest,
// S193), never cached.
func (s *Server) handleDeviceAuthorization(w http.ResponseWriter, r *http.Request) error {
	form, perr := protocol.ParseForm(r, protocol.MaxFormBytes)
	if perr != nil {
		return perr
	}
	client, _, err := s.authenticateClient(r, form)
	if err != nil {
		return err
	}
	if !slices.Contains(client.GrantTypes, protocol.GrantDeviceCode) {
		return protocol.Errorf(protocol.ErrUnauthorizedClient, "the client may not use the device authorization grant")
	}
	scopes, err := resolveScope(form.Get("scope"), client)
	if err != nil {
		return err
	}
	resources, perr := protocol.ParseResources(form.All("resource"), client.Resources)
	if perr != nil {
		return perr
	}
	value, digest, err := token.New(token.PrefixDeviceCode, s.rand)
	if err != nil {
		return err
	}
	now := s.now()
	d := store.DeviceCode{Digest: digest, ClientID: client.ID, Scopes: scopes, Resources: resources,
		Interval: s.cfg.Device.Interval, CreatedAt: now, ExpiresAt: now.Add(s.cfg.Device.CodeLifetime)}
	userCode, err := s.storeDeviceCode(r.Context(), d)
	if err != nil {
		return err
	}
	shown := formatUserCode(userCode)
	protocol.NoStore(w.Header())
	protocol.WriteJSON(w, http.StatusOK, deviceAuthorization{
		DeviceCode:              value,
		UserCode:                shown,
		VerificationURI:         s.cfg.Device.VerificationURI,
		VerificationURIComplete: s.cfg.Device.VerificationURI + "?" + url.Values{"user_code": {shown}}.Encode(),
		ExpiresIn:               int64(s.cfg.Device.CodeLifetime / time.Second),
		Interval:                int64(s.cfg.Device.Interval / time.Second),
	})
	return nil
}

// storeDeviceCode stores d under a fresh user code, drawing again while
// the code is taken, and returns the code (normalised).
func (s *Server) storeDeviceCode(ctx context.Context, d store.DeviceCode) (string, error) {
	for range userCodeDraws {
		code, err := newUserCode(s.rand)
		if err != nil {
			return "", err
		}
		d.UserCodeDigest = s.userCodeDigest(code)
		err = s.st.CreateDeviceCode(ctx, d)
		if err == nil {
			return code, nil
		}
		if !errors.Is(err, store.ErrConflict) {
			return "", fmt.Errorf("device authorization: store: %w", err)
		}
	}
	return "", fmt.Errorf("device authorization: %d user codes in a row were taken", userCodeDraws)
}
