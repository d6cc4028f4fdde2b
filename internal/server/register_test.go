package server_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/testenv"
	"github.com/latchkey/latchkey/internal/token"
)

// regOpen enables open registration (S196: opt-in) with generous limits.
func regOpen(c *server.Config) {
	c.Registration.Enabled, c.Registration.Open = true, true
	c.Registration.PerIP = 1000
	c.Registration.Policy.Scopes = []string{"openid", "profile", "read", "offline_access"}
	c.Registration.Policy.Resources = []string{"https://mcp.example/mcp"}
}

// regTokens enables registration with one initial access token from the
// configuration file (S196: required by default).
const regConfigToken = "lk_iat_config-token-of-the-tests-0123456789abcdef"

func regTokens(c *server.Config) {
	c.Registration.Enabled = true
	c.Registration.InitialTokenDigests = []string{token.HashSecret(regConfigToken)}
}

// register posts body to /register.
func register(t testing.TB, env *testenv.Env, body string, opts ...reqOpt) result {
	t.Helper()
	return send(t, env, http.MethodPost, "/register", "application/json", body, opts...)
}

// withBearer sends tok as Authorization: Bearer.
func withBearer(tok string) reqOpt { return header("Authorization", "Bearer "+tok) }

// regResponse is what a registration answers.
type regResponse struct {
	ClientID                string   `json:"client_id"`
	ClientSecret            string   `json:"client_secret"`
	ClientIDIssuedAt        *int64   `json:"client_id_issued_at"`
	ClientSecretExpiresAt   *int64   `json:"client_secret_expires_at"`
	RegistrationAccessToken string   `json:"registration_access_token"`
	RegistrationClientURI   string   `json:"registration_client_uri"`
	RedirectURIs            []string `json:"redirect_uris"`
	GrantTypes              []string `json:"grant_types"`
	ResponseTypes           []string `json:"response_types"`
	AuthMethod              string   `json:"token_endpoint_auth_method"`
	Scope                   string   `json:"scope"`
	ClientName              string   `json:"client_name"`
	LogoURI                 string   `json:"logo_uri"`
}

// wantRegistered checks a 201 registration response (RFC 7591 §3.2.1,
// S200) and returns it.
func wantRegistered(t testing.TB, r result) regResponse {
	t.Helper()
	if r.Status != http.StatusCreated {
		t.Fatalf("status %d, want 201: %s", r.Status, r.Body)
	}
	if r.Header.Get("Content-Type") != "application/json" || r.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("headers: Content-Type %q, Cache-Control %q", r.Header.Get("Content-Type"), r.Header.Get("Cache-Control"))
	}
	var got regResponse
	if err := json.Unmarshal(r.Body, &got); err != nil {
		t.Fatal(err)
	}
	if got.ClientID == "" || got.ClientIDIssuedAt == nil || got.ClientSecretExpiresAt == nil || *got.ClientSecretExpiresAt != 0 ||
		!strings.HasPrefix(got.RegistrationAccessToken, token.PrefixRegistrationToken) || !strings.HasSuffix(got.RegistrationClientURI, "/register/"+got.ClientID) {
		t.Errorf("S200: missing server-chosen values in %s", r.Body)
	}
	return got
}

