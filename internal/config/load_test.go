package config

import (
	"errors"
	"strings"
	"testing"
)

// loadProblems loads data as the file latchkey.yaml with no environment
// and validates it, as a command does.
func loadProblems(t *testing.T, data string) Problems {
	t.Helper()
	_, probs := check("latchkey.yaml", []byte(data), nil)
	return probs
}

// check is Load followed by Validate, for data named as the file name.
func check(name string, data []byte, getenv func(string) string) (Config, Problems) {
	cfg, probs := load(name, data, getenv, testRules)
	if len(probs) == 0 {
		probs = cfg.problems(testRules)
	}
	return cfg, probs
}

// Load reports rule violations only along with problems reading the file;
// otherwise the caller validates after adjusting the config.
func TestLoadLeavesRulesToValidate(t *testing.T) {
	cfg, probs := load("latchkey.yaml", []byte("listen: nowhere\n"), nil, testRules)
	if len(probs) != 0 {
		t.Fatalf("load: %v", probs)
	}
	err := cfg.Validate(testRules)
	if err == nil || err.Error() != "latchkey.yaml:1: listen: must be host:port, like 127.0.0.1:8080 or :8080" {
		t.Errorf("Validate() = %v", err)
	}
	cfg.Listen = ":9090" // as a --listen flag would
	if err := cfg.Validate(testRules); err != nil {
		t.Errorf("after the fix, Validate() = %v", err)
	}
	_, probs = load("latchkey.yaml", []byte("log: {levle: debug}\nlisten: nowhere\n"), nil, testRules)
	want := `latchkey.yaml:1: log.levle: unknown key; did you mean "level"?` + "\n" +
		"latchkey.yaml:2: listen: must be host:port, like 127.0.0.1:8080 or :8080"
	if probs.Error() != want {
		t.Errorf("with a read problem:\n%v\nwant\n%s", probs, want)
	}
}

func TestUnknownKeyReportsLine(t *testing.T) {
	_, err := Load("testdata/unknown_key.yaml", noEnv, testRules)
	want := `testdata/unknown_key.yaml:5: clients[0].redirect_uri: unknown key; did you mean "redirect_uris"?`
	if err == nil || err.Error() != want {
		t.Fatalf("err =\n%v\nwant\n%s", err, want)
	}
}

func TestYAMLProblems(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want string
	}{
		{"list for text", "storage: sqlite://x.db\nlisten: [a]\n",
			"latchkey.yaml:2: listen: must be text (quote it if needed), not a list"},
		{"text for bool", "clients:\n  - id: spa\n    public: \"yes please\"\n" +
			"    redirect_uris: [https://app.example.com/cb]\n    grant_types: [authorization_code]\n",
			"latchkey.yaml:3: clients[0].public: must be true or false, not text"},
		{"mapping for list", "trusted_proxies:\n  a: b\n",
			"latchkey.yaml:2: trusted_proxies: must be a list of text values, like [a, b], not a mapping"},
		{"list of lists", "trusted_proxies: [[10.0.0.1]]\n",
			"latchkey.yaml:1: trusted_proxies[0]: must be text (quote it if needed), not a list"},
		{"decimal for int", "limits:\n  per_ip: 1.5\n",
			"latchkey.yaml:2: limits.per_ip: must be a whole number, not a decimal number"},
		{"decimal for int32", "database:\n  max_conns: 2.0\n",
			"latchkey.yaml:2: database.max_conns: must be a whole number from -2147483648 to 2147483647, not a decimal number"},
		{"huge decimal for int", "gc:\n  batch: 1e100\n",
			"latchkey.yaml:2: gc.batch: must be a whole number, not a decimal number"},
		{"uint8 out of range", "passwords:\n  parallelism: 300\n",
			"latchkey.yaml:2: passwords.parallelism: must be a whole number from 0 to 255; the number is out of range"},
		{"bad duration", "gc:\n  interval: soon\n",
			`latchkey.yaml:2: gc.interval: invalid duration "soon"; write it like 15m, 1h30m or 60s`},
		{"duration without unit", "gc:\n  interval: 300\n",
			`latchkey.yaml:2: gc.interval: duration "300" has no unit; write 300s, 300m or 300h`},
		{"list for duration", "gc:\n  interval: [1m]\n",
			"latchkey.yaml:2: gc.interval: must be a duration like 15m, 1h30m or 60s, not a list"},
		{"list for client", "clients:\n  - [a, b]\n",
			"latchkey.yaml:2: clients[0]: must be a mapping of keys, not a list"},
		{"text for document", "just text\n",
			"latchkey.yaml:1: must be a mapping of keys, not text"},
		{"unknown top-level key", "listen: :8080\nlisten_addr: :9090\n",
			`latchkey.yaml:2: listen_addr: unknown key; did you mean "listen"?`},
		{"unknown key far from any", "tokens:\n  zzz: 1\n",
			"latchkey.yaml:2: tokens.zzz: unknown key; remove it or use one of: access_token_ttl, refresh_token_ttl"},
		{"File is not a key", "file: x.yaml\n",
			"latchkey.yaml:1: file: unknown key; remove it or use one of: issuer, listen"},
		{"duplicate key", "listen: :8080\nstorage: sqlite://a.db\nlisten: :9090\n",
			"latchkey.yaml:3: listen: is set twice (first on line 1); keep one"},
		{"syntax error", "listen: :8080\nlog: {}\nstorage sqlite://x.db\ngc: {}\n",
			"latchkey.yaml:3: invalid YAML: could not find expected ':'; check the indentation"},
		{"two documents", "listen: :8080\n---\nlisten: :9090\n",
			"latchkey.yaml:2: the file holds more than one YAML document; keep one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			probs := loadProblems(t, tt.yaml)
			if len(probs) != 1 || !strings.HasPrefix(probs[0].String(), tt.want) {
				t.Fatalf("problems:\n%v\nwant one starting with\n%s", probs, tt.want)
			}
		})
	}
}

