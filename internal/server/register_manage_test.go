package server_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/testenv"
	"github.com/latchkey/latchkey/internal/token"
)

// manage sends an RFC 7592 request to the client configuration endpoint.
func manage(t testing.TB, env *testenv.Env, method string, reg regResponse, tok, body string) result {
	t.Helper()
	path := strings.TrimPrefix(reg.RegistrationClientURI, env.URL)
	ct := ""
	if body != "" {
		ct = "application/json"
	}
	var opts []reqOpt
	if tok != "" {
		opts = append(opts, withBearer(tok))
	}
	return send(t, env, method, path, ct, body, opts...)
}

// wantInvalidToken checks RFC 7592 §2's 401 with a Bearer challenge.
func wantInvalidToken(t testing.TB, what string, r result) {
	t.Helper()
	if r.Status != http.StatusUnauthorized || r.JSON(t)["error"] != "invalid_token" ||
		!strings.HasPrefix(r.Header.Get("WWW-Authenticate"), `Bearer realm="latchkey"`) || r.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("%s: %d %q %s", what, r.Status, r.Header.Get("WWW-Authenticate"), r.Body)
	}
}

// TestRegistrationRead checks RFC 7592 §2.1: the registration access
// token reads the client's metadata, nothing else does.
func TestRegistrationRead(t *testing.T) {
	f := newFixture(t, regOpen)
	a := wantRegistered(t, register(t, f.Env, `{"redirect_uris":["https://a.example/cb"],"client_name":"A","logo_uri":"https://a.example/l.png"}`))
	b := wantRegistered(t, register(t, f.Env, `{"redirect_uris":["https://b.example/cb"]}`))
	r := manage(t, f.Env, http.MethodGet, a, a.RegistrationAccessToken, "")
	if r.Status != http.StatusOK || r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("read: %d %s", r.Status, r.Body)
	}
	var got regResponse
	if err := json.Unmarshal(r.Body, &got); err != nil {
		t.Fatal(err)
	}
	if got.ClientID != a.ClientID || got.ClientName != "A" || got.LogoURI != "https://a.example/l.png" || got.AuthMethod != "client_secret_basic" ||
		got.ClientSecret != "" || got.RegistrationAccessToken != "" || got.RegistrationClientURI != a.RegistrationClientURI || *got.ClientIDIssuedAt != *a.ClientIDIssuedAt {
		t.Errorf("read %s", r.Body)
	}
	wantInvalidToken(t, "no token", manage(t, f.Env, http.MethodGet, a, "", ""))
	wantInvalidToken(t, "wrong token", manage(t, f.Env, http.MethodGet, a, a.RegistrationAccessToken+"x", ""))
	wantInvalidToken(t, "another client's token", manage(t, f.Env, http.MethodGet, a, b.RegistrationAccessToken, ""))
	unknown := a
	unknown.RegistrationClientURI = f.URL + "/register/nope"
	wantInvalidToken(t, "unknown client", manage(t, f.Env, http.MethodGet, unknown, a.RegistrationAccessToken, ""))
	f.AddClient(t, azWebClient("web"))
	configured := a
	configured.RegistrationClientURI = f.URL + "/register/web"
	wantInvalidToken(t, "a client not registered over HTTP", manage(t, f.Env, http.MethodGet, configured, a.RegistrationAccessToken, ""))
	if r := manage(t, f.Env, http.MethodPost, a, a.RegistrationAccessToken, `{}`); r.Status != http.StatusMethodNotAllowed || r.Header.Get("Allow") != "GET, PUT, DELETE" {
		t.Errorf("POST: %d %v", r.Status, r.Header)
	}
}

