package server_test

// Helpers shared by the device grant tests (device_*_test.go,
// attack_device_test.go). Their names start with "dv" so they never
// collide with helpers of other test files in this package.

import (
	"net/http"
	"net/url"
	"regexp"
	"testing"

	"github.com/latchkey/latchkey/internal/protocol"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/testenv"
)

// The tests' user signs in with these.
const (
	dvUser     = "alice"
	dvPassword = "wonderland"
)

// dvAPI is the resource the device's tokens may be for.
const dvAPI = "https://api.example/"

// userCodeRE is the shape of a user code as shown (S193).
var userCodeRE = regexp.MustCompile(`^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$`)

// dvSetup is a running Latchkey with a public device client "tv" (which
// may refresh), a confidential one "box" (which may not), a web client
// "web" without the device grant, and the user alice.
type dvSetup struct {
	*fixture
	boxSecret, webSecret string
	user                 store.User
}

func newDV(t testing.TB, configure func(*server.Config)) *dvSetup {
	t.Helper()
	return newDVOpts(t, testenv.Options{Configure: configure})
}

func newDVOpts(t testing.TB, opts testenv.Options) *dvSetup {
	t.Helper()
	s := &dvSetup{fixture: newFixtureOpts(t, opts)}
	s.AddClient(t, dvTV())
	s.boxSecret = s.AddClient(t, store.Client{ID: "box", Name: "Set-top Box", GrantTypes: []string{protocol.GrantDeviceCode},
		Scopes: []string{"read"}})
	s.webSecret = s.AddClient(t, azWebClient("web"))
	s.user = s.AddUser(t, dvUser, dvPassword, map[string]any{"name": "Alice Liddell", "email": "alice@example.com"})
	return s
}

// dvTV is the public device client: a TV app.
func dvTV() store.Client {
	return store.Client{ID: "tv", Name: "Living Room TV", Public: true,
		GrantTypes: []string{protocol.GrantDeviceCode, protocol.GrantRefreshToken},
		Scopes:     []string{"openid", "profile", "read", "offline_access"}, Resources: []string{dvAPI, "https://files.example/"}}
}

// dvAuthorization is a device authorization response as the device reads it.
type dvAuthorization struct {
	DeviceCode, UserCode, VerificationURI, VerificationURIComplete string
	ExpiresIn, Interval                                            float64
}

// authorize asks /device_authorization for a code as the client of form
// and fails unless it gets one (S188).
func (s *dvSetup) authorize(t testing.TB, form url.Values, opts ...reqOpt) dvAuthorization {
	t.Helper()
	r := post(t, s.Env, "/device_authorization", form, opts...)
	if r.Status != http.StatusOK {
		t.Fatalf("device authorization: %d %s", r.Status, r.Body)
	}
	for name, want := range map[string]string{"Cache-Control": "no-store", "Pragma": "no-cache", "Content-Type": "application/json"} {
		if got := r.Header.Get(name); got != want {
			t.Errorf("device authorization: %s = %q, want %q (S188)", name, got, want)
		}
	}
	b := r.JSON(t)
	str := func(k string) string { v, _ := b[k].(string); return v }
	num := func(k string) float64 { v, _ := b[k].(float64); return v }
	a := dvAuthorization{DeviceCode: str("device_code"), UserCode: str("user_code"), VerificationURI: str("verification_uri"),
		VerificationURIComplete: str("verification_uri_complete"), ExpiresIn: num("expires_in"), Interval: num("interval")}
	if a.DeviceCode == "" || !userCodeRE.MatchString(a.UserCode) || a.VerificationURI == "" || a.ExpiresIn <= 0 {
		t.Fatalf("device authorization response %s lacks a REQUIRED member or its user code is not BCDF-GHJK (S188, S193)", r.Body)
	}
	return a
}

// tvAuthorize asks for a code as the public client tv.
func (s *dvSetup) tvAuthorize(t testing.TB, scope string, extra ...string) dvAuthorization {
	t.Helper()
	return s.authorize(t, formOf(append([]string{"client_id", "tv", "scope", scope}, extra...)...))
}

// poll sends the device's token request (RFC 8628 §3.4, S189) as the
// public client id.
func (s *dvSetup) poll(t testing.TB, clientID, deviceCode string, opts ...reqOpt) result {
	t.Helper()
	return post(t, s.Env, "/token", formOf("grant_type", protocol.GrantDeviceCode, "device_code", deviceCode, "client_id", clientID), opts...)
}

// wantPoll checks a poll's error answer (S190).
func (s *dvSetup) wantPoll(t testing.TB, r result, code string) {
	t.Helper()
	wantOAuthError(t, r, http.StatusBadRequest, code)
}
