package server

import (
	"errors"
	"fmt"
	"github.com/latchkey/latchkey/internal/audit"
	"time"

	"github.com/latchkey/latchkey/internal/protocol"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/token"
)

func badDeviceCode() *protocol.Error {
	return protocol.Errorf(protocol.ErrInvalidGrant, "the device code is invalid or already used")
}

// grantDeviceCode is the device's token request (RFC 8628 §3.4, §3.5). The
// client is authenticated already. A pending poll costs one store round
// trip, which also records it: a poll sooner than the code's interval is
// slow_down, and the interval grows by 5 s for good, on every instance
// (S190). A device code is its client's only (S191) and is redeemed once;
// a valid request for a code redeemed before revokes what it issued, as
// for a replayed authorization code (S019).
func (s *Server) grantDeviceCode(t tokenRequest) (protocol.TokenResponse, error) {
	raw := t.form.Get("device_code")
	if raw == "" {
		return protocol.TokenResponse{}, protocol.Errorf(protocol.ErrInvalidRequest, "device_code is required")
	}
	if !token.HasPrefix(raw, token.PrefixDeviceCode) {
		return protocol.TokenResponse{}, badDeviceCode() // not one of ours: no lookup
	}
	ctx := t.r.Context()
	now := s.now()
	digest := token.Digest(raw)
	d, err := s.st.PollDeviceCode(ctx, digest, t.client.ID, now)
	if errors.Is(err, store.ErrNotFound) {
		return protocol.TokenResponse{}, badDeviceCode()
	}
	if err != nil {
		return protocol.TokenResponse{}, fmt.Errorf("device code: poll: %w", err)
	}
	if perr := deviceState(d, now); perr != nil {
		if !d.ConsumedAt.IsZero() {
			return protocol.TokenResponse{}, s.deviceCodeReplayed(t, d.GrantID, d.UserID)
		}
		return protocol.TokenResponse{}, perr
	}
	return s.redeemDeviceCode(t, d, now)
}

// deviceState is the answer to a poll of d that does not redeem it (RFC
// 8628 §3.5), or nil when d is approved and may be redeemed.
func deviceState(d store.DeviceCode, now time.Time) *protocol.Error {
	switch {
	case !d.ConsumedAt.IsZero():
		return badDeviceCode()
	case !now.Before(d.ExpiresAt):
		return protocol.Errorf(protocol.ErrExpiredToken, "the device code has expired: start again")
	case !d.DeniedAt.IsZero():
		return protocol.Errorf(protocol.ErrAccessDenied, "the user denied the request")
	case !d.ApprovedAt.IsZero():
		return nil
	case d.SlowDown:
		return protocol.Errorf(protocol.ErrSlowDown, "poll no more often than every %d seconds", int64(d.Interval/time.Second))
	}
	return protocol.Errorf(protocol.ErrAuthorizationPending, "the user has not decided yet")
}

// redeemDeviceCode issues the tokens of the approved code d, as the code
// grant does: a grant, a refresh token when the client may refresh, an ID
// token when openid was granted, the resources asked for at the device
// authorization endpoint or fewer.
func (s *Server) redeemDeviceCode(t tokenRequest, d store.DeviceCode, now time.Time) (protocol.TokenResponse, error) {
	ctx := t.r.Context()
	user, err := s.st.GetUser(ctx, d.UserID)
	if errors.Is(err, store.ErrNotFound) || err == nil && user.Disabled() {
		return protocol.TokenResponse{}, badDeviceCode()
	}
	if err != nil {
		return protocol.TokenResponse{}, fmt.Errorf("device code: look up user: %w", err)
	}
	res, err := requestedResources(t, d.Resources, true)
	if err != nil {
		return protocol.TokenResponse{}, err
	}
	is := issuance{client: t.client, user: &user, scopes: d.Scopes, authTime: d.AuthTime, amr: d.AMR, acr: d.ACR,
		resources: res, granted: d.Resources, jkt: t.jkt}
	m, iss, err := s.grantTokens(t, &is, now)
	if err != nil {
		return protocol.TokenResponse{}, err
	}
	err = s.st.RedeemDeviceCode(ctx, d.Digest, t.client.ID, now, iss)
	switch {
	case errors.Is(err, store.ErrConflict): // a concurrent redemption won
		won, err := s.st.PollDeviceCode(ctx, d.Digest, t.client.ID, now)
		if err != nil {
			return protocol.TokenResponse{}, fmt.Errorf("device code: reload: %w", err)
		}
		return protocol.TokenResponse{}, s.deviceCodeReplayed(t, won.GrantID, won.UserID)
	case errors.Is(err, store.ErrNotFound): // expired since the poll
		return protocol.TokenResponse{}, protocol.Errorf(protocol.ErrExpiredToken, "the device code has expired: start again")
	case err != nil:
		return protocol.TokenResponse{}, fmt.Errorf("device code: redeem: %w", err)
	}
	return s.respond(t.context(), is, m.access, m.refresh, now)
}

// deviceCodeReplayed answers a device code presented again after it was
// redeemed: the grant it issued is revoked with its tokens, since the
// code must have leaked (S019, applied to device codes).
func (s *Server) deviceCodeReplayed(t tokenRequest, grantID, userID string) error {
	ctx := t.r.Context()
	if grantID != "" {
		if err := s.st.RevokeGrant(ctx, grantID, s.now()); err != nil {
			return fmt.Errorf("device code: revoke replayed grant: %w", err)
		}
	}
	s.log.WarnContext(ctx, "device code replayed: grant revoked", "client_id", t.client.ID, "grant_id", grantID)
	s.recordRevoking(t.r, audit.CodeReplay, t.client.ID, userID, grantID, "device_code")
	return badDeviceCode()
}
