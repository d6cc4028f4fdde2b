package oauthclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/protocol"
)

// DefaultDeviceInterval is the wait between polls when the server names
// none (RFC 8628 §3.2: "clients MUST use 5 as the default").
const DefaultDeviceInterval = 5 * time.Second

// slowDownStep is what every slow_down adds to the interval, for that
// request and all later ones (RFC 8628 §3.5).
const slowDownStep = 5 * time.Second

// maxUserCode bounds the user_code a server may make the client print.
const maxUserCode = 64

// DeviceAuthorization is a device authorization response (RFC 8628 §3.2):
// what the user is shown, and the device code the client polls with.
type DeviceAuthorization struct {
	// DeviceCode is the device's secret; it prints and logs masked.
	DeviceCode config.Secret
	// UserCode is what the user types at VerificationURI.
	UserCode string
	// VerificationURI is where the user goes; VerificationURIComplete,
	// when the server sends it, carries the user code as well (for a QR
	// code or a link).
	VerificationURI         string
	VerificationURIComplete string
	// ExpiresIn is the lifetime of both codes; Expiry is when that ends
	// by the client's clock.
	ExpiresIn time.Duration
	Expiry    time.Time
	// Interval is the least wait between polls (DefaultDeviceInterval
	// when the server sends none).
	Interval time.Duration
}

// DeviceAuthorization asks for a device code and a user code (RFC 8628
// §3.1): the client's scopes and resource indicators, and its credentials
// when it has some. now is the client's clock for Expiry (time.Now when
// nil).
func (c *Client) DeviceAuthorization(ctx context.Context, now func() time.Time) (DeviceAuthorization, error) {
	if c.md.DeviceAuthorizationEndpoint == "" {
		return DeviceAuthorization{}, errors.New("the server advertises no device_authorization_endpoint: it does not offer the device grant (RFC 8628)")
	}
	if now == nil {
		now = time.Now
	}
	form := c.withScope(url.Values{})
	for _, r := range c.cfg.Resources {
		form.Add("resource", r)
	}
	c.tracer.Step("the device asks for a device code and a user code (RFC 8628 §3.1)")
	status, body, err := c.send(ctx, c.md.DeviceAuthorizationEndpoint, form, false)
	if err != nil {
		return DeviceAuthorization{}, fmt.Errorf("device authorization: %w", err)
	}
	if status != http.StatusOK {
		return DeviceAuthorization{}, fmt.Errorf("device authorization: %w", oauthError(status, body))
	}
	return parseDeviceAuthorization(body, now())
}

