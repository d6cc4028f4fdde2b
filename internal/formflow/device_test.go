package formflow_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/formflow"
	"github.com/latchkey/latchkey/internal/protocol"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/testenv"
)

// deviceCodes asks env's /device_authorization for codes as the public
// client tv (RFC 8628 §3.1).
func deviceCodes(t *testing.T, env *testenv.Env) (deviceCode, userCode, uri, complete string) {
	t.Helper()
	status, got := postForm(t, env.URL+"/device_authorization", url.Values{"client_id": {"tv"}, "scope": {"read"}})
	if status != http.StatusOK || got["user_code"] == "" {
		t.Fatalf("device authorization: %d %v", status, got)
	}
	return got["device_code"], got["user_code"], got["verification_uri"], got["verification_uri_complete"]
}

// postForm posts form to target and returns the status and the string
// members of the JSON answer.
func postForm(t *testing.T, target string, form url.Values) (int, map[string]string) {
	t.Helper()
	resp, err := http.PostForm(target, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var raw map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&raw); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for k, v := range raw {
		if s, ok := v.(string); ok {
			got[k] = s
		}
	}
	return resp.StatusCode, got
}

// The user's part of the device flow on Latchkey's pages: typing the
// code or keeping the one verification_uri_complete fills in, signing in,
// approving or denying; the device's next poll tells which (RFC 8628
// §3.5). A code the server refuses and a wrong password end the walk.
func TestDeviceLatchkey(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	env.AddClient(t, store.Client{ID: "tv", Name: "TV", Public: true, GrantTypes: []string{protocol.GrantDeviceCode}, Scopes: []string{"read"}})
	env.AddUser(t, "alice", "wonderland", nil)
	for _, tc := range []struct {
		name       string
		complete   bool // open verification_uri_complete rather than type the code
		code       string
		password   string
		approve    bool
		page, poll string // the last page's words, the poll's error ("" for tokens)
		reason     string // the Failure's reason, when the walk fails
	}{
		{name: "typed, approved", password: "wonderland", approve: true, page: "Device connected",
			poll: ""},
		{name: "typed in lower case without the dash, denied", code: "lower", password: "wonderland", page: "Request denied",
			poll: protocol.ErrAccessDenied},
		{name: "from verification_uri_complete, approved", complete: true, password: "wonderland", approve: true,
			page: "Device connected"},
		{name: "a code the server does not know", code: "BCDF-GHJK", password: "wonderland", approve: true,
			reason: formflow.ReasonCodeRefused, poll: protocol.ErrAuthorizationPending},
		{name: "wrong password", password: "wrong", approve: true, reason: formflow.ReasonLoginFailed,
			poll: protocol.ErrAuthorizationPending},
	} {
		t.Run(tc.name, func(t *testing.T) {
			deviceCode, userCode, uri, complete := deviceCodes(t, env)
			code := userCode
			switch {
			case tc.complete:
				uri, code = complete, ""
			case tc.code == "lower":
				code = strings.ToLower(strings.ReplaceAll(userCode, "-", ""))
			case tc.code != "":
				code = tc.code
			}
			w := &formflow.Walker{Username: "alice", Password: tc.password}
			var steps []string
			w.Before = func(s *formflow.Step) error {
				steps = append(steps, s.Kind.String()+" "+s.Method+" "+s.URL.Path)
				return nil
			}
			page, err := w.Device(context.Background(), uri, code, tc.approve)
			var f *formflow.Failure
			switch {
			case tc.reason != "":
				if !errors.As(err, &f) || f.Reason != tc.reason {
					t.Fatalf("Device = %v, want a Failure %q", err, tc.reason)
				}
			case err != nil:
				t.Fatalf("Device: %v (steps %q)", err, steps)
			case !strings.Contains(string(page), tc.page):
				t.Fatalf("the last page does not say %q:\n%s", tc.page, page)
			default:
				want := []string{"authorize GET /device", "consent POST /device", "login POST /device/login",
					"redirect GET /device/consent", "consent POST /device/consent"}
				if !slices.Equal(steps, want) {
					t.Errorf("steps %q, want %q", steps, want)
				}
			}
			status, polled := postForm(t, env.URL+"/token", url.Values{"grant_type": {protocol.GrantDeviceCode},
				"device_code": {deviceCode}, "client_id": {"tv"}})
			if polled["error"] != tc.poll || (tc.poll == "") != (status == http.StatusOK && polled["access_token"] != "") {
				t.Errorf("the device's poll: %d %v, want error %q", status, polled, tc.poll)
			}
		})
	}
}
