package server_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/protocol"
)

// TestDevicePollPending: until the user decides, the device is told to
// wait (S190); a poll names the client as the token endpoint's other
// grants do (S189).
func TestDevicePollPending(t *testing.T) {
	s := newDV(t, generous)
	a := s.tvAuthorize(t, "read")
	s.wantPoll(t, s.poll(t, "tv", a.DeviceCode), "authorization_pending")
	// A confidential client authenticates to poll its own code.
	b := s.authorize(t, formOf(), basic("box", s.boxSecret))
	s.wantPoll(t, post(t, s.Env, "/token", formOf("grant_type", protocol.GrantDeviceCode, "device_code", b.DeviceCode),
		basic("box", s.boxSecret)), "authorization_pending")
	wantOAuthError(t, post(t, s.Env, "/token", formOf("grant_type", protocol.GrantDeviceCode, "device_code", b.DeviceCode,
		"client_id", "box")), http.StatusUnauthorized, "invalid_client")
}

// TestDevicePollSlowDown: the interval is enforced by the server, from
// what the store recorded of the last poll: a poll that comes too soon is
// slow_down and lengthens the interval by 5 s, for good (S190, A24).
func TestDevicePollSlowDown(t *testing.T) {
	s := newDV(t, generous)
	a := s.tvAuthorize(t, "read")
	interval := func() string {
		return strings.Join(s.queryStrings(t, "SELECT CAST(interval_ms AS TEXT) FROM device_codes"), ",")
	}
	s.wantPoll(t, s.poll(t, "tv", a.DeviceCode), "authorization_pending")
	s.wantPoll(t, s.poll(t, "tv", a.DeviceCode), "slow_down") // at once
	if got := interval(); got != "10000" {
		t.Fatalf("interval after one fast poll = %s ms, want 10000", got)
	}
	s.Clock.Advance(10 * time.Second) // the new interval
	s.wantPoll(t, s.poll(t, "tv", a.DeviceCode), "authorization_pending")
	s.Clock.Advance(5 * time.Second) // the old one is not enough any more
	s.wantPoll(t, s.poll(t, "tv", a.DeviceCode), "slow_down")
	if got := interval(); got != "15000" {
		t.Fatalf("interval after two fast polls = %s ms, want 15000", got)
	}
	s.Clock.Advance(15 * time.Second)
	s.wantPoll(t, s.poll(t, "tv", a.DeviceCode), "authorization_pending")
	if got := interval(); got != "15000" {
		t.Fatalf("interval after a poll in time = %s ms, want it kept at 15000", got)
	}
}

// TestDevicePollRefused: unknown, malformed and other clients' codes are
// invalid_grant and change nothing (S190, S191, A24); an expired code is
// expired_token.
func TestDevicePollRefused(t *testing.T) {
	s := newDV(t, generous)
	a := s.tvAuthorize(t, "read")
	b := s.authorize(t, formOf(), basic("box", s.boxSecret))
	s.wantPoll(t, post(t, s.Env, "/token", formOf("grant_type", protocol.GrantDeviceCode, "client_id", "tv")), "invalid_request")
	s.wantPoll(t, s.poll(t, "tv", "lk_dc_"+strings.Repeat("A", 43)), "invalid_grant")
	s.wantPoll(t, s.poll(t, "tv", "not-a-device-code"), "invalid_grant")
	s.wantPoll(t, s.poll(t, "tv", b.DeviceCode), "invalid_grant") // box's code
	s.wantPoll(t, post(t, s.Env, "/token", formOf("grant_type", protocol.GrantDeviceCode, "device_code", a.DeviceCode),
		basic("box", s.boxSecret)), "invalid_grant") // tv's code
	if polled := s.queryStrings(t, "SELECT digest FROM device_codes WHERE last_poll_at IS NOT NULL"); len(polled) != 0 {
		t.Errorf("another client's poll was recorded on %d codes", len(polled))
	}
	wantOAuthError(t, post(t, s.Env, "/token", formOf("grant_type", protocol.GrantDeviceCode, "device_code", a.DeviceCode),
		basic("web", s.webSecret)), http.StatusBadRequest, "unauthorized_client")

	s.Clock.Advance(10 * time.Minute) // the default lifetime
	s.wantPoll(t, s.poll(t, "tv", a.DeviceCode), "expired_token")
}
