package config

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// env is a getenv over a map.
func env(vars map[string]string) func(string) string {
	return func(name string) string { return vars[name] }
}

func TestEnvOverrides(t *testing.T) {
	cfg, err := Load("testdata/example.yaml", env(map[string]string{
		"LATCHKEY_ISSUER":                  "https://auth.example.com",
		"LATCHKEY_LISTEN":                  ":9090",
		"LATCHKEY_SECRETS_SYSTEM":          "from-the-environment",
		"LATCHKEY_TOKENS_ACCESS_TOKEN_TTL": "5m",
		"LATCHKEY_LIMITS_PER_IP":           " 7 ",
		"LATCHKEY_DATABASE_MAX_CONNS":      "3",
		"LATCHKEY_PASSWORDS_PARALLELISM":   "2",
		"LATCHKEY_TRUSTED_PROXIES":         "10.0.0.0/8, ::1,,",
		"LATCHKEY_UNKNOWN":                 "ignored",
	}), testRules)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	got := []any{cfg.Issuer, cfg.Listen, cfg.Secrets.System.Reveal(), cfg.Tokens.AccessTokenTTL.D(),
		cfg.Limits.PerIP, cfg.Database.MaxConns, cfg.Passwords.Parallelism, cfg.TrustedProxies}
	want := []any{"https://auth.example.com", ":9090", "from-the-environment", 5 * time.Minute,
		7, int32(3), uint8(2), []string{"10.0.0.0/8", "::1"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
	if len(cfg.Clients) != 3 || cfg.Storage != "sqlite://latchkey.db" {
		t.Errorf("the file's other settings were lost: %+v", cfg)
	}
}

func TestEnvBadValues(t *testing.T) {
	_, err := Load("", env(map[string]string{
		"LATCHKEY_LIMITS_PER_IP":         "abc",
		"LATCHKEY_TOKENS_CODE_TTL":       "60",
		"LATCHKEY_PASSWORDS_PARALLELISM": "300",
		"LATCHKEY_DATABASE_MAX_CONNS":    "1.5",
	}), testRules)
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("err = %v, want Problems", err)
	}
	want := "LATCHKEY_TOKENS_CODE_TTL: must be a duration like 15m, 1h30m or 60s\n" +
		"LATCHKEY_PASSWORDS_PARALLELISM: must be a whole number from 0 to 255\n" +
		"LATCHKEY_LIMITS_PER_IP: must be a whole number from -9223372036854775808 to 9223372036854775807\n" +
		"LATCHKEY_DATABASE_MAX_CONNS: must be a whole number from -2147483648 to 2147483647"
	if err.Error() != want {
		t.Errorf("got\n%v\nwant\n%s", err, want)
	}
}

// A value set by the environment is blamed on its variable, not on the
// file line it replaced.
func TestEnvValidationNamesVariable(t *testing.T) {
	_, probs := check("latchkey.yaml", []byte("listen: :8080\ntrusted_proxies:\n  - 10.0.0.1\n  - nonsense\n"), env(map[string]string{
		"LATCHKEY_LISTEN":          "nowhere",
		"LATCHKEY_TRUSTED_PROXIES": "10.0.0.1,10.0.0.0/33",
		"LATCHKEY_LOG_LEVEL":       "loud",
	}))
	want := "LATCHKEY_LISTEN: must be host:port, like 127.0.0.1:8080 or :8080\n" +
		`LATCHKEY_TRUSTED_PROXIES: "10.0.0.0/33" is not an IP address or CIDR range; write it like 10.0.0.1 or 10.0.0.0/8` + "\n" +
		`LATCHKEY_LOG_LEVEL: must be one of debug, info, warn, error, not "loud"`
	if probs.Error() != want {
		t.Errorf("got\n%v\nwant\n%s", probs, want)
	}
}

func TestEnvNames(t *testing.T) {
	names := EnvNames()
	for _, want := range []string{
		"LATCHKEY_ISSUER", "LATCHKEY_LISTEN", "LATCHKEY_STORAGE", "LATCHKEY_SECRETS_SYSTEM",
		"LATCHKEY_TLS_CERT_FILE", "LATCHKEY_TLS_KEY_FILE", "LATCHKEY_TRUSTED_PROXIES", "LATCHKEY_LOG_LEVEL",
		"LATCHKEY_TOKENS_ACCESS_TOKEN_TTL", "LATCHKEY_KEYS_ROTATION_PERIOD", "LATCHKEY_PASSWORDS_MEMORY_KIB",
		"LATCHKEY_LIMITS_PER_IP", "LATCHKEY_DATABASE_MAX_CONNS", "LATCHKEY_GC_BATCH",
	} {
		if !slices.Contains(names, want) {
			t.Errorf("EnvNames() lacks %s", want)
		}
	}
	for _, name := range names {
		if !strings.HasPrefix(name, "LATCHKEY_") || strings.HasPrefix(name, "LATCHKEY_CLIENTS") || strings.HasPrefix(name, "LATCHKEY_USERS") ||
			name == "LATCHKEY_FILE" {
			t.Errorf("EnvNames() has %s", name)
		}
	}
	if len(slices.Compact(slices.Sorted(slices.Values(names)))) != len(names) {
		t.Errorf("EnvNames() has duplicates: %v", names)
	}
}

// Every variable EnvNames lists really sets its setting.
func TestEveryEnvNameApplies(t *testing.T) {
	samples := map[reflect.Kind]string{reflect.String: "x", reflect.Bool: "true", reflect.Slice: "a,b"}
	for _, v := range envVars() {
		var cfg Config
		field := reflect.ValueOf(&cfg).Elem().FieldByIndex(v.index)
		raw, ok := samples[field.Kind()]
		if !ok {
			raw = "7"
			if field.Type() == reflect.TypeFor[Duration]() {
				raw = "7s"
			}
		}
		if probs := applyEnv(&cfg, env(map[string]string{v.name: raw})); len(probs) != 0 {
			t.Errorf("%s=%s: %v", v.name, raw, probs)
		}
		if field.IsZero() {
			t.Errorf("%s=%s did not set %s", v.name, raw, v.path)
		}
		if p := cfg.problemAt(v.path, "m"); p.Where != v.name {
			t.Errorf("%s: problem placed at %q", v.name, p.Where)
		}
	}
}
