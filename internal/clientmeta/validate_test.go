package clientmeta_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/latchkey/latchkey/internal/clientmeta"
	"github.com/latchkey/latchkey/internal/protocol"
)

// policy allows what a typical open registration allows.
func policy() clientmeta.Policy {
	return clientmeta.Policy{
		Grants: []protocol.GrantInfo{
			{Type: protocol.GrantAuthorizationCode, Public: true, User: true, Refresh: true, Redirect: true},
			{Type: protocol.GrantRefreshToken, Public: true, User: true},
			{Type: protocol.GrantClientCredentials},
			{Type: protocol.GrantPassword, User: true, Refresh: true},
		},
		AuthMethods:   []protocol.AuthMethod{protocol.AuthBasic, protocol.AuthPost, protocol.AuthPrivateKeyJWT, protocol.AuthNone},
		Scopes:        []string{"openid", "read", "write"},
		DefaultScopes: []string{"read"},
		Redirects:     clientmeta.AnyRedirect(),
	}
}

const ecJWKS = `{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}`

func validate(t *testing.T, body string, p clientmeta.Policy) (clientmeta.Metadata, error) {
	t.Helper()
	m, err := clientmeta.Parse([]byte(body))
	if err != nil {
		return m, err
	}
	return clientmeta.Validate(m, p)
}

// TestValidateDefaults checks the defaults of RFC 7591 §2 (S197) and the
// policy's default scopes.
func TestValidateDefaults(t *testing.T) {
	m, err := validate(t, `{"redirect_uris":["https://app.example/cb"]}`, policy())
	if err != nil {
		t.Fatal(err)
	}
	if m.TokenEndpointAuthMethod != "client_secret_basic" || fmt.Sprint(m.GrantTypes) != "[authorization_code]" ||
		fmt.Sprint(m.ResponseTypes) != "[code]" || m.Scope != "read" {
		t.Errorf("defaults: %+v", m)
	}
	c := m.Client("id1")
	if c.Public || c.Source != "registration" || c.ID != "id1" || fmt.Sprint(c.Scopes) != "[read]" {
		t.Errorf("client: %+v", c)
	}
	back := clientmeta.FromClient(c)
	if fmt.Sprint(back.ResponseTypes) != "[code]" || back.TokenEndpointAuthMethod != m.TokenEndpointAuthMethod {
		t.Errorf("round trip: %+v", back)
	}
}

// TestValidateAccepts checks the forms a real client registers.
func TestValidateAccepts(t *testing.T) {
	cases := map[string]string{
		"MCP public client": `{"redirect_uris":["http://127.0.0.1:33418/callback","http://localhost:9/cb","http://[::1]/cb"],
			"grant_types":["authorization_code","refresh_token"],"token_endpoint_auth_method":"none","scope":"read"}`,
		"native private scheme":  `{"redirect_uris":["com.example.app:/oauth2redirect"],"token_endpoint_auth_method":"none"}`,
		"service":                `{"grant_types":["client_credentials"],"token_endpoint_auth_method":"client_secret_post"}`,
		"private_key_jwt inline": `{"grant_types":["client_credentials"],"token_endpoint_auth_method":"private_key_jwt","jwks":` + ecJWKS + `}`,
		"private_key_jwt uri":    `{"grant_types":["client_credentials"],"token_endpoint_auth_method":"private_key_jwt","jwks_uri":"https://keys.example/jwks"}`,
		"self-asserted details": `{"redirect_uris":["https://a.example/cb"],"client_uri":"https://a.example","logo_uri":"https://cdn.a.example/l.png",
			"policy_uri":"https://a.example/p","tos_uri":"https://a.example/t","contacts":["ops@a.example"],"software_id":"x","software_version":"1"}`,
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			m, err := validate(t, body, policy())
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			c := m.Client("x")
			if got := clientmeta.FromClient(c); got.PolicyURI != m.PolicyURI || fmt.Sprint(got.Contacts) != fmt.Sprint(m.Contacts) ||
				string(got.JWKS) != string(m.JWKS) || got.JWKSURI != m.JWKSURI {
				t.Errorf("round trip lost metadata: %+v", got)
			}
		})
	}
}

