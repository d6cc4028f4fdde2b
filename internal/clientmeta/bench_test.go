package clientmeta_test

import (
	"testing"

	"github.com/latchkey/latchkey/internal/clientmeta"
)

// BenchmarkParseValidate is the metadata work of one registration: a
// typical MCP client's request, parsed strictly and validated.
func BenchmarkParseValidate(b *testing.B) {
	body := []byte(`{"redirect_uris":["http://127.0.0.1:33418/callback","http://localhost:33418/callback"],"client_name":"Agent",
		"grant_types":["authorization_code","refresh_token"],"response_types":["code"],"token_endpoint_auth_method":"none",
		"scope":"openid read","client_uri":"https://agent.example","logo_uri":"https://agent.example/logo.png","software_id":"agent"}`)
	p := policy()
	b.ReportAllocs()
	for b.Loop() {
		m, err := clientmeta.Parse(body)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := clientmeta.Validate(m, p); err != nil {
			b.Fatal(err)
		}
	}
}
