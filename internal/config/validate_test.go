package config

import (
	"strings"
	"testing"
)

const (
	testSecret = "a-long-random-secret-of-32-or-more-characters"
	testArgon  = "$argon2id$v=19$m=19456,t=2,p=1$bGF0Y2hrZXktc2FsdC0xNg$LXEWQrcmsEQBYnyp+6wy9chTD7GQPMTbAiWHF5IaSIE"
	testBcrypt = "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"
)

// y joins YAML lines, so that a test's line numbers can be read off.
func y(lines ...string) string { return strings.Join(lines, "\n") + "\n" }

// confidential is a valid confidential client taking lines 1 to 4, to which
// a test appends keys.
func confidential(more ...string) string {
	return y(append([]string{
		"clients:",
		"  - id: c",
		"    secret: " + testSecret,
		"    grant_types: [client_credentials]",
	}, more...)...)
}

// public is a valid public client taking lines 1 to 5.
func public(more ...string) string {
	return y(append([]string{
		"clients:",
		"  - id: spa",
		"    public: true",
		"    redirect_uris: [https://app.example.com/cb]",
		"    grant_types: [authorization_code, refresh_token]",
	}, more...)...)
}

// user is a valid user taking lines 1 to 3.
func user(more ...string) string {
	return y(append([]string{
		"users:",
		"  - username: alice",
		"    password: wonderland",
	}, more...)...)
}

// ruleCase is a configuration breaking one rule, and the start of the
// problem it must cause: "line: path: message".
type ruleCase struct {
	name string
	yaml string
	want string
}

// checkRules loads each case as latchkey.yaml and expects exactly one
// problem, starting with want.
func checkRules(t *testing.T, cases []ruleCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			probs := loadProblems(t, tt.yaml)
			want := "latchkey.yaml:" + tt.want
			if len(probs) != 1 || !strings.HasPrefix(probs[0].String(), want) {
				t.Fatalf("problems:\n%v\nwant one starting with\n%s\nin\n%s", probs, want, tt.yaml)
			}
		})
	}
}

func TestServerRules(t *testing.T) {
	checkRules(t, []ruleCase{
		{"issuer relative (S093)", "issuer: auth.example.com", "1: issuer: must be an absolute https URL (S093)"},
		{"issuer ftp (S093)", "issuer: ftp://auth.example.com", "1: issuer: must be an absolute https URL"},
		{"issuer query (S093)", "issuer: https://auth.example.com?tenant=a", "1: issuer: must not have a query or fragment"},
		{"issuer empty query (S093)", "issuer: https://auth.example.com/x?", "1: issuer: must not have a query or fragment"},
		{"issuer fragment (S093)", "issuer: https://auth.example.com#x", "1: issuer: must not have a query or fragment"},
		{"issuer trailing slash", "issuer: https://auth.example.com/t/", `1: issuer: must not end with a slash; write "https://auth.example.com/t"`},
		{"issuer userinfo", "issuer: https://me:pw@auth.example.com", "1: issuer: must not contain a user name or password"},
		{"issuer http not loopback (S044, S045)", "issuer: http://auth.example.com", "1: issuer: must use https; plain http is only for 127.0.0.1"},
		{"issuer http 127.0.0.2 (S044)", "issuer: http://127.0.0.2:8080", "1: issuer: must use https"},
		{"listen no port", "listen: localhost", "1: listen: must be host:port"},
		{"listen named port", "listen: 127.0.0.1:http", "1: listen: the port must be a number from 0 to 65535"},
		{"listen port too big", "listen: :65536", "1: listen: the port must be a number from 0 to 65535"},
		{"storage sqlite without path", "storage: sqlite://", "1: storage: needs a file path, like sqlite://latchkey.db"},
		{"storage unknown scheme", "storage: mysql://db/latchkey", "1: storage: must be sqlite://PATH or postgres://USER@HOST/DATABASE"},
		{"storage bad postgres URL", "storage: postgres://app:pw@db:port/latchkey", "1: storage: is not a valid URL; percent-encode"},
		{"storage bad postgresql URL", "storage: postgresql://db/%zz", "1: storage: is not a valid URL"},
		{"tls cert without key", "tls:\n  cert_file: testdata/tls/cert.pem", "1: tls.key_file: is required when tls.cert_file is set"},
		{"tls key without cert", "tls:\n  key_file: testdata/tls/key.pem", "1: tls.cert_file: is required when tls.key_file is set"},
		{"tls missing file", y("tls:", "  cert_file: testdata/tls/cert.pem", "  key_file: testdata/tls/nope.pem"),
			`3: tls.key_file: cannot use "testdata/tls/nope.pem": no such file or directory; check the path`},
		{"tls directory", y("tls:", "  cert_file: testdata/tls", "  key_file: testdata/tls/key.pem"),
			`2: tls.cert_file: "testdata/tls" is a directory`},
		{"trusted proxy bad CIDR", "trusted_proxies: [10.0.0.1, 10.0.0.0/33]", `1: trusted_proxies[1]: "10.0.0.0/33" is not an IP address or CIDR range`},
		{"trusted proxy name", "trusted_proxies:\n  - ::1\n  - proxy.local", `3: trusted_proxies[1]: "proxy.local" is not an IP address`},
		{"log level", "log:\n  level: verbose", `2: log.level: must be one of debug, info, warn, error, not "verbose"`},
		{"log format", "log:\n  format: xml", `2: log.format: must be one of auto, text, json, not "xml"`},
	})
}

