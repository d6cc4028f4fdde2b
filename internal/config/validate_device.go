package config

import (
	"net/url"
	"strings"
	"time"
)

// device checks the device section (RFC 8628).
func (v *validator) device() {
	d := v.c.Device
	if lt := d.CodeLifetime.D(); lt < time.Minute || lt > 30*time.Minute {
		v.add("device.code_lifetime", "must be from 1m to 30m: long enough to type the code, "+
			"short enough that guessing it is hopeless (S193); 10m is usual")
	}
	if iv := d.Interval.D(); iv < time.Second || iv > time.Minute || iv%time.Second != 0 {
		v.add("device.interval", "must be whole seconds from 1s to 60s (RFC 8628 §3.2); 5s is usual")
	}
	if d.VerificationURI != "" {
		if msg := verificationURIProblem(d.VerificationURI); msg != "" {
			v.add("device.verification_uri", "%s", msg)
		}
	}
}

// verificationURIProblem checks the page users are sent to: the device
// shows it, and verification_uri_complete adds ?user_code= to it.
func verificationURIProblem(s string) string {
	const like = "; write it like https://auth.example.com/device, or leave it empty for the issuer's /device"
	u, err := url.Parse(s)
	switch {
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
		return "must be an absolute https URL" + like
	case u.User != nil:
		return "must not contain a user name or password" + like
	case strings.ContainsAny(s, "?#"):
		return "must not have a query or fragment: the user code is added as its query" + like
	case u.Scheme == "http" && !isLoopback(u.Hostname()):
		return "must use https; plain http is only for 127.0.0.1, [::1] or localhost" + like
	}
	return ""
}