// TestRegisterPublicMCPClient registers as an MCP client does (anonymous,
// open registration, public, loopback redirect, code + refresh) and runs
// the code grant with PKCE and a resource with the new client.
func TestRegisterPublicMCPClient(t *testing.T) {
	s := newAZ(t, testenv.Options{Configure: regOpen})
	const cb = "http://127.0.0.1:33418/callback"
	r := register(t, s.Env, `{"redirect_uris":["`+cb+`"],"client_name":"Agent","grant_types":["authorization_code","refresh_token"],
		"response_types":["code"],"token_endpoint_auth_method":"none","x-unknown":{"ignored":true}}`)
	got := wantRegistered(t, r)
	if got.ClientSecret != "" || got.AuthMethod != "none" || got.Scope != "openid profile read offline_access" ||
		!slices.Equal(got.ResponseTypes, []string{"code"}) || got.ClientName != "Agent" {
		t.Errorf("registered %s", r.Body)
	}
	if strings.Contains(string(r.Body), "x-unknown") {
		t.Errorf("S199: an unknown member was registered: %s", r.Body)
	}
	if strings.Contains(s.Logs.String(), got.RegistrationAccessToken) {
		t.Error("the registration access token is in the logs")
	}
	stored, err := s.Store.GetClient(t.Context(), got.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Source != "registration" || !stored.Public || stored.RegistrationTokenHash != token.HashSecret(got.RegistrationAccessToken) {
		t.Errorf("stored %+v", stored)
	}

	// The code grant with PKCE and resource works with the new client.
	b := s.browser(t)
	params, verifier := azParamsWith(got.ClientID, "redirect_uri", cb, "scope", "openid read", "resource", "https://mcp.example/mcp")
	code := b.code(params)
	resp, tok := azPostToken(t, s.Env, "", "", url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {cb}, "code_verifier": {verifier}, "client_id": {got.ClientID}, "resource": {"https://mcp.example/mcp"}})
	if resp.status != http.StatusOK || tok.AccessToken == "" || tok.RefreshToken == "" {
		t.Fatalf("token: %d %s", resp.status, resp.body)
	}
	_, claims := azJWT(t, tok.AccessToken)
	if aud, _ := json.Marshal(claims["aud"]); !strings.Contains(string(aud), "https://mcp.example/mcp") || claims["client_id"] != got.ClientID {
		t.Errorf("access token claims %v", claims)
	}
}

// TestRegisterConfidentialClient registers a service with an initial
// access token: a generated secret, shown once and stored as a digest,
// that works at the token endpoint.
func TestRegisterConfidentialClient(t *testing.T) {
	env := testenv.New(t, testenv.Options{Configure: regTokens})
	r := register(t, env, `{"grant_types":["client_credentials"],"token_endpoint_auth_method":"client_secret_post","scope":"openid"}`,
		withBearer(regConfigToken))
	got := wantRegistered(t, r)
	if !strings.HasPrefix(got.ClientSecret, token.PrefixClientSecret) || got.RedirectURIs != nil || got.ResponseTypes != nil {
		t.Fatalf("registered %s", r.Body)
	}
	stored, err := env.Store.GetClient(t.Context(), got.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.SecretHash != token.HashSecret(got.ClientSecret) || strings.Contains(stored.SecretHash, got.ClientSecret) {
		t.Errorf("secret stored as %q, want its digest", stored.SecretHash)
	}
	tr := post(t, env, "/token", creds(got.ClientID, got.ClientSecret, url.Values{"grant_type": {"client_credentials"}}))
	wantToken(t, tr)
	tr = post(t, env, "/token", creds(got.ClientID, got.ClientSecret+"x", url.Values{"grant_type": {"client_credentials"}}))
	if tr.Status != http.StatusUnauthorized {
		t.Errorf("a wrong secret: status %d", tr.Status)
	}
}

// TestRegisterMetadata checks registration_endpoint is published only
// when registration is enabled (off by default).
func TestRegisterMetadata(t *testing.T) {
	for _, on := range []bool{false, true} {
		env := testenv.New(t, testenv.Options{Configure: func(c *server.Config) { c.Registration.Enabled = on }})
		doc := send(t, env, http.MethodGet, "/.well-known/oauth-authorization-server", "", "").JSON(t)
		ep, has := doc["registration_endpoint"]
		if has != on || (on && ep != env.URL+"/register") {
			t.Errorf("enabled=%v: registration_endpoint = %v", on, ep)
		}
		if r := register(t, env, `{}`); !on && r.Status != http.StatusNotFound {
			t.Errorf("disabled: POST /register answered %d, want 404", r.Status)
		}
	}
}