func TestTokenAndKeyRules(t *testing.T) {
	checkRules(t, []ruleCase{
		{"access ttl zero", "tokens:\n  access_token_ttl: 0", "2: tokens.access_token_ttl: must be longer than 0"},
		{"refresh ttl negative", "tokens:\n  refresh_token_ttl: -1s", "2: tokens.refresh_token_ttl: must be longer than 0"},
		{"id token ttl zero", "tokens:\n  id_token_ttl: 0s", "2: tokens.id_token_ttl: must be longer than 0"},
		{"code ttl zero", "tokens:\n  code_ttl: 0", "2: tokens.code_ttl: must be longer than 0"},
		{"session ttl zero", "tokens:\n  session_ttl: 0", "2: tokens.session_ttl: must be longer than 0"},
		{"access ttl over 24h", "tokens:\n  access_token_ttl: 25h", "2: tokens.access_token_ttl: must be at most 24h"},
		{"code ttl over 10m (S017)", "tokens:\n  code_ttl: 11m", "2: tokens.code_ttl: must be at most 10m (RFC 6749 §4.1.2, S017)"},
		{"access token alg", "tokens:\n  access_token_alg: HS256", `2: tokens.access_token_alg: must be one of ES256, EdDSA, RS256, PS256, not "HS256"`},
		{"rotation under 1h", "keys:\n  rotation_period: 30m", "2: keys.rotation_period: must be 0 (no rotation) or at least 1h"},
		{"rotation negative", "keys:\n  rotation_period: -1h\n  activation_delay: 1h", "2: keys.rotation_period: must be 0 (no rotation) or at least 1h"},
		{"activation before reload", "keys:\n  reload_interval: 1m\n  activation_delay: 10s",
			"3: keys.activation_delay: must be at least keys.reload_interval (1m)"},
		{"activation negative", "keys:\n  activation_delay: -1s", "2: keys.activation_delay: must not be negative"},
		{"activation not before rotation", "keys:\n  rotation_period: 2h\n  activation_delay: 2h",
			"3: keys.activation_delay: must be shorter than keys.rotation_period (2h)"},
		{"activation default vs short rotation", "keys:\n  rotation_period: 1h",
			"1: keys.activation_delay: must be shorter than keys.rotation_period (1h)"},
		{"argon2 memory", "passwords:\n  memory_kib: 4096", "2: passwords.memory_kib: must be at least 8192"},
		{"argon2 iterations", "passwords:\n  iterations: 0", "2: passwords.iterations: must be at least 1"},
		{"argon2 parallelism", "passwords:\n  parallelism: 0", "2: passwords.parallelism: must be at least 1"},
		{"per username", "limits:\n  per_username: 0", "2: limits.per_username: must be at least 1"},
		{"per client", "limits:\n  per_client: -1", "2: limits.per_client: must be at least 1"},
		{"per ip", "limits:\n  per_ip: 0", "2: limits.per_ip: must be at least 1"},
		{"window", "limits:\n  window: 0", "2: limits.window: must be longer than 0"},
		{"base delay", "limits:\n  base_delay: 0", "2: limits.base_delay: must be longer than 0"},
		{"max below base", "limits:\n  base_delay: 2s\n  max_delay: 1s", "3: limits.max_delay: must be at least limits.base_delay (2s)"},
		{"max conns", "database:\n  max_conns: 0", "2: database.max_conns: must be at least 1"},
		{"connect timeout", "database:\n  connect_timeout: 0", "2: database.connect_timeout: must be longer than 0"},
		{"query timeout", "database:\n  query_timeout: -5s", "2: database.query_timeout: must be longer than 0"},
		{"cache ttl negative", "database:\n  cache_ttl: -1s", "2: database.cache_ttl: must be from 0 (no cache) to 1m; 1s is usual"},
		{"cache ttl too long", "database:\n  cache_ttl: 2m", "2: database.cache_ttl: must be from 0 (no cache) to 1m; 1s is usual"},
		{"pprof listen", "debug:\n  pprof_listen: localhost", "2: debug.pprof_listen: must be host:port, like 127.0.0.1:6060"},
		{"pprof port", "debug:\n  pprof_listen: 127.0.0.1:http", "2: debug.pprof_listen: the port must be a number from 0 to 65535"},
		{"gc interval", "gc:\n  interval: 0", "2: gc.interval: must be longer than 0"},
		{"gc batch", "gc:\n  batch: 0", "2: gc.batch: must be at least 1"},
	})
}