// TestRegistrationUpdate checks RFC 7592 §2.2: a full replacement,
// validated like a registration, that rotates the registration access
// token; a widening beyond the policy is refused and changes nothing.
func TestRegistrationUpdate(t *testing.T) {
	f := newFixture(t, regOpen)
	a := wantRegistered(t, register(t, f.Env, `{"redirect_uris":["https://a.example/cb"],"grant_types":["authorization_code","client_credentials"],
		"token_endpoint_auth_method":"client_secret_post","scope":"read","client_name":"A","logo_uri":"https://a.example/l.png"}`))
	before, _ := f.Store.GetClient(t.Context(), a.ClientID)

	refusedUpdates := []struct{ name, body, code string }{
		{"no client_id", `{"redirect_uris":["https://a.example/cb"]}`, "invalid_client_metadata"},
		{"another client_id", `{"client_id":"dcr_other","redirect_uris":["https://a.example/cb"]}`, "invalid_client_metadata"},
		{"scope beyond policy", `{"client_id":"` + a.ClientID + `","redirect_uris":["https://a.example/cb"],"scope":"read admin"}`, "invalid_client_metadata"},
		{"grant beyond policy", `{"client_id":"` + a.ClientID + `","redirect_uris":["https://a.example/cb"],"grant_types":["password"]}`, "invalid_client_metadata"},
		{"bad redirect", `{"client_id":"` + a.ClientID + `","redirect_uris":["http://evil.example/cb"]}`, "invalid_redirect_uri"},
		{"wrong secret", `{"client_id":"` + a.ClientID + `","client_secret":"lk_cs_wrong","redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"client_secret_post"}`, "invalid_client_metadata"},
	}
	for _, tc := range refusedUpdates {
		r := manage(t, f.Env, http.MethodPut, a, a.RegistrationAccessToken, tc.body)
		if r.Status != http.StatusBadRequest || r.JSON(t)["error"] != tc.code {
			t.Errorf("%s: %d %s", tc.name, r.Status, r.Body)
		}
	}
	if after, _ := f.Store.GetClient(t.Context(), a.ClientID); after.RegistrationTokenHash != before.RegistrationTokenHash ||
		strings.Join(after.Scopes, " ") != "read" || after.Name != "A" {
		t.Fatalf("a refused update changed the client: %+v", after)
	}

	// A good replacement: every field as sent, omitted ones dropped (the
	// logo), the secret kept (sent back unchanged), the token rotated.
	body := `{"client_id":"` + a.ClientID + `","client_secret":"` + a.ClientSecret + `","redirect_uris":["https://a.example/new"],
		"grant_types":["authorization_code"],"token_endpoint_auth_method":"client_secret_post","scope":"openid read","client_name":"A2"}`
	r := manage(t, f.Env, http.MethodPut, a, a.RegistrationAccessToken, body)
	if r.Status != http.StatusOK {
		t.Fatalf("update: %d %s", r.Status, r.Body)
	}
	var got regResponse
	_ = json.Unmarshal(r.Body, &got)
	if got.ClientName != "A2" || got.LogoURI != "" || got.Scope != "openid read" || got.RedirectURIs[0] != "https://a.example/new" ||
		got.ClientSecret != "" || got.RegistrationAccessToken == "" || got.RegistrationAccessToken == a.RegistrationAccessToken {
		t.Errorf("updated %s", r.Body)
	}
	wantInvalidToken(t, "the old token after rotation", manage(t, f.Env, http.MethodGet, a, a.RegistrationAccessToken, ""))
	wantInvalidToken(t, "the old token, updating", manage(t, f.Env, http.MethodPut, a, a.RegistrationAccessToken, body))
	if r := manage(t, f.Env, http.MethodGet, a, got.RegistrationAccessToken, ""); r.Status != http.StatusOK {
		t.Errorf("the new token: %d", r.Status)
	}
	// The secret still works, with the client's new method.
	tr := post(t, f.Env, "/token", creds(a.ClientID, a.ClientSecret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"lk_rt_x"}}))
	if tr.Status != http.StatusBadRequest || tr.JSON(t)["error"] == "invalid_client" {
		t.Errorf("the kept secret: %d %s", tr.Status, tr.Body)
	}

	// Public → confidential: a secret is generated and shown once.
	p := wantRegistered(t, register(t, f.Env, `{"redirect_uris":["http://127.0.0.1/cb"],"token_endpoint_auth_method":"none"}`))
	r = manage(t, f.Env, http.MethodPut, p, p.RegistrationAccessToken, `{"client_id":"`+p.ClientID+`","redirect_uris":["http://127.0.0.1/cb"],"grant_types":["client_credentials"]}`)
	var conf regResponse
	_ = json.Unmarshal(r.Body, &conf)
	if r.Status != http.StatusOK || conf.ClientSecret == "" || conf.AuthMethod != "client_secret_basic" {
		t.Fatalf("public → confidential: %d %s", r.Status, r.Body)
	}
	wantToken(t, post(t, f.Env, "/token", url.Values{"grant_type": {"client_credentials"}}, basic(p.ClientID, conf.ClientSecret)))
}

// TestRegistrationDelete checks RFC 7592 §2.3: 204, then the client, its
// registration access token and its refresh tokens are gone.
func TestRegistrationDelete(t *testing.T) {
	s := newAZ(t, testenv.Options{Configure: regOpen})
	a := wantRegistered(t, register(t, s.Env, `{"redirect_uris":["`+azCB+`"],"token_endpoint_auth_method":"none","grant_types":["authorization_code","refresh_token"]}`))
	params, verifier := azParamsWith(a.ClientID, "scope", "openid offline_access")
	code := s.browser(t).code(params)
	_, tok := azPostToken(t, s.Env, "", "", url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {azCB}, "code_verifier": {verifier}, "client_id": {a.ClientID}})
	if tok.RefreshToken == "" {
		t.Fatalf("no refresh token: %+v", tok)
	}
	wantInvalidToken(t, "delete with a wrong token", manage(t, s.Env, http.MethodDelete, a, "lk_rat_wrong", ""))
	r := manage(t, s.Env, http.MethodDelete, a, a.RegistrationAccessToken, "")
	if r.Status != http.StatusNoContent || len(r.Body) != 0 {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	wantInvalidToken(t, "read after delete", manage(t, s.Env, http.MethodGet, a, a.RegistrationAccessToken, ""))
	wantInvalidToken(t, "delete twice", manage(t, s.Env, http.MethodDelete, a, a.RegistrationAccessToken, ""))
	if _, err := s.Store.GetRefreshToken(t.Context(), token.Digest(tok.RefreshToken)); err == nil {
		t.Error("the deleted client's refresh token is still stored")
	}
	resp, rt := azPostToken(t, s.Env, "", "", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {a.ClientID}})
	if resp.status != http.StatusUnauthorized || rt.Error != "invalid_client" {
		t.Errorf("refresh after delete: %d %s", resp.status, resp.body)
	}
}
