package clientmeta_test

import (
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/clientmeta"
	"github.com/latchkey/latchkey/internal/protocol"
)

// TestParseRefuses checks the strict reading of RFC 7591 §2 metadata: one
// bounded object, no repeated member, known members of their type.
func TestParseRefuses(t *testing.T) {
	cases := map[string]string{
		"not an object":          `["https://app.example/cb"]`,
		"empty":                  ``,
		"malformed":              `{"redirect_uris": [`,
		"trailing data":          `{} {}`,
		"trailing garbage":       `{}x`,
		"repeated member":        `{"redirect_uris":["https://a.example/cb"],"redirect_uris":["https://evil.example/cb"]}`,
		"uris not an array":      `{"redirect_uris":"https://a.example/cb"}`,
		"uris of numbers":        `{"redirect_uris":[1]}`,
		"uris holding null":      `{"redirect_uris":[null]}`,
		"name a number":          `{"client_name":7}`,
		"auth method an array":   `{"token_endpoint_auth_method":["none"]}`,
		"jwks a string":          `{"jwks":"{\"keys\":[]}"}`,
		"scope a list":           `{"scope":["a","b"]}`,
		"client_id a number":     `{"client_id":1}`,
		"oversized":              `{"client_name":"` + strings.Repeat("a", clientmeta.MaxSize) + `"}`,
		"invalid utf8 in a name": "{\"client_name\":\"\xff\"}\x00",
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := clientmeta.Parse([]byte(body))
			pe := protocol.AsError(err)
			if pe == nil || pe.Code != protocol.ErrInvalidClientMetadata {
				t.Fatalf("Parse(%.60q) = %v, want invalid_client_metadata", body, err)
			}
		})
	}
}

// TestParseReads checks known members land in their fields, unknown ones
// are ignored (S199) and null counts as absent.
func TestParseReads(t *testing.T) {
	body := `{"redirect_uris":["http://127.0.0.1:8080/cb"],"client_name":"Agent","grant_types":["authorization_code","refresh_token"],
		"token_endpoint_auth_method":"none","scope":"read write","logo_uri":null,"client_name#fr":"Agent FR",
		"extension":{"nested":[1,2,{"deep":true}]},"jwks":{"keys":[]},"client_id":"abc","software_id":"sw"}`
	m, err := clientmeta.Parse([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if m.ClientName != "Agent" || m.TokenEndpointAuthMethod != "none" || m.Scope != "read write" || m.ClientID != "abc" || m.SoftwareID != "sw" {
		t.Errorf("parsed %+v", m)
	}
	if len(m.RedirectURIs) != 1 || m.RedirectURIs[0] != "http://127.0.0.1:8080/cb" || len(m.GrantTypes) != 2 {
		t.Errorf("lists: %+v", m)
	}
	if m.LogoURI != "" || string(m.JWKS) != `{"keys":[]}` {
		t.Errorf("logo %q jwks %s", m.LogoURI, m.JWKS)
	}
}