func TestClientRules(t *testing.T) {
	checkRules(t, []ruleCase{
		{"id missing", y("clients:", "  - secret: "+testSecret, "    grant_types: [client_credentials]"),
			"2: clients[0].id: is required"},
		{"id characters", y("clients:", "  - id: my client", "    secret: "+testSecret, "    grant_types: [client_credentials]"),
			"2: clients[0].id: must be 1 to 128 letters, digits or . _ ~ -"},
		{"id too long", y("clients:", "  - id: "+strings.Repeat("a", 129), "    secret: "+testSecret, "    grant_types: [client_credentials]"),
			"2: clients[0].id: must be 1 to 128"},
		{"id duplicate", confidential("  - id: c", "    secret: "+testSecret, "    grant_types: [client_credentials]"),
			`5: clients[1].id: "c" is already the id of clients[0]; ids must be unique`},
		{"confidential without secret", y("clients:", "  - id: c", "    grant_types: [client_credentials]"),
			"2: clients[0]: a confidential client needs a secret or secret_hash"},
		{"secret and hash", confidential("    secret_hash: " + testArgon), "5: clients[0].secret_hash: set only one of secret and secret_hash"},
		{"public with secret (S038)", public("    secret: " + testSecret), "6: clients[0].secret: a public client must not have a secret (S038)"},
		{"public with hash (S038)", public("    secret_hash: " + testArgon), "6: clients[0].secret_hash: a public client must not have a secret (S038)"},
		{"public client_credentials (S027, S203)",
			y("clients:", "  - id: spa", "    public: true", "    grant_types: [client_credentials]"),
			"4: clients[0].grant_types[0]: a public client cannot use client_credentials (S027, S038, S203)"},
		{"public password (S203)",
			y("clients:", "  - id: spa", "    public: true", "    grant_types:", "      - password"),
			"5: clients[0].grant_types[0]: a public client cannot use password"},
		{"short secret", y("clients:", "  - id: c", "    secret: 31-characters-is-not-enough-xxx", "    grant_types: [client_credentials]"),
			"3: clients[0].secret: must be at least 32 characters"},
		{"secret hash not argon2id", y("clients:", "  - id: c", "    secret_hash: "+testBcrypt, "    grant_types: [client_credentials]"),
			"3: clients[0].secret_hash: must be an argon2id PHC string"},
		{"secret hash argon2i", y("clients:", "  - id: c", "    secret_hash: "+strings.Replace(testArgon, "argon2id", "argon2i", 1), "    grant_types: [client_credentials]"),
			"3: clients[0].secret_hash: must be an argon2id PHC string"},
		{"no grant types", y("clients:", "  - id: c", "    secret: "+testSecret), "2: clients[0].grant_types: must list at least one of"},
		{"empty grant types", y("clients:", "  - id: c", "    secret: "+testSecret, "    grant_types: []"), "4: clients[0].grant_types: must list at least one of"},
		{"unknown grant", y("clients:", "  - id: c", "    secret: "+testSecret, "    grant_types: [client_credentials, implicit]"),
			`4: clients[0].grant_types[1]: "implicit" is not a grant type`},
		{"duplicate grant", y("clients:", "  - id: c", "    secret: "+testSecret, "    grant_types: [client_credentials, client_credentials]"),
			`4: clients[0].grant_types[1]: "client_credentials" is listed twice`},
		{"code without redirect URI", y("clients:", "  - id: spa", "    public: true", "    grant_types: [authorization_code]"),
			"2: clients[0].redirect_uris: authorization_code needs at least one redirect URI"},
		{"refresh alone", y("clients:", "  - id: c", "    secret: "+testSecret, "    grant_types: [client_credentials, refresh_token]"),
			"4: clients[0].grant_types: refresh_token alone is never issued; add authorization_code, urn:ietf:params:oauth:grant-type:device_code, urn:ietf:params:oauth:grant-type:token-exchange or password, or remove refresh_token"},
		{"unknown auth method", confidential("    token_endpoint_auth_method: client_secret_jwt"),
			`5: clients[0].token_endpoint_auth_method: "client_secret_jwt" is not a client authentication method; use client_secret_basic, client_secret_post, none or private_key_jwt`},
		{"confidential with none (S038)", confidential("    token_endpoint_auth_method: none"),
			"5: clients[0].token_endpoint_auth_method: a confidential client must authenticate"},
		{"public with a secret method (S038)", public("    token_endpoint_auth_method: client_secret_post"),
			"6: clients[0].token_endpoint_auth_method: a public client has no credentials"},
	})
}

