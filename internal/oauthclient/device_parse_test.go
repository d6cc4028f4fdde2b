package oauthclient

// What the client accepts of a device authorization response (RFC 8628
// §3.2): the required members, the default interval, and nothing that
// could drive the terminal it is printed on.

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestParseDeviceAuthorization(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	body := func(members ...string) []byte {
		m := map[string]string{"device_code": `"dc-1"`, "user_code": `"BCDF-GHJK"`, "verification_uri": `"https://as.example/device"`,
			"verification_uri_complete": `"https://as.example/device?user_code=BCDFGHJK"`, "expires_in": "600", "interval": "5"}
		for _, kv := range members {
			k, v, _ := strings.Cut(kv, "=")
			if v == "" {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		var parts []string
		for k, v := range m {
			parts = append(parts, fmt.Sprintf("%q:%s", k, v))
		}
		return []byte("{" + strings.Join(parts, ",") + "}")
	}
	for _, tc := range []struct {
		name     string
		body     []byte
		interval time.Duration
		wantErr  string
	}{
		{"complete (S188)", body(), 5 * time.Second, ""},
		{"interval of the server", body("interval=7"), 7 * time.Second, ""},
		{"no interval: 5 s (S188)", body("interval="), 5 * time.Second, ""},
		{"interval 0: 5 s", body("interval=0"), 5 * time.Second, ""},
		{"interval longer than the codes live: 5 s", body("interval=900"), 5 * time.Second, ""},
		{"no verification_uri_complete (optional, S188)", body("verification_uri_complete="), 5 * time.Second, ""},
		{"no device_code", body("device_code="), 0, "no device_code"},
		{"no user_code", body("user_code="), 0, "user_code"},
		{"no verification_uri", body("verification_uri="), 0, "verification_uri"},
		{"no expires_in", body("expires_in="), 0, "expires_in"},
		{"expires_in 0", body("expires_in=0"), 0, "expires_in"},
		{"expires_in as a string of digits, as some servers send it", body(`expires_in="600"`), 5 * time.Second, ""},
		{"expires_in a word", body(`expires_in="soon"`), 0, "not JSON"},
		{"a user_code with an escape sequence", body(`user_code="\u001b[2J\u001b[HBCDF"`), 0, "user_code"},
		{"a user_code too long", body(`user_code="` + strings.Repeat("B", 65) + `"`), 0, "user_code"},
		{"a verification_uri that is not http(s)", body(`verification_uri="javascript:alert(1)"`), 0, "verification_uri"},
		{"a relative verification_uri", body(`verification_uri="/device"`), 0, "verification_uri"},
		{"a verification_uri_complete with a control character", body(`verification_uri_complete="https://as.example/device\u001b[2J"`), 0, "verification_uri_complete"},
		{"not JSON", []byte("<html>"), 0, "not JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			da, err := parseDeviceAuthorization(tc.body, now)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want one naming %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if da.DeviceCode.Reveal() != "dc-1" || da.UserCode != "BCDF-GHJK" || da.VerificationURI != "https://as.example/device" {
				t.Errorf("parsed %+v", da)
			}
			if da.Interval != tc.interval || da.ExpiresIn != 10*time.Minute || !da.Expiry.Equal(now.Add(10*time.Minute)) {
				t.Errorf("interval %s, expires_in %s, expiry %s; want %s, 10m, %s", da.Interval, da.ExpiresIn, da.Expiry, tc.interval, now.Add(10*time.Minute))
			}
			// The device code is a secret: printing the response masks it.
			if s := fmt.Sprintf("%v %+v %#v", da, da, da); strings.Contains(s, "dc-1") {
				t.Errorf("the device code prints: %s", s)
			}
		})
	}
}