// TestValidateRefuses checks every refusal carries the RFC 7591 §3.2.2 code.
func TestValidateRefuses(t *testing.T) {
	const uri, md = protocol.ErrInvalidRedirectURI, protocol.ErrInvalidClientMetadata
	cases := []struct {
		name, body, code string
	}{
		{"S198 no redirect URI for the code grant", `{}`, uri},
		{"S198 fragment", `{"redirect_uris":["https://a.example/cb#x"]}`, uri},
		{"S198 wildcard", `{"redirect_uris":["https://*.a.example/cb"]}`, uri},
		{"S198 http not loopback", `{"redirect_uris":["http://a.example/cb"]}`, uri},
		{"S198 http on a private address", `{"redirect_uris":["http://10.0.0.1/cb"]}`, uri},
		{"S198 javascript", `{"redirect_uris":["javascript:alert(1)"]}`, uri},
		{"S198 data", `{"redirect_uris":["data:text/html,hi"]}`, uri},
		{"S198 file", `{"redirect_uris":["file:///etc/passwd"]}`, uri},
		{"S198 relative", `{"redirect_uris":["/cb"]}`, uri},
		{"S198 userinfo", `{"redirect_uris":["https://user:pw@a.example/cb"]}`, uri},
		{"S198 private scheme with authority", `{"redirect_uris":["com.example.app://host/cb"]}`, uri},
		{"S198 repeated", `{"redirect_uris":["https://a.example/cb","https://a.example/cb"]}`, uri},
		{"S198 empty", `{"redirect_uris":[""]}`, uri},
		{"implicit grant", `{"redirect_uris":["https://a.example/cb"],"grant_types":["implicit"]}`, md},
		{"response type token", `{"redirect_uris":["https://a.example/cb"],"response_types":["token"]}`, md},
		{"code without the code grant", `{"grant_types":["client_credentials"],"response_types":["code"]}`, md},
		{"unknown grant", `{"grant_types":["urn:x"]}`, md},
		{"repeated grant", `{"redirect_uris":["https://a.example/cb"],"grant_types":["authorization_code","authorization_code"]}`, md},
		{"refresh alone", `{"grant_types":["refresh_token"],"token_endpoint_auth_method":"none"}`, md},
		{"S203 public client credentials", `{"grant_types":["client_credentials"],"token_endpoint_auth_method":"none"}`, md},
		{"S203 public password", `{"grant_types":["password"],"token_endpoint_auth_method":"none"}`, md},
		{"unknown auth method", `{"redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"tls_client_auth"}`, md},
		{"S197 jwks and jwks_uri", `{"grant_types":["client_credentials"],"token_endpoint_auth_method":"private_key_jwt","jwks":` + ecJWKS + `,"jwks_uri":"https://k.example/j"}`, md},
		{"private_key_jwt without keys", `{"grant_types":["client_credentials"],"token_endpoint_auth_method":"private_key_jwt"}`, md},
		{"jwks of a private key", `{"grant_types":["client_credentials"],"jwks":{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}}`, md},
		{"A25 jwks_uri at the metadata service", `{"grant_types":["client_credentials"],"jwks_uri":"https://169.254.169.254/latest"}`, md},
		{"A25 jwks_uri on loopback", `{"grant_types":["client_credentials"],"jwks_uri":"https://127.0.0.1:5432/"}`, md},
		{"A25 jwks_uri at a private address", `{"grant_types":["client_credentials"],"jwks_uri":"https://10.1.2.3/jwks"}`, md},
		{"A25 jwks_uri at localhost", `{"grant_types":["client_credentials"],"jwks_uri":"https://localhost/jwks"}`, md},
		{"A25 jwks_uri IPv4-mapped", `{"grant_types":["client_credentials"],"jwks_uri":"https://[::ffff:169.254.169.254]/"}`, md},
		{"A25 jwks_uri http", `{"grant_types":["client_credentials"],"jwks_uri":"http://keys.example/jwks"}`, md},
		{"A25 jwks_uri file", `{"grant_types":["client_credentials"],"jwks_uri":"file:///etc/passwd"}`, md},
		{"scope beyond policy", `{"redirect_uris":["https://a.example/cb"],"scope":"read admin"}`, md},
		{"scope with a bad character", `{"redirect_uris":["https://a.example/cb"],"scope":"re\"ad"}`, md},
		{"logo javascript", `{"redirect_uris":["https://a.example/cb"],"logo_uri":"javascript:alert(1)"}`, md},
		{"client_uri data", `{"redirect_uris":["https://a.example/cb"],"client_uri":"data:text/html,x"}`, md},
		{"name with a control character", `{"redirect_uris":["https://a.example/cb"],"client_name":"a\u0007b"}`, md},
		{"overlong name", `{"redirect_uris":["https://a.example/cb"],"client_name":"` + strings.Repeat("n", 201) + `"}`, md},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := validate(t, tc.body, policy())
			pe := protocol.AsError(err)
			if pe == nil || pe.Code != tc.code || pe.HTTPStatus() != http.StatusBadRequest || pe.Description == "" {
				t.Fatalf("got %v, want %s (400) with a description", err, tc.code)
			}
		})
	}
}