// TestGrantMessagesFollowTheRegistry: the list a problem offers is the
// server's grant registry, in its order.
func TestGrantMessagesFollowTheRegistry(t *testing.T) {
	probs := loadProblems(t, y("clients:", "  - id: c", "    secret: "+testSecret, "    grant_types: [implicit]"))
	want := `"implicit" is not a grant type; use authorization_code, refresh_token, client_credentials, urn:ietf:params:oauth:grant-type:device_code, urn:ietf:params:oauth:grant-type:jwt-bearer, urn:ietf:params:oauth:grant-type:token-exchange or password`
	if len(probs) != 1 || !strings.Contains(probs[0].String(), want) {
		t.Fatalf("problems %v, want %q", probs, want)
	}
	for _, ok := range []string{"client_secret_basic", "client_secret_post"} {
		if probs := loadProblems(t, confidential("    token_endpoint_auth_method: "+ok)); len(probs) != 0 {
			t.Errorf("%s refused: %v", ok, probs)
		}
	}
}

func TestClientURIAndScopeRules(t *testing.T) {
	checkRules(t, []ruleCase{
		{"redirect relative", public("    post_logout_redirect_uris: [/bye]"),
			"6: clients[0].post_logout_redirect_uris[0]: must be an absolute URI"},
		{"redirect fragment", public("    post_logout_redirect_uris:", "      - https://app.example.com/", "      - https://app.example.com/#bye"),
			"8: clients[0].post_logout_redirect_uris[1]: must not have a fragment"},
		{"redirect wildcard (S144)", public("    post_logout_redirect_uris: [https://*.example.com/cb]"),
			"6: clients[0].post_logout_redirect_uris[0]: must not contain a wildcard *"},
		{"redirect http not loopback (S119, S208)", y("clients:", "  - id: spa", "    public: true",
			"    redirect_uris:", "      - http://127.0.0.1:9999/cb", "      - http://app.example.com/cb", "    grant_types: [authorization_code]"),
			"6: clients[0].redirect_uris[1]: must use https; http is only for 127.0.0.1, [::1] or localhost (S119, S208)"},
		{"redirect https without host", public("    post_logout_redirect_uris: [\"https:/cb\"]"),
			"6: clients[0].post_logout_redirect_uris[0]: needs a host"},
		{"redirect scheme without dot (S209)", public("    post_logout_redirect_uris: [\"myapp:/cb\"]"),
			`6: clients[0].post_logout_redirect_uris[0]: scheme "myapp" is not allowed; a private-use scheme must be a reverse-DNS name`},
		{"redirect javascript (S209)", public("    post_logout_redirect_uris: [\"javascript:alert(1)\"]"),
			`6: clients[0].post_logout_redirect_uris[0]: scheme "javascript" is not allowed`},
		{"redirect duplicate", public("    post_logout_redirect_uris: [https://a.example/x, https://a.example/x]"),
			"6: clients[0].post_logout_redirect_uris[1]: is listed twice"},
		{"scope with space (RFC 6749 §3.3)", confidential("    scopes: [read, \"read write\"]"), `5: clients[0].scopes[1]: "read write" is not a valid scope`},
		{"scope with quote", confidential(`    scopes: ['say"hi']`), `5: clients[0].scopes[0]: "say\"hi" is not a valid scope`},
		{"scope with backslash", confidential(`    scopes: ['a\b']`), `5: clients[0].scopes[0]: "a\\b" is not a valid scope`},
		{"scope non-ASCII", confidential(`    scopes: [lesen, "schreiben-ä"]`), `5: clients[0].scopes[1]: "schreiben-ä" is not a valid scope`},
		{"scope empty", confidential(`    scopes: [""]`), `5: clients[0].scopes[0]: "" is not a valid scope`},
		{"scope duplicate", confidential("    scopes: [read, read]"), `5: clients[0].scopes[1]: "read" is listed twice`},
		{"default scope unknown", confidential("    scopes: [read]", "    default_scopes: [read, write]"),
			`6: clients[0].default_scopes[1]: "write" is not in scopes`},
		{"audience empty", confidential(`    audience: [api, ""]`), "5: clients[0].audience[1]: must not be empty"},
		{"access token format", confidential("    access_token_format: paseto"), `5: clients[0].access_token_format: must be one of jwt, opaque, not "paseto"`},
		{"id token alg", confidential("    id_token_signed_response_alg: none"), `5: clients[0].id_token_signed_response_alg: must be one of RS256, ES256, EdDSA, PS256, not "none"`},
		{"client access ttl negative", confidential("    access_token_ttl: -1m"), "5: clients[0].access_token_ttl: must not be negative"},
		{"client access ttl over 24h", confidential("    access_token_ttl: 48h"), "5: clients[0].access_token_ttl: must be at most 24h"},
		{"client refresh ttl negative", confidential("    refresh_token_ttl: -1m"), "5: clients[0].refresh_token_ttl: must not be negative"},
		{"refresh grace over 5m", confidential("    refresh_grace: 6m"), "5: clients[0].refresh_grace: must be between 0 and 5m"},
		{"refresh grace negative", confidential("    refresh_grace: -1s"), "5: clients[0].refresh_grace: must be between 0 and 5m"},
	})
}