// parseDeviceAuthorization reads a device authorization response received
// at now. What the user is shown must be printable: a user code without
// control characters (which could drive the terminal) and URLs that parse
// as http or https.
func parseDeviceAuthorization(body []byte, now time.Time) (DeviceAuthorization, error) {
	var r struct {
		DeviceCode              string      `json:"device_code"`
		UserCode                string      `json:"user_code"`
		VerificationURI         string      `json:"verification_uri"`
		VerificationURIComplete string      `json:"verification_uri_complete"`
		ExpiresIn               json.Number `json:"expires_in"`
		Interval                json.Number `json:"interval"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return DeviceAuthorization{}, fmt.Errorf("the device authorization response is not JSON: %w", err)
	}
	expires, err := r.ExpiresIn.Int64()
	switch {
	case r.DeviceCode == "":
		return DeviceAuthorization{}, errors.New("the device authorization response has no device_code")
	case r.UserCode == "" || len(r.UserCode) > maxUserCode || strings.IndexFunc(r.UserCode, unicode.IsControl) >= 0:
		return DeviceAuthorization{}, fmt.Errorf("the device authorization response's user_code %q is not one to show", r.UserCode)
	case err != nil || expires <= 0:
		return DeviceAuthorization{}, fmt.Errorf("the device authorization response's expires_in %q is not a positive number of seconds", r.ExpiresIn)
	}
	if err := checkVerificationURI("verification_uri", r.VerificationURI, true); err != nil {
		return DeviceAuthorization{}, err
	}
	if err := checkVerificationURI("verification_uri_complete", r.VerificationURIComplete, false); err != nil {
		return DeviceAuthorization{}, err
	}
	da := DeviceAuthorization{DeviceCode: config.Secret(r.DeviceCode), UserCode: r.UserCode,
		VerificationURI: r.VerificationURI, VerificationURIComplete: r.VerificationURIComplete,
		ExpiresIn: time.Duration(expires) * time.Second, Interval: DefaultDeviceInterval}
	da.Expiry = now.Add(da.ExpiresIn)
	if n, err := r.Interval.Int64(); err == nil && n > 0 && n <= expires {
		da.Interval = time.Duration(n) * time.Second
	}
	return da, nil
}

// checkVerificationURI checks that u, the member name, is an absolute
// http or https URL; required says it must be there.
func checkVerificationURI(name, u string, required bool) error {
	if u == "" && !required {
		return nil
	}
	p, err := url.Parse(u) // refuses control characters
	if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
		return fmt.Errorf("the device authorization response's %s %q is not an http or https URL", name, u)
	}
	return nil
}

// DevicePoll tunes DeviceAccessToken. Its zero value waits on real timers.
type DevicePoll struct {
	// Wait waits d, or until ctx ends with ctx's error (default: a timer).
	Wait func(ctx context.Context, d time.Duration) error
	// Now is the client's clock, checked against Expiry (default time.Now).
	Now func() time.Time
	// Progress, when set, hears every answer after which the client polls
	// again: authorization_pending, slow_down, or a connection that failed.
	Progress func(PollProgress)
}

// PollProgress is one answer to a poll that was not yet the tokens.
type PollProgress struct {
	// Poll counts the token requests, from 1.
	Poll int
	// Code is protocol.ErrAuthorizationPending or protocol.ErrSlowDown,
	// or "" when the request failed without an answer (Err says why).
	Code string
	Err  error
	// Interval is the wait before the next poll.
	Interval time.Duration
}

// DeviceAccessToken polls the token endpoint with da's device code until
// the user has approved (RFC 8628 §3.4, §3.5): it waits da.Interval
// before each request; authorization_pending keeps the interval,
// slow_down adds 5 s to it for good, and a request that gets no answer
// doubles it (§3.5). access_denied, expired_token and any other error end
// the polling as an *Error; so does reaching da.Expiry, without asking
// the server again (Code expired_token, Status 0). When ctx ends, its
// error is returned, wrapped.
func (c *Client) DeviceAccessToken(ctx context.Context, da DeviceAuthorization, opts DevicePoll) (Response, error) {
	wait, now := opts.Wait, opts.Now
	if wait == nil {
		wait = sleep
	}
	if now == nil {
		now = time.Now
	}
	interval := da.Interval
	if interval <= 0 {
		interval = DefaultDeviceInterval
	}
	form := url.Values{"grant_type": {protocol.GrantDeviceCode}, "device_code": {da.DeviceCode.Reveal()}}
	for poll := 1; ; poll++ {
		if !da.Expiry.IsZero() && now().Add(interval).After(da.Expiry) {
			return Response{}, &Error{Code: protocol.ErrExpiredToken,
				Description: fmt.Sprintf("the codes expired (after %s) before the user approved", da.ExpiresIn)}
		}
		if err := wait(ctx, interval); err != nil {
			return Response{}, fmt.Errorf("waiting for the user's approval: %w", err)
		}
		c.tracer.Step(fmt.Sprintf("the device asks the token endpoint whether the user has approved (RFC 8628 §3.4), poll %d", poll))
		resp, err := c.tokenRequest(ctx, cloneForm(form))
		if err == nil {
			return resp, nil
		}
		if ctx.Err() != nil {
			return Response{}, fmt.Errorf("waiting for the user's approval: %w", ctx.Err())
		}
		p := PollProgress{Poll: poll}
		var ue *url.Error
		var oe *Error
		switch {
		case errors.As(err, &ue): // no answer: "reduce their polling frequency", §3.5
			interval *= 2
			p.Err = err
		case !errors.As(err, &oe):
			return Response{}, err
		case oe.Code == protocol.ErrAuthorizationPending:
			p.Code = oe.Code
		case oe.Code == protocol.ErrSlowDown:
			interval += slowDownStep
			p.Code = oe.Code
		default:
			return Response{}, err
		}
		if opts.Progress != nil {
			p.Interval = interval
			opts.Progress(p)
		}
	}
}

// cloneForm copies form, which tokenRequest adds to.
func cloneForm(form url.Values) url.Values {
	out := make(url.Values, len(form)+1)
	for k, vs := range form {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
