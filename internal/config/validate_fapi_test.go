package config

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// testJWK is a public P-256 key (RFC 7517 Appendix A.1).
const testJWK = "{kty: EC, crv: P-256, x: MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4, y: 4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM}"

// keyClient is a valid private_key_jwt client taking lines 1 to 5.
func keyClient(more ...string) string {
	return y(append([]string{
		"clients:",
		"  - id: bank",
		"    token_endpoint_auth_method: private_key_jwt",
		"    jwks: {keys: [" + testJWK + "]}",
		"    grant_types: [client_credentials]",
	}, more...)...)
}

// fapiClient is a valid fapi2 client taking lines 1 to 6.
func fapiClient(more ...string) string {
	return y(append([]string{
		"clients:",
		"  - id: bank",
		"    profile: fapi2",
		"    jwks: {keys: [" + testJWK + "]}",
		"    redirect_uris: [https://bank.example.com/cb]",
		"    grant_types: [authorization_code, refresh_token]",
	}, more...)...)
}

func TestSenderConstraintRules(t *testing.T) {
	checkRules(t, []ruleCase{
		{"proof alg HMAC (S176)", y("dpop:", "  signing_algs: [ES256, HS256]"),
			`2: dpop.signing_algs[1]: "HS256" is not accepted for proofs`},
		{"no proof algs", y("dpop:", "  signing_algs: []"), "2: dpop.signing_algs: must list at least one"},
		{"proof window", y("dpop:", "  proof_window: 1h"), "2: dpop.proof_window: must be between 5s and 5m"},
		{"nonce lifetime", y("dpop:", "  nonce_lifetime: 1s"), "2: dpop.nonce_lifetime: must be between 10s and 1h"},
		{"par lifetime (S181)", y("par:", "  lifetime: 1h"), "2: par.lifetime: must be between 5s and 10m"},
	})
}

// smallRSAJWK is a public RSA JWK of 1024 bits, as a flow-style YAML map.
func smallRSAJWK(t *testing.T) string {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(jose.JSONWebKey{Key: k.Public()})
	if err != nil {
		t.Fatal(err)
	}
	return string(b) // JSON is YAML
}

func TestKeyClientRules(t *testing.T) {
	checkRules(t, []ruleCase{
		{"no keys", y("clients:", "  - id: bank", "    token_endpoint_auth_method: private_key_jwt", "    grant_types: [client_credentials]"),
			"2: clients[0]: private_key_jwt needs the client's public keys"},
		{"both key sources", keyClient("    jwks_uri: https://bank.example.com/jwks"),
			"6: clients[0].jwks_uri: set only one of jwks and jwks_uri"},
		{"a secret too", keyClient("    secret: " + testSecret), "6: clients[0].secret: a private_key_jwt client proves itself with its key"},
		{"private key in jwks", y("clients:", "  - id: bank", "    token_endpoint_auth_method: private_key_jwt",
			"    jwks: {keys: [{kty: oct, k: c2VjcmV0}]}", "    grant_types: [client_credentials]"),
			"4: clients[0].jwks: is not usable: key 0: private or symmetric key material"},
		{"jwks without keys", y("clients:", "  - id: bank", "    token_endpoint_auth_method: private_key_jwt",
			"    jwks: {keys: []}", "    grant_types: [client_credentials]"), "4: clients[0].jwks: is not usable: no keys of a supported type"},
		{"RSA key of 1024 bits (the rule assertions are verified by)", y("clients:", "  - id: bank", "    token_endpoint_auth_method: private_key_jwt",
			"    jwks: {keys: ["+smallRSAJWK(t)+"]}", "    grant_types: [client_credentials]"),
			"4: clients[0].jwks: is not usable: key 0: RSA key of 1024 bits"},
		{"jwks_uri over http (A25)", y("clients:", "  - id: bank", "    token_endpoint_auth_method: private_key_jwt",
			"    jwks_uri: http://bank.example.com/jwks", "    grant_types: [client_credentials]"),
			"4: clients[0].jwks_uri: must use https"},
		{"jwks_uri on loopback without the dev switch (A25)", y("clients:", "  - id: bank", "    token_endpoint_auth_method: private_key_jwt",
			"    jwks_uri: http://127.0.0.1:9999/jwks", "    grant_types: [client_credentials]"),
			"4: clients[0].jwks_uri: must use https"},
		{"jwks for a secret client", confidential("    jwks_uri: https://c.example.com/jwks"),
			"2: clients[0].token_endpoint_auth_method: jwks and jwks_uri are for private_key_jwt"},
		{"relative resource (S204)", confidential("    resources: [/api]"), "5: clients[0].resources[0]: must be an absolute URI"},
		{"resource with fragment (S204)", confidential("    resources: ['https://api.example.com/#x']"),
			"5: clients[0].resources[0]: must not have a fragment"},
		{"duplicate resource", confidential("    resources: [https://api.example.com, https://api.example.com]"),
			"5: clients[0].resources[1]: is listed twice"},
		{"unknown rotation", confidential("    refresh_token_rotation: sometimes"), `5: clients[0].refresh_token_rotation: must be`},
		{"unknown profile", confidential("    profile: fapi1"), `5: clients[0].profile: must be`},
	})
}