func TestUserRules(t *testing.T) {
	cases := []ruleCase{
		{"username missing", y("users:", "  - password: wonderland"), "2: users[0].username: is required"},
		{"username too long", y("users:", "  - username: "+strings.Repeat("é", 129), "    password: wonderland"),
			"2: users[0].username: must be at most 128 characters"},
		{"username control character", y("users:", `  - username: "al\tice"`, "    password: wonderland"),
			"2: users[0].username: must be valid UTF-8 without control characters"},
		{"username leading space", y("users:", `  - username: " alice"`, "    password: wonderland"),
			"2: users[0].username: must not start or end with a space"},
		{"username duplicate", user("  - username: alice", "    password: looking-glass"),
			`4: users[1].username: "alice" is already used by users[0]`},
		{"password and hash", user("    password_hash: " + testArgon), "4: users[0].password_hash: set only one of password and password_hash"},
		{"no password", y("users:", "  - username: alice"), "2: users[0]: needs a password or password_hash"},
		{"hash not PHC", y("users:", "  - username: alice", "    password_hash: 5f4dcc3b5aa765d61d8327deb882cf99"),
			"3: users[0].password_hash: must be an argon2id PHC string"},
		{"bcrypt cost too low", y("users:", "  - username: alice", "    password_hash: "+strings.Replace(testBcrypt, "$10$", "$03$", 1)),
			"3: users[0].password_hash: must be an argon2id PHC string"},
		{"argon2id salt too short", y("users:", "  - username: alice", "    password_hash: $argon2id$v=19$m=19456,t=2,p=1$c2FsdA$LXEWQrcmsEQBYnyp+6wy9chTD7GQPMTbAiWHF5IaSIE"),
			"3: users[0].password_hash: must be an argon2id PHC string"},
		{"claims not JSON", user("    claims: {weight: .inf}"), "4: users[0].claims: cannot be written as JSON"},
	}
	for _, claim := range []string{"sub", "iss", "aud", "exp", "iat", "nbf", "jti", "auth_time", "nonce", "azp", "at_hash"} {
		cases = append(cases, ruleCase{"reserved claim " + claim,
			user("    claims:", "      name: Alice", "      "+claim+": x"),
			"6: users[0].claims." + claim + `: "` + claim + `" is set by the server; remove it from claims`})
	}
	checkRules(t, cases)
}

