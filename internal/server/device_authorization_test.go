package server_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/protocol"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/token"
)

// TestDeviceAuthorization: the response of RFC 8628 §3.2 (S188) for a
// public client naming itself (S187), with a device code of full token
// entropy stored only as its digest (S194) and a user code stored only as
// a keyed digest (S193).
func TestDeviceAuthorization(t *testing.T) {
	s := newDV(t, nil)
	a := s.tvAuthorize(t, "openid read")
	if !token.HasPrefix(a.DeviceCode, token.PrefixDeviceCode) { // 32 random bytes
		t.Errorf("device_code %q is not lk_dc_ and 43 base64url characters (S194)", a.DeviceCode)
	}
	if a.VerificationURI != s.URL+"/device" {
		t.Errorf("verification_uri = %q, want %s/device", a.VerificationURI, s.URL)
	}
	if want := a.VerificationURI + "?user_code=" + a.UserCode; a.VerificationURIComplete != want {
		t.Errorf("verification_uri_complete = %q, want %q", a.VerificationURIComplete, want)
	}
	if a.ExpiresIn != 600 || a.Interval != 5 {
		t.Errorf("expires_in %v, interval %v; want the defaults 600 and 5", a.ExpiresIn, a.Interval)
	}
	rows := s.queryStrings(t, "SELECT digest || ' ' || user_code_digest || ' ' || client_id || ' ' || scopes FROM device_codes")
	if len(rows) != 1 {
		t.Fatalf("device_codes rows = %q, want one", rows)
	}
	bare := strings.ReplaceAll(a.UserCode, "-", "")
	if strings.Contains(rows[0], a.DeviceCode) || strings.Contains(rows[0], bare) || strings.Contains(rows[0], a.UserCode) {
		t.Errorf("the stored row %q holds the device code or the user code in clear (S193, S194)", rows[0])
	}
	if !strings.HasPrefix(rows[0], token.Digest(a.DeviceCode)+" ") || !strings.Contains(rows[0], ` tv ["openid","read"]`) {
		t.Errorf("the stored row %q is not the device code's digest for tv with openid read", rows[0])
	}
	// Every request gets its own codes.
	b := s.tvAuthorize(t, "read")
	if b.DeviceCode == a.DeviceCode || b.UserCode == a.UserCode {
		t.Error("two device authorizations got the same code")
	}
}

// TestDeviceAuthorizationConfidential: a confidential client
// authenticates exactly as at the token endpoint (S187); no scope means
// its default scopes.
func TestDeviceAuthorizationConfidential(t *testing.T) {
	s := newDV(t, nil)
	s.authorize(t, formOf(), basic("box", s.boxSecret))
	s.authorize(t, formOf("client_id", "box", "client_secret", s.boxSecret, "scope", "read"))
	wantOAuthError(t, post(t, s.Env, "/device_authorization", formOf("client_id", "box")), http.StatusUnauthorized, "invalid_client")
	wantOAuthError(t, post(t, s.Env, "/device_authorization", formOf(), basic("box", "wrong")), http.StatusUnauthorized, "invalid_client")
}

// TestDeviceAuthorizationConfig: lifetime, interval and verification URI
// come from the configuration.
func TestDeviceAuthorizationConfig(t *testing.T) {
	s := newDV(t, func(c *server.Config) {
		c.Device = server.DeviceConfig{CodeLifetime: 5 * time.Minute, Interval: 7 * time.Second,
			VerificationURI: "https://example.com/activate"}
	})
	a := s.tvAuthorize(t, "read")
	if a.ExpiresIn != 300 || a.Interval != 7 || a.VerificationURI != "https://example.com/activate" ||
		a.VerificationURIComplete != "https://example.com/activate?user_code="+a.UserCode {
		t.Errorf("device authorization with a configured section = %+v", a)
	}
}

