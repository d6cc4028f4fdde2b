package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/testenv"
)

// TestCORSForRegisteredOrigins: a browser app may call /token, /revoke and
// /device_authorization from the origin of one of its registered redirect
// URIs (RFC 9700 §2.6, S120), never with credentials; other origins get no
// CORS headers, and the authorization endpoint never does (A22, S152).
func TestCORSForRegisteredOrigins(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	env.AddClient(t, store.Client{ID: "spa", Public: true, RedirectURIs: []string{"https://spa.example/cb"},
		GrantTypes: []string{"authorization_code", "refresh_token"}, Scopes: []string{"openid"}})
	noRedirects := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	send := func(method, path, origin string, body string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, env.URL+path, strings.NewReader(body))
		req.Header.Set("Origin", origin)
		if method == http.MethodOptions {
			req.Header.Set("Access-Control-Request-Method", "POST")
			req.Header.Set("Access-Control-Request-Headers", "content-type")
		} else {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := noRedirects.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	form := url.Values{"grant_type": {"refresh_token"}, "client_id": {"spa"}, "refresh_token": {"lk_rt_garbage"}}.Encode()
	for _, path := range []string{"/token", "/revoke", "/device_authorization"} {
		pre := send(http.MethodOptions, path, "https://spa.example", "")
		if pre.StatusCode != http.StatusNoContent || pre.Header.Get("Access-Control-Allow-Origin") != "https://spa.example" ||
			!strings.Contains(pre.Header.Get("Access-Control-Allow-Methods"), "POST") {
			t.Errorf("%s preflight from the SPA: %d %v", path, pre.StatusCode, pre.Header)
		}
		if pre.Header.Get("Access-Control-Allow-Credentials") != "" {
			t.Errorf("%s: credentials allowed", path)
		}
		evil := send(http.MethodOptions, path, "https://evil.example", "")
		if evil.Header.Get("Access-Control-Allow-Origin") != "" || evil.StatusCode == http.StatusNoContent {
			t.Errorf("%s preflight from another origin: %d %v", path, evil.StatusCode, evil.Header)
		}
	}
	resp := send(http.MethodPost, "/token", "https://spa.example", form)
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Access-Control-Allow-Origin") != "https://spa.example" ||
		!strings.Contains(resp.Header.Get("Vary"), "Origin") {
		t.Errorf("POST /token from the SPA: %d %v", resp.StatusCode, resp.Header)
	}
	if resp := send(http.MethodPost, "/token", "https://evil.example", form); resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("POST /token from another origin got %q", resp.Header.Get("Access-Control-Allow-Origin"))
	}
	if resp := send(http.MethodGet, "/authorize?client_id=spa", "https://spa.example", ""); resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("/authorize answered CORS for %q (A22)", resp.Header.Get("Access-Control-Allow-Origin"))
	}
}