// TestValidatePolicyNarrows checks a policy that allows less refuses what
// it does not name: the --dev policy allows only loopback redirect URIs and
// public clients.
func TestValidatePolicyNarrows(t *testing.T) {
	p := policy()
	p.Redirects = clientmeta.RedirectRules{Loopback: true}
	p.AuthMethods = []protocol.AuthMethod{protocol.AuthNone}
	p.DefaultAuthMethod = protocol.AuthNone
	if _, err := validate(t, `{"redirect_uris":["http://127.0.0.1:1/cb"]}`, p); err != nil {
		t.Errorf("loopback public client refused: %v", err)
	}
	for _, body := range []string{
		`{"redirect_uris":["https://a.example/cb"]}`,
		`{"redirect_uris":["com.example.app:/cb"]}`,
		`{"redirect_uris":["http://127.0.0.1/cb"],"token_endpoint_auth_method":"client_secret_basic"}`,
	} {
		if _, err := validate(t, body, p); err == nil {
			t.Errorf("%s accepted under the loopback-only policy", body)
		}
	}
}

// TestValidateClientID checks the RFC 7592 §2.2 / metadata document rule:
// with Policy.ClientID set, client_id must be present and equal.
func TestValidateClientID(t *testing.T) {
	p := policy()
	p.ClientID = "https://agent.example/client.json"
	for body, ok := range map[string]bool{
		`{"redirect_uris":["https://a.example/cb"]}`:                                                       false,
		`{"redirect_uris":["https://a.example/cb"],"client_id":"https://evil.example/client.json"}`:        false,
		`{"redirect_uris":["https://a.example/cb"],"client_id":"https://agent.example/client.json"}`:       true,
		`{"redirect_uris":["https://a.example/cb"],"client_id":"https://agent.example/client.json","x":1}`: true,
	} {
		_, err := validate(t, body, p)
		if (err == nil) != ok {
			t.Errorf("%s: err %v, want ok=%v", body, err, ok)
		}
	}
	// Without Policy.ClientID the server chooses the id and ignores it (S202).
	if _, err := validate(t, `{"redirect_uris":["https://a.example/cb"],"client_id":"chosen"}`, policy()); err != nil {
		t.Errorf("client_id in a registration request refused: %v", err)
	}
}

// TestA25NothingFetched checks that validation never reaches out: a
// jwks_uri and a logo_uri at a loopback listener (allowed for jwks_uri in
// tests) leave the listener untouched.
func TestA25NothingFetched(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	p := policy()
	p.AllowLoopbackJWKSURI = true
	body, _ := json.Marshal(map[string]any{
		"grant_types": []string{"client_credentials"}, "token_endpoint_auth_method": "private_key_jwt",
		"jwks_uri": srv.URL + "/jwks", "logo_uri": "http://127.0.0.1:" + port + "/logo.png", "client_uri": srv.URL,
	})
	if _, err := validate(t, string(body), p); err != nil {
		t.Fatal(err)
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the listener received %d requests; validation must fetch nothing", n)
	}
}

// TestDescriptionsSurviveTheWire checks that refusals read well once
// protocol.SafeDescription has kept only the characters RFC 6749 §5.2
// allows: no quote or section sign turned into '?'.
func TestDescriptionsSurviveTheWire(t *testing.T) {
	for _, body := range []string{
		`{"redirect_uris":["https://a.example/cb#x"]}`, `{"redirect_uris":["http://a.example/cb"]}`,
		`{"redirect_uris":["https://a.example/cb"],"response_types":["token"]}`, `{"a":1,"a":2}`,
		`{"grant_types":["client_credentials"],"jwks_uri":"https://10.0.0.1/j"}`,
	} {
		_, err := validate(t, body, policy())
		pe := protocol.AsError(err)
		if pe == nil || protocol.SafeDescription(pe.Description) != pe.Description {
			t.Errorf("%s: description %q changes on the wire", body, pe.Description)
		}
	}
}