// TestDeviceAuthorizationErrors: every refusal is an RFC 6749 §5.2 JSON
// error with its status (RFC 8628 §3.2), and stores nothing.
func TestDeviceAuthorizationErrors(t *testing.T) {
	s := newDV(t, generous)
	tv := func(kv ...string) string { return formOf(append([]string{"client_id", "tv"}, kv...)...).Encode() }
	for _, tc := range []struct {
		name, method, contentType, body string
		opts                            []reqOpt
		status                          int
		code                            string
	}{
		{"GET", http.MethodGet, "", "", nil, http.StatusMethodNotAllowed, "invalid_request"},
		{"not a form", http.MethodPost, "application/json", `{"client_id":"tv"}`, nil, http.StatusUnsupportedMediaType, "invalid_request"},
		{"too large", http.MethodPost, "application/x-www-form-urlencoded", tv("scope", strings.Repeat("a", 70<<10)), nil, http.StatusRequestEntityTooLarge, "invalid_request"},
		{"malformed encoding", http.MethodPost, "application/x-www-form-urlencoded", "client_id=tv&scope=%zz", nil, http.StatusBadRequest, "invalid_request"},
		{"duplicated scope", http.MethodPost, "application/x-www-form-urlencoded", tv("scope", "read", "scope", "openid"), nil, http.StatusBadRequest, "invalid_request"},
		{"duplicated client_id", http.MethodPost, "application/x-www-form-urlencoded", "client_id=tv&client_id=tv", nil, http.StatusBadRequest, "invalid_request"},
		{"no client", http.MethodPost, "application/x-www-form-urlencoded", "scope=read", nil, http.StatusUnauthorized, "invalid_client"},
		{"unknown client", http.MethodPost, "application/x-www-form-urlencoded", "client_id=nobody", nil, http.StatusUnauthorized, "invalid_client"},
		{"public client with a secret", http.MethodPost, "application/x-www-form-urlencoded", tv("client_secret", "x"), nil, http.StatusUnauthorized, "invalid_client"},
		{"client without the grant", http.MethodPost, "application/x-www-form-urlencoded", "", []reqOpt{basic("web", s.webSecret)}, http.StatusBadRequest, "unauthorized_client"},
		{"scope not allowed", http.MethodPost, "application/x-www-form-urlencoded", tv("scope", "read admin"), nil, http.StatusBadRequest, "invalid_scope"},
		{"malformed scope", http.MethodPost, "application/x-www-form-urlencoded", tv("scope", "read \"x\""), nil, http.StatusBadRequest, "invalid_scope"},
		{"resource not allowed", http.MethodPost, "application/x-www-form-urlencoded", tv("resource", "https://evil.example/"), nil, http.StatusBadRequest, "invalid_target"},
		{"resource not absolute", http.MethodPost, "application/x-www-form-urlencoded", tv("resource", "/api"), nil, http.StatusBadRequest, "invalid_target"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantOAuthError(t, send(t, s.Env, tc.method, "/device_authorization", tc.contentType, tc.body, tc.opts...), tc.status, tc.code)
		})
	}
	if n := s.countDevice(t); n != 0 {
		t.Errorf("refused requests stored %d device codes", n)
	}
}

// countDevice counts the stored device codes.
func (s *dvSetup) countDevice(t testing.TB) int {
	t.Helper()
	return len(s.queryStrings(t, "SELECT digest FROM device_codes"))
}

// TestDeviceMetadata: the endpoint and the grant are advertised (S192).
func TestDeviceMetadata(t *testing.T) {
	s := newDV(t, nil)
	r := send(t, s.Env, http.MethodGet, "/.well-known/oauth-authorization-server", "", "")
	var doc struct {
		Endpoint string   `json:"device_authorization_endpoint"`
		Grants   []string `json:"grant_types_supported"`
	}
	if err := json.Unmarshal(r.Body, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Endpoint != s.URL+"/device_authorization" || !slices.Contains(doc.Grants, protocol.GrantDeviceCode) {
		t.Errorf("metadata: device_authorization_endpoint %q, grant_types_supported %v (S192)", doc.Endpoint, doc.Grants)
	}
}

// TestDeviceAuthorizationResources: resource indicators asked for here
// are what the tokens may be for (RFC 8707 §2), stored with the code.
func TestDeviceAuthorizationResources(t *testing.T) {
	s := newDV(t, nil)
	s.tvAuthorize(t, "read", "resource", dvAPI)
	rows := s.queryStrings(t, "SELECT resources FROM device_codes")
	if len(rows) != 1 || rows[0] != `["`+dvAPI+`"]` {
		t.Errorf("stored resources = %q, want [%s]", rows, dvAPI)
	}
}
