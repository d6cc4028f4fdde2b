package cimd_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/cimd"
)

// FuzzParseDocument: whatever a client publishes, ParseDocument returns a
// client or ErrInvalidDocument, never panics, and what it accepts keeps
// its promises: the id is the URL, no secret, only none or
// private_key_jwt, a public client exactly when the method is none, and
// scopes within the policy.
func FuzzParseDocument(f *testing.F) {
	f.Add(docURL, `{"client_id":"`+docURL+`","redirect_uris":["https://app.example.com/cb"]}`)
	f.Add(docURL, `{"client_id":"`+docURL+`","redirect_uris":["http://127.0.0.1/cb"],"token_endpoint_auth_method":"private_key_jwt","jwks":`+ecJWKS+`}`)
	f.Add(docURL, `{"client_id":"`+docURL+`","token_endpoint_auth_method":"client_secret_basic"}`)
	f.Add("https://x.example/c?q=1", `{"client_id":"https://x.example/c?q=1","grant_types":["urn:ietf:params:oauth:grant-type:device_code"],"scope":"openid x"}`)
	f.Fuzz(func(t *testing.T, url, body string) {
		if _, err := cimd.CheckURL(url); err != nil {
			return
		}
		c, err := cimd.ParseDocument(url, []byte(body), policy)
		if err != nil {
			if !errors.Is(err, cimd.ErrInvalidDocument) {
				t.Fatalf("error %v does not wrap ErrInvalidDocument", err)
			}
			return
		}
		if c.ID != url || c.SecretHash != "" || c.Source != cimd.Source {
			t.Fatalf("accepted client %+v for %q", c, url)
		}
		switch c.TokenEndpointAuthMethod {
		case "none":
			if !c.Public {
				t.Fatal("none but not public")
			}
		case "private_key_jwt":
			if c.Public || (c.JWKS == "") == (c.JWKSURI == "") {
				t.Fatalf("private_key_jwt client %+v", c)
			}
		default:
			t.Fatalf("method %q accepted", c.TokenEndpointAuthMethod)
		}
		for _, s := range c.Scopes {
			if !strings.Contains(" "+strings.Join(policy.Scopes, " ")+" ", " "+s+" ") {
				t.Fatalf("scope %q beyond the policy", s)
			}
		}
	})
}
