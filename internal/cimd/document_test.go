package cimd_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/cimd"
)

const docURL = "https://app.example.com/oauth/client.json"

// TestCheckURL: the client identifier URL rules of the draft (§3): https,
// a path, no dot segments, no fragment, no user name or password; a port
// and a query are allowed.
func TestCheckURL(t *testing.T) {
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{docURL, true},
		{"https://app.example.com:8443/client", true},
		{"https://app.example.com/client?v=2", true},
		{"http://app.example.com/client", false},
		{"https://app.example.com", false},
		{"https://app.example.com/", false},
		{"https://app.example.com/client#frag", false},
		{"https://app.example.com/client#", false},
		{"https://user:pw@app.example.com/client", false},
		{"https://user@app.example.com/client", false},
		{"https://app.example.com/a/../client", false},
		{"https://app.example.com/a/./client", false},
		{"https://app.example.com/a/%2E%2E/client", false},
		{"https://app.example.com/a/%2e/client", false},
		{"https:///client", false},
		{"https://app.example.com/cl ient", false},
		{"ftp://app.example.com/client", false},
		{"https:app.example.com/client", false},
	} {
		_, err := cimd.CheckURL(tc.url)
		if (err == nil) != tc.ok {
			t.Errorf("CheckURL(%q) = %v, want ok=%v", tc.url, err, tc.ok)
		}
		if err != nil && !errors.Is(err, cimd.ErrNotAllowed) {
			t.Errorf("CheckURL(%q) = %v, want ErrNotAllowed", tc.url, err)
		}
	}
}

// TestHostsPolicy: exact hosts and *.domain wildcards, deny before allow,
// an empty allowlist allowing everything not denied.
func TestHostsPolicy(t *testing.T) {
	h := cimd.Hosts{Allow: []string{"*.example.com", "tools.example.org"}, Deny: []string{"evil.example.com"}}
	for host, want := range map[string]bool{
		"app.example.com": true, "APP.Example.COM": true, "a.b.example.com": true, "example.com": false,
		"evil.example.com": false, "tools.example.org": true, "x.tools.example.org": false, "example.org": false,
		"notexample.com": false,
	} {
		if got := h.Allowed(host); got != want {
			t.Errorf("Allowed(%q) = %v, want %v", host, got, want)
		}
	}
	open := cimd.Hosts{Deny: []string{"*.internal.example"}}
	if !open.Allowed("anything.example.net") || open.Allowed("db.internal.example") {
		t.Error("an empty allowlist must allow every host not denied")
	}
	for _, p := range []string{"", "*", "*.", "https://x.com", "x.com:443", "a.*.com", "x.com/path", ".x.com"} {
		if cimd.CheckHostPattern(p) == nil {
			t.Errorf("CheckHostPattern(%q) accepted", p)
		}
	}
	for _, p := range []string{"x.com", "*.x.com", "localhost"} {
		if err := cimd.CheckHostPattern(p); err != nil {
			t.Errorf("CheckHostPattern(%q) = %v", p, err)
		}
	}
}

var policy = cimd.Policy{Scopes: []string{"openid", "profile", "mcp:tools"}, Resources: []string{"https://mcp.example.com/mcp"}}

const ecJWKS = `{"keys":[{"kty":"EC","crv":"P-256","kid":"k1","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}`

