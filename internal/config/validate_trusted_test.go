package config

import "testing"

// trusted is a valid trusted issuer taking lines 1 to 5, to which a test
// appends keys.
func trusted(more ...string) string {
	return y(append([]string{
		"trusted_issuers:",
		"  - name: k8s",
		"    issuer: https://kubernetes.default.svc.cluster.local",
		"    jwks_uri: https://k8s.example.com/openid/v1/jwks",
		"    allowed_clients: [deployer]",
	}, more...)...)
}

func TestTrustedIssuerRules(t *testing.T) {
	checkRules(t, []ruleCase{
		{"no name", y("trusted_issuers:", "  - issuer: https://a.example", "    jwks_uri: https://a.example/jwks", "    allowed_clients: [c]"),
			"2: trusted_issuers[0].name: is required"},
		{"name client reserved", y("trusted_issuers:", "  - name: client", "    issuer: https://a.example", "    jwks_uri: https://a.example/jwks", "    allowed_clients: [c]"),
			`2: trusted_issuers[0].name: "client" is reserved`},
		{"name with a colon", y("trusted_issuers:", "  - name: 'k8s:prod'", "    issuer: https://a.example", "    jwks_uri: https://a.example/jwks", "    allowed_clients: [c]"),
			"2: trusted_issuers[0].name: must be 1 to 32 of a-z, 0-9 and -"},
		{"name upper case", y("trusted_issuers:", "  - name: K8s", "    issuer: https://a.example", "    jwks_uri: https://a.example/jwks", "    allowed_clients: [c]"),
			"2: trusted_issuers[0].name: must be 1 to 32"},
		{"duplicate name", trusted("  - name: k8s", "    issuer: https://b.example", "    jwks_uri: https://b.example/jwks", "    allowed_clients: [c]"),
			`6: trusted_issuers[1].name: "k8s" is already the name of trusted_issuers[0]`},
		{"duplicate issuer", trusted("  - name: k8s-b", "    issuer: https://kubernetes.default.svc.cluster.local", "    jwks_uri: https://b.example/jwks", "    allowed_clients: [c]"),
			"7: trusted_issuers[1].issuer: is already the issuer of trusted_issuers[0]"},
		{"no issuer", y("trusted_issuers:", "  - name: a", "    jwks_uri: https://a.example/jwks", "    allowed_clients: [c]"),
			"2: trusted_issuers[0].issuer: is required"},
		{"no keys", y("trusted_issuers:", "  - name: a", "    issuer: https://a.example", "    allowed_clients: [c]"),
			"2: trusted_issuers[0]: needs the issuer's public keys"},
		{"both key sources", trusted("    jwks: {keys: [" + testJWK + "]}"), "4: trusted_issuers[0].jwks_uri: set only one of jwks and jwks_uri"},
		{"jwks_uri http", y("trusted_issuers:", "  - name: a", "    issuer: https://a.example", "    jwks_uri: http://a.example/jwks", "    allowed_clients: [c]"),
			"4: trusted_issuers[0].jwks_uri: must use https"},
		{"jwks_uri loopback (A25)", y("trusted_issuers:", "  - name: a", "    issuer: https://a.example", "    jwks_uri: https://127.0.0.1/jwks", "    allowed_clients: [c]"),
			"4: trusted_issuers[0].jwks_uri: 127.0.0.1 is never fetched"},
		{"jwks_uri private (A25)", y("trusted_issuers:", "  - name: a", "    issuer: https://a.example", "    jwks_uri: https://10.0.0.1/jwks", "    allowed_clients: [c]"),
			"4: trusted_issuers[0].jwks_uri: 10.0.0.1 is never fetched"},
		{"jwks_uri metadata service (A25)", y("trusted_issuers:", "  - name: a", "    issuer: https://a.example", "    jwks_uri: https://169.254.169.254/jwks", "    allowed_clients: [c]"),
			"4: trusted_issuers[0].jwks_uri: 169.254.169.254 is never fetched"},
		{"jwks_uri mapped IPv6 (A25)", y("trusted_issuers:", "  - name: a", "    issuer: https://a.example", "    jwks_uri: 'https://[::ffff:10.0.0.1]/jwks'", "    allowed_clients: [c]"),
			"4: trusted_issuers[0].jwks_uri: ::ffff:10.0.0.1 is never fetched"},
		{"jwks_uri userinfo", y("trusted_issuers:", "  - name: a", "    issuer: https://a.example", "    jwks_uri: https://u:p@a.example/jwks", "    allowed_clients: [c]"),
			"4: trusted_issuers[0].jwks_uri: must not carry userinfo"},
		{"symmetric inline key (A13)", y("trusted_issuers:", "  - name: a", "    issuer: https://a.example", "    jwks: {keys: [{kty: oct, k: c2VjcmV0}]}", "    allowed_clients: [c]"),
			"4: trusted_issuers[0].jwks: is not usable"},
		{"no allowed clients", y("trusted_issuers:", "  - name: a", "    issuer: https://a.example", "    jwks_uri: https://a.example/jwks"),
			"2: trusted_issuers[0].allowed_clients: must list the clients"},
		{"bad allowed client", y("trusted_issuers:", "  - name: a", "    issuer: https://a.example", "    jwks_uri: https://a.example/jwks", "    allowed_clients: ['a b']"),
			`5: trusted_issuers[0].allowed_clients[0]: "a b" is not a client id`},
		{"wildcard inside a subject", trusted("    allowed_subjects: ['repo:*:ref:main']"),
			"6: trusted_issuers[0].allowed_subjects[0]: must be a subject, or a prefix ending in *"},
		{"bad scope", trusted("    scopes: ['a\"b']"), `6: trusted_issuers[0].scopes[0]: "a\"b" is not a valid scope`},
		{"duplicate scope", trusted("    scopes: [read, read]"), `6: trusted_issuers[0].scopes[1]: "read" is listed twice`},
		{"max_token_age too long", trusted("    max_token_age: 48h"), "6: trusted_issuers[0].max_token_age: must be from 1m to 24h"},
		{"max_token_age too short", trusted("    max_token_age: 10s"), "6: trusted_issuers[0].max_token_age: must be from 1m to 24h"},
		{"alg none (A13)", trusted("    algorithms: [RS256, none]"), `6: trusted_issuers[0].algorithms[1]: "none" is never accepted`},
		{"alg HS256 (A13)", trusted("    algorithms: [HS256]"), `6: trusted_issuers[0].algorithms[0]: "HS256" is never accepted`},
		{"alg unknown", trusted("    algorithms: [RSA-OAEP]"), `6: trusted_issuers[0].algorithms[0]: "RSA-OAEP" is not a signature algorithm`},
		{"subject claim with a space", trusted("    subject_claim: 'my claim'"), "6: trusted_issuers[0].subject_claim: must name a claim"},
	})
	for _, ok := range []string{
		trusted(),
		trusted("    audience: https://auth.example.com", "    subject_claim: sub", "    allowed_subjects: ['system:serviceaccount:payments:*', exact]",
			"    scopes: [payments.read]", "    max_token_age: 2h", "    algorithms: [RS256, ES256]", "    allow_token_reuse: true"),
		y("trusted_issuers:", "  - name: github", "    issuer: https://token.actions.githubusercontent.com", "    jwks: {keys: ["+testJWK+"]}", "    allowed_clients: [ci]"),
		y("client_assertions:", "  allow_loopback_jwks: true", "trusted_issuers:", "  - name: dev", "    issuer: https://dev.example",
			"    jwks_uri: http://127.0.0.1:9000/jwks", "    allowed_clients: [ci]"),
		y("clients:", "  - id: deployer", "    secret: "+testSecret, "    grant_types: [urn:ietf:params:oauth:grant-type:jwt-bearer]"),
	} {
		if probs := loadProblems(t, ok); len(probs) != 0 {
			t.Errorf("refused %s: %v", ok, probs)
		}
	}
}