func TestFiveProblemsAtOnce(t *testing.T) {
	_, err := Load("testdata/five_problems.yaml", noEnv, testRules)
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("err = %v (%T), want Problems", err, err)
	}
	const f = "testdata/five_problems.yaml"
	want := []string{
		f + `:2: issuer: must not end with a slash; write "https://auth.example.com"`,
		f + ":5: tokens.code_ttl: must be at most 10m (RFC 6749 §4.1.2, S017); 60s is usual",
		f + `:6: tokens.acess_token_ttl: unknown key; did you mean "access_token_ttl"?`,
		f + ":9: clients[0].public: must be true or false, not text",
		f + `:15: users[0].claims.sub: "sub" is set by the server; remove it from claims`,
	}
	if got := strings.Split(err.Error(), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// A value that could not be read is not also reported as missing.
func TestReadProblemHidesValidation(t *testing.T) {
	probs := loadProblems(t, "clients:\n  - id: [web]\n    secret: a-long-random-secret-of-32-or-more-characters\n"+
		"    grant_types: [client_credentials]\n")
	want := "latchkey.yaml:2: clients[0].id: must be text (quote it if needed), not a list"
	if len(probs) != 1 || probs[0].String() != want {
		t.Fatalf("problems:\n%v\nwant only\n%s", probs, want)
	}
}

// Problems never repeat a secret, whatever is wrong around it (S044).
func TestProblemsNeverShowSecrets(t *testing.T) {
	const secret = "hunter2"
	probs := loadProblems(t, `storage: postgres://app:hunter2@db:bad/latchkey
secrets:
  system: [hunter2]
clients:
  - id: a
    secret: hunter2
    secret_hash: hunter2
    public: hunter2
    grant_types: [client_credentials]
users:
  - username: bob
    password: hunter2
    password_hash: hunter2
  - username: carol
    password_hash: $argon2id$hunter2
`)
	if len(probs) < 6 {
		t.Errorf("only %d problems:\n%v", len(probs), probs)
	}
	if strings.Contains(probs.Error(), secret) {
		t.Errorf("a problem shows the secret:\n%v", probs)
	}
	_, envProbs := check("", nil, func(name string) string {
		if name == "LATCHKEY_LIMITS_PER_IP" || name == "LATCHKEY_STORAGE" {
			return secret
		}
		return ""
	})
	if len(envProbs) != 2 || strings.Contains(envProbs.Error(), secret) {
		t.Errorf("env problems:\n%v", envProbs)
	}
}