// TestParseDocument: what a metadata document may say (the draft §4.1,
// RFC 7591 §2 and S197-S199, S203) and what becomes of it.
func TestParseDocument(t *testing.T) {
	doc := func(extra string) string {
		return `{"client_id":"` + docURL + `","client_name":"Example Agent","redirect_uris":["http://127.0.0.1:33418/callback"]` + extra + `}`
	}
	c, err := cimd.ParseDocument(docURL, []byte(doc(`,"grant_types":["authorization_code","refresh_token"],"token_endpoint_auth_method":"none","unknown_member":{"x":1}`)), policy)
	if err != nil {
		t.Fatalf("valid public document: %v", err)
	}
	if !c.Public || c.TokenEndpointAuthMethod != "none" || c.Source != cimd.Source || c.ID != docURL || c.Name != "Example Agent" ||
		!slices.Equal(c.GrantTypes, []string{"authorization_code", "refresh_token"}) ||
		!slices.Equal(c.Scopes, policy.Scopes) || !slices.Equal(c.Resources, policy.Resources) {
		t.Errorf("public client = %+v", c)
	}
	c, err = cimd.ParseDocument(docURL, []byte(doc(``)), policy)
	if err != nil || !c.Public || !slices.Equal(c.GrantTypes, []string{"authorization_code"}) {
		t.Errorf("defaults: client %+v, %v; want a public client with the authorization_code grant (S197)", c, err)
	}
	c, err = cimd.ParseDocument(docURL, []byte(doc(`,"scope":"openid mcp:tools admin"`)), policy)
	if err != nil || !slices.Equal(c.Scopes, []string{"openid", "mcp:tools"}) {
		t.Errorf("scope narrowing: %v, %v; want [openid mcp:tools] (admin is not the server's to give)", c.Scopes, err)
	}
	c, err = cimd.ParseDocument(docURL, []byte(doc(`,"scope":"admin"`)), policy)
	if err != nil || len(c.Scopes) != 0 {
		t.Errorf("a document asking only for scopes the server does not grant got %v, %v; want none", c.Scopes, err)
	}
	c, err = cimd.ParseDocument(docURL, []byte(doc(`,"token_endpoint_auth_method":"private_key_jwt","jwks_uri":"https://app.example.com/jwks.json"`)), policy)
	if err != nil || c.Public || c.JWKSURI != "https://app.example.com/jwks.json" {
		t.Errorf("private_key_jwt with jwks_uri: %+v, %v", c, err)
	}
	c, err = cimd.ParseDocument(docURL, []byte(doc(`,"token_endpoint_auth_method":"private_key_jwt","jwks":`+ecJWKS)), policy)
	if err != nil || c.Public || c.JWKS == "" {
		t.Errorf("private_key_jwt with jwks: %+v, %v", c, err)
	}

	for name, body := range map[string]string{
		"client_id differs":          strings.Replace(doc(``), docURL, docURL+"x", 1),
		"client_id missing":          `{"redirect_uris":["https://app.example.com/cb"]}`,
		"client_id with a slash":     strings.Replace(doc(``), docURL, docURL+"/", 1),
		"client_secret_basic":        doc(`,"token_endpoint_auth_method":"client_secret_basic"`),
		"client_secret_post":         doc(`,"token_endpoint_auth_method":"client_secret_post"`),
		"client_secret_jwt":          doc(`,"token_endpoint_auth_method":"client_secret_jwt"`),
		"client_secret given":        doc(`,"client_secret":"s3cret"`),
		"tls_client_auth":            doc(`,"token_endpoint_auth_method":"tls_client_auth"`),
		"private_key_jwt, no keys":   doc(`,"token_endpoint_auth_method":"private_key_jwt"`),
		"jwks and jwks_uri":          doc(`,"token_endpoint_auth_method":"private_key_jwt","jwks_uri":"https://a.example/j","jwks":` + ecJWKS),
		"http jwks_uri":              doc(`,"token_endpoint_auth_method":"private_key_jwt","jwks_uri":"http://app.example.com/jwks"`),
		"private key in jwks":        doc(`,"token_endpoint_auth_method":"private_key_jwt","jwks":{"keys":[{"kty":"oct","k":"AAAA"}]}`),
		"no redirect_uris":           `{"client_id":"` + docURL + `"}`,
		"redirect with fragment":     `{"client_id":"` + docURL + `","redirect_uris":["https://app.example.com/cb#x"]}`,
		"redirect with wildcard":     `{"client_id":"` + docURL + `","redirect_uris":["https://*.example.com/cb"]}`,
		"http redirect":              `{"client_id":"` + docURL + `","redirect_uris":["http://app.example.com/cb"]}`,
		"javascript redirect":        `{"client_id":"` + docURL + `","redirect_uris":["javascript:alert(1)"]}`,
		"relative redirect":          `{"client_id":"` + docURL + `","redirect_uris":["/cb"]}`,
		"private scheme not reverse": `{"client_id":"` + docURL + `","redirect_uris":["myapp:/cb"]}`,
		"client_credentials":         doc(`,"grant_types":["client_credentials"]`),
		"password":                   doc(`,"grant_types":["authorization_code","password"]`),
		"implicit response type":     doc(`,"response_types":["token"]`),
		"redirect_uris not a list":   `{"client_id":"` + docURL + `","redirect_uris":"https://app.example.com/cb"}`,
		"not an object":              `["` + docURL + `"]`,
		"two objects":                doc(``) + doc(``),
		"null":                       `null`,
		"empty":                      ``,
		"repeated member":            `{"client_id":"` + docURL + `","client_id":"` + docURL + `","redirect_uris":["https://a.example/cb"]}`,
		"refresh without code":       doc(`,"grant_types":["refresh_token"]`),
		"jwks_uri at metadata IP":    doc(`,"token_endpoint_auth_method":"private_key_jwt","jwks_uri":"https://169.254.169.254/jwks"`),
	} {
		if _, err := cimd.ParseDocument(docURL, []byte(body), policy); !errors.Is(err, cimd.ErrInvalidDocument) {
			t.Errorf("%s: ParseDocument = %v, want ErrInvalidDocument", name, err)
		}
	}
	if _, err := cimd.ParseDocument(docURL, []byte(`{"client_id":"`+docURL+`","redirect_uris":["com.example.app:/cb"]}`), policy); err != nil {
		t.Errorf("a reverse-DNS private scheme redirect (RFC 8252 §7.1): %v", err)
	}
}

// TestCheckContentType: application/json or application/…+json (the draft, §4.1).
func TestCheckContentType(t *testing.T) {
	for ct, ok := range map[string]bool{
		"application/json": true, "application/json; charset=utf-8": true, "application/client-metadata+json": true,
		"text/html": false, "": false, "application/jsonx": false, "text/json": false,
	} {
		if err := cimd.CheckContentType(ct); (err == nil) != ok {
			t.Errorf("CheckContentType(%q) = %v, want ok=%v", ct, err, ok)
		}
	}
}
