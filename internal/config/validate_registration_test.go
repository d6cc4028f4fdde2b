package config

import (
	"testing"
	"time"
)

func TestRegistrationRules(t *testing.T) {
	checkRules(t, []ruleCase{
		{"short initial token (S196)", y("registration:", "  initial_access_tokens: [short]"),
			"2: registration.initial_access_tokens[0]: must be at least 32 characters"},
		{"initial token twice", y("registration:", "  initial_access_tokens: ["+testSecret+", "+testSecret+"]"),
			"2: registration.initial_access_tokens[1]: is listed twice"},
		{"password grant", y("registration:", "  policy:", "    grant_types: [authorization_code, password]"),
			`3: registration.policy.grant_types[1]: "password" cannot be registered`},
		{"token exchange grant", y("registration:", "  policy:", "    grant_types: [urn:ietf:params:oauth:grant-type:token-exchange]"),
			`3: registration.policy.grant_types[0]: "urn:ietf:params:oauth:grant-type:token-exchange" cannot be registered`},
		{"no grant", y("registration:", "  policy:", "    grant_types: []"), "3: registration.policy.grant_types: must list at least one"},
		{"grant twice", y("registration:", "  policy:", "    grant_types: [refresh_token, refresh_token]"),
			"3: registration.policy.grant_types[1]: is listed twice"},
		{"unknown method", y("registration:", "  policy:", "    auth_methods: [client_secret_basic, tls_client_auth]"),
			`3: registration.policy.auth_methods[1]: "tls_client_auth" is not a client authentication method`},
		{"default method not allowed", y("registration:", "  policy:", "    default_auth_method: private_key_jwt", "    auth_methods: [none, client_secret_basic]"),
			`3: registration.policy.default_auth_method: "private_key_jwt" is not in auth_methods`},
		{"no default for a policy without basic", y("registration:", "  policy:", "    auth_methods: [none]"),
			"2: registration.policy.default_auth_method: must be set when auth_methods leaves out client_secret_basic"},
		{"bad scope", y("registration:", "  policy:", `    scopes: ["read write"]`),
			`3: registration.policy.scopes[0]: "read write" is not a scope token`},
		{"default scope outside scopes", y("registration:", "  policy:", "    scopes: [openid]", "    default_scopes: [admin]"),
			`4: registration.policy.default_scopes[0]: "admin" is not in scopes`},
		{"resource with a fragment", y("registration:", "  policy:", "    resources: [https://mcp.example/mcp#x]"),
			"3: registration.policy.resources[0]:"},
		{"no redirect form", y("registration:", "  policy:", "    redirect_uris: {https: false, loopback: false, private_schemes: false}"),
			"3: registration.policy.redirect_uris: allows no redirect URI"},
		{"max clients zero", y("registration:", "  policy:", "    max_clients: 0"), "3: registration.policy.max_clients: must be at least 1"},
		{"no rate limit", y("registration:", "  rate_limit:", "    per_ip: 0"), "3: registration.rate_limit.per_ip: must be at least 1"},
		{"zero window", y("registration:", "  rate_limit:", "    window: 0s"), "3: registration.rate_limit.window: must be longer than 0"},
		{"unknown key", y("registration:", "  opne: true"), "2: registration.opne:"},
	})
	for _, ok := range []string{
		y("registration:", "  enabled: true", "  open: true", "  initial_access_tokens: ["+testSecret+"]",
			"  policy:", "    grant_types: [authorization_code, refresh_token]", "    auth_methods: [none]", "    default_auth_method: none",
			"    scopes: [openid, notes.read]", "    default_scopes: [notes.read]", "    resources: [https://mcp.example/mcp]",
			"    redirect_uris: {https: false, loopback: true, private_schemes: false}", "    max_clients: 50",
			"  rate_limit:", "    per_ip: 5", "    window: 10m"),
		y("registration:", "  enabled: true"),
		y("registration:", "  policy:", "    grant_types: [client_credentials]", "    redirect_uris: {https: false, loopback: false, private_schemes: false}"),
	} {
		if probs := loadProblems(t, ok); len(probs) != 0 {
			t.Errorf("refused %s: %v", ok, probs)
		}
	}
}

// TestRegistrationDefaults: off, tokens required, every form of redirect
// URI, limited.
func TestRegistrationDefaults(t *testing.T) {
	r := Default().Registration
	if r.Enabled || r.Open || r.RateLimit.PerIP != 10 || r.RateLimit.Window.D() != time.Hour || r.Policy.MaxClients != 10000 ||
		r.Policy.RedirectURIs != (RegistrationRedirects{HTTPS: true, Loopback: true, PrivateSchemes: true}) {
		t.Errorf("defaults %+v", r)
	}
	cfg, probs := check("latchkey.yaml", []byte(y("registration:", "  policy:", "    scopes: [notes.read]")), nil)
	if len(probs) != 0 || len(cfg.Registration.Policy.Scopes) != 1 || len(cfg.Registration.Policy.GrantTypes) != 4 {
		t.Errorf("a list replaces its default, the others stay: %+v %v", cfg.Registration.Policy, probs)
	}
}