// TestFAPI2Rules: a fapi2 client that contradicts the FAPI 2.0 Security
// Profile is refused with its file and line.
func TestFAPI2Rules(t *testing.T) {
	checkRules(t, []ruleCase{
		{"secret method", fapiClient("    token_endpoint_auth_method: client_secret_basic", "    secret: "+testSecret),
			"7: clients[0].token_endpoint_auth_method: must be private_key_jwt under profile: fapi2"},
		{"public", y("clients:", "  - id: bank", "    profile: fapi2", "    public: true", "    redirect_uris: [https://bank.example.com/cb]",
			"    grant_types: [authorization_code]"), "4: clients[0].public: FAPI 2.0 clients are confidential"},
		{"password grant", y("clients:", "  - id: bank", "    profile: fapi2", "    jwks: {keys: ["+testJWK+"]}",
			"    grant_types: [password]"), "5: clients[0].grant_types: the password grant is not allowed under profile: fapi2"},
		{"RS256 ID tokens", fapiClient("    id_token_signed_response_alg: RS256"),
			"7: clients[0].id_token_signed_response_alg: RS256 is not allowed under profile: fapi2"},
		{"RS256 access tokens", fapiClient() + y("tokens:", "  access_token_alg: RS256"),
			"3: clients[0].profile: tokens.access_token_alg RS256 is not allowed"},
		{"long codes", fapiClient() + y("tokens:", "  code_ttl: 5m"), "3: clients[0].profile: tokens.code_ttl must be at most 60s"},
		{"no keys", y("clients:", "  - id: bank", "    profile: fapi2", "    redirect_uris: [https://bank.example.com/cb]",
			"    grant_types: [authorization_code]"), "2: clients[0]: private_key_jwt needs the client's public keys"},
	})
}

// TestValidKeyClients: the valid forms load without a problem.
func TestValidKeyClients(t *testing.T) {
	for name, doc := range map[string]string{
		"inline jwks":  keyClient("    resources: [https://api.example.com, 'urn:example:notes']", "    dpop_bound_access_tokens: true"),
		"fapi2":        fapiClient("    refresh_token_rotation: rotate"),
		"loopback dev": y("client_assertions:", "  allow_loopback_jwks: true", "clients:", "  - id: bank", "    token_endpoint_auth_method: private_key_jwt", "    jwks_uri: http://127.0.0.1:9999/jwks", "    grant_types: [client_credentials]"),
	} {
		if probs := loadProblems(t, doc); len(probs) != 0 {
			t.Errorf("%s: %v", name, probs)
		}
	}
}