// Values at the edges of the rules, and every allowed form, load clean.
func TestValidEdges(t *testing.T) {
	tests := map[string]string{
		"issuer https with path":   "issuer: https://auth.example.com/tenant",
		"issuer localhost":         "issuer: http://localhost:8080",
		"issuer ipv6 loopback":     "issuer: http://[::1]:8080",
		"listen any port":          "listen: :0",
		"listen ipv6":              "listen: '[::1]:65535'",
		"storage postgres":         "storage: postgres://app@db.internal:5432/latchkey?sslmode=verify-full",
		"storage postgresql":       "storage: postgresql://db/latchkey",
		"tls both files":           y("tls:", "  cert_file: testdata/tls/cert.pem", "  key_file: testdata/tls/key.pem"),
		"trusted proxies":          "trusted_proxies: [10.0.0.1, '::1', 10.0.0.0/8, 'fd00::/8']",
		"edges of ttls":            y("tokens:", "  access_token_ttl: 24h", "  code_ttl: 10m"),
		"rotation on":              y("keys:", "  rotation_period: 1h", "  activation_delay: 59m"),
		"rotation off":             y("keys:", "  rotation_period: 0", "  activation_delay: 30s"),
		"smallest argon2":          y("passwords:", "  memory_kib: 8192", "  iterations: 1", "  parallelism: 1"),
		"equal delays":             y("limits:", "  base_delay: 1s", "  max_delay: 1s"),
		"secret hash":              y("clients:", "  - id: c", "    secret_hash: "+testArgon, "    grant_types: [client_credentials]"),
		"exactly 32 characters":    y("clients:", "  - id: c", "    secret: "+strings.Repeat("s", 32), "    grant_types: [client_credentials]"),
		"loopback and private-use": public("    post_logout_redirect_uris: ['http://[::1]/bye', http://localhost/bye, 'com.example.app:/bye']"),
		"client options": confidential("    name: Reports", "    scopes: [read, 'urn:example:write', \"!#[]~\"]",
			"    default_scopes: [read]", "    audience: [https://api.example.com]", "    access_token_format: opaque",
			"    id_token_signed_response_alg: EdDSA", "    access_token_ttl: 0", "    refresh_grace: 5m",
			"    introspection: true", "    skip_consent: true"),
		"password grant with refresh": y("clients:", "  - id: c", "    secret: "+testSecret, "    grant_types: [password, refresh_token]"),
		"bcrypt user":                 y("users:", "  - username: bob", "    password_hash: "+testBcrypt),
		"argon2id user":               y("users:", "  - username: Bob Smith", "    password_hash: "+testArgon),
		"claims":                      user("    claims:", "      groups: [admins]", "      address: {country: UK}", "      born: 1852-05-04"),
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			if probs := loadProblems(t, data); len(probs) != 0 {
				t.Fatalf("problems:\n%v\nin\n%s", probs, data)
			}
		})
	}
}
