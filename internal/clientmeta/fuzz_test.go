package clientmeta_test

import (
	"testing"

	"github.com/latchkey/latchkey/internal/clientmeta"
	"github.com/latchkey/latchkey/internal/protocol"
)

// FuzzParse feeds outside input to the parser and the validator: they
// never panic, refuse only with the RFC 7591 codes, and what they accept
// is within the policy.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"redirect_uris":["http://127.0.0.1:1/cb"],"token_endpoint_auth_method":"none","grant_types":["authorization_code","refresh_token"]}`,
		`{"redirect_uris":["com.example.app:/cb"],"scope":"read write","jwks":{"keys":[]}}`,
		`{"grant_types":["client_credentials"],"jwks_uri":"https://169.254.169.254/"}`,
		`{"a":1,"a":2}`, `[]`, `{"redirect_uris":[null]}`, `{"client_name":"\u0000"}`,
	} {
		f.Add([]byte(s))
	}
	p := policy()
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := clientmeta.Parse(data)
		if err == nil {
			m, err = clientmeta.Validate(m, p)
		}
		if err != nil {
			pe := protocol.AsError(err)
			if pe == nil || (pe.Code != protocol.ErrInvalidClientMetadata && pe.Code != protocol.ErrInvalidRedirectURI) {
				t.Fatalf("refused with %v", err)
			}
			return
		}
		c := m.Client("fuzz")
		if !protocol.SubsetOf(c.Scopes, p.Scopes) || len(c.GrantTypes) == 0 {
			t.Fatalf("accepted outside the policy: %+v", c)
		}
		if c.Public && (contains(c.GrantTypes, protocol.GrantClientCredentials) || contains(c.GrantTypes, protocol.GrantPassword)) {
			t.Fatalf("public client with a confidential grant: %+v", c)
		}
	})
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
