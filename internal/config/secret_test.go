package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

const (
	leak       = "hunter2-the-secret-itself"
	dbPassword = "pg-pass-word"
)

// shown is every way a value reaches a person: fmt's verbs, slog's text
// and JSON handlers (as an attribute and inside a struct), JSON and text
// marshalling.
func shown(t *testing.T, v any) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%10s"} {
		out[verb] = fmt.Sprintf(verb, v)
	}
	out["Sprint"] = fmt.Sprint(v)
	out["Sprintln"] = fmt.Sprintln(v)
	for name, h := range map[string]func(*bytes.Buffer) slog.Handler{
		"slog text": func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
		"slog json": func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
	} {
		var b bytes.Buffer
		log := slog.New(h(&b))
		log.Info("value", "v", v)
		log.Info("group", slog.Group("g", "v", v))
		out[name] = b.String()
	}
	j, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}
	out["json"] = string(j)
	return out
}

// Secrets redact themselves wherever they are printed, logged or
// marshalled, alone or inside the structs that hold them (STYLE §7).
func TestSecretsNeverShown(t *testing.T) {
	storage := StorageURL("postgres://latchkey:" + dbPassword + "@db.internal:5432/latchkey?sslmode=require")
	values := map[string]any{
		"Secret":             Secret(leak),
		"*Secret":            new(Secret(leak)),
		"StorageURL":         storage,
		"Secrets":            Secrets{System: Secret(leak)},
		"Client":             Client{ID: "web", Secret: Secret(leak)},
		"User":               User{Username: "alice", Password: Secret(leak)},
		"[]Client":           []Client{{ID: "web", Secret: Secret(leak)}},
		"map[string]Secret":  map[string]Secret{"k": Secret(leak)},
		"anonymous struct":   struct{ S Secret }{Secret(leak)},
		"Config":             Config{Storage: storage, Secrets: Secrets{System: Secret(leak)}, Clients: []Client{{Secret: Secret(leak)}}, Users: []User{{Password: Secret(leak)}}},
		"*Config":            &Config{Storage: storage, Secrets: Secrets{System: Secret(leak)}},
		"query password URL": StorageURL("postgres://db/latchkey?password=" + dbPassword),
	}
	for name, v := range values {
		t.Run(name, func(t *testing.T) {
			for how, s := range shown(t, v) {
				if strings.Contains(s, leak) || strings.Contains(s, dbPassword) {
					t.Errorf("%s shows the secret: %s", how, s)
				}
			}
		})
	}
}

// A set secret shows the mask, an empty one shows nothing, so that set
// and unset can be told apart; Reveal gives the value.
func TestSecretShows(t *testing.T) {
	tests := []struct {
		format string
		v      any
		want   string
	}{
		{"%v", Secret(leak), "[redacted]"},
		{"%s", Secret(leak), "[redacted]"},
		{"%q", Secret(leak), `"[redacted]"`},
		{"%#v", Secret(leak), `config.Secret("[redacted]")`},
		{"%12s|", Secret(leak), "  [redacted]|"},
		{"%+v", Client{ID: "web", Secret: Secret(leak)}, "Secret:[redacted] SecretHash:"},
		{"%v", Secret(""), ""},
		{"%q", Secret(""), `""`},
		{"%#v", Secret(""), `config.Secret("")`},
		{"%+v", Client{ID: "web"}, "Secret: SecretHash:"},
	}
	for _, tc := range tests {
		if got := fmt.Sprintf(tc.format, tc.v); !strings.Contains(got, tc.want) {
			t.Errorf("Sprintf(%q, %T) = %q, want it to contain %q", tc.format, tc.v, got, tc.want)
		}
	}
	if got := Secret(leak).Reveal(); got != leak {
		t.Errorf("Reveal = %q", got)
	}
	j, _ := json.Marshal(Secrets{})
	if string(j) != `{"System":""}` {
		t.Errorf("empty secret as JSON: %s", j)
	}
}

// Only the password of a storage URL is masked: paths, users, hosts and
// other parameters stay readable.
func TestStorageURLShows(t *testing.T) {
	tests := []struct{ in, want string }{
		{"sqlite://latchkey.db", "sqlite://latchkey.db"},
		{"sqlite:///var/lib/latchkey/latchkey.db", "sqlite:///var/lib/latchkey/latchkey.db"},
		{"postgres://latchkey@db:5432/latchkey", "postgres://latchkey@db:5432/latchkey"},
		{"postgres://latchkey:" + dbPassword + "@db:5432/latchkey", "postgres://latchkey:xxxxx@db:5432/latchkey"},
		{"postgresql://u:p%40ss@db/x?sslmode=disable", "postgresql://u:xxxxx@db/x?sslmode=disable"},
		{"postgres://db/x?password=" + dbPassword + "&sslmode=disable", "postgres://db/x?password=xxxxx&sslmode=disable"},
		{"postgres://u:" + dbPassword + "@db:bad port/x", "postgres://[redacted]"},
		{"", ""},
	}
	for _, tc := range tests {
		u := StorageURL(tc.in)
		if got := u.String(); got != tc.want {
			t.Errorf("StorageURL(%q).String() = %q, want %q", tc.in, got, tc.want)
		}
		if got := fmt.Sprintf("%v %s", u, u); got != tc.want+" "+tc.want {
			t.Errorf("Sprintf(%q) = %q", tc.in, got)
		}
		if u.Reveal() != tc.in {
			t.Errorf("Reveal = %q, want %q", u.Reveal(), tc.in)
		}
	}
	if got := fmt.Sprintf("%#v", StorageURL("postgres://u:p@db/x")); got != `config.StorageURL("postgres://u:xxxxx@db/x")` {
		t.Errorf("%%#v = %s", got)
	}
}

// Secrets are read from YAML and LATCHKEY_* variables as before, and a
// Config written back as YAML is a configuration file: it keeps them.
func TestSecretsLoad(t *testing.T) {
	data := []byte(`storage: postgres://latchkey:` + dbPassword + `@db:5432/latchkey
secrets:
  system: "` + leak + `-and-long-enough"
clients:
  - id: web
    secret: "` + leak + `-and-long-enough"
    grant_types: [client_credentials]
users:
  - username: alice
    password: "` + leak + `"
`)
	cfg, probs := load("latchkey.yaml", data, nil, testRules)
	if len(probs) != 0 {
		t.Fatal(probs)
	}
	if cfg.Storage.Reveal() != "postgres://latchkey:"+dbPassword+"@db:5432/latchkey" ||
		cfg.Secrets.System.Reveal() != leak+"-and-long-enough" ||
		cfg.Clients[0].Secret.Reveal() != leak+"-and-long-enough" || cfg.Users[0].Password.Reveal() != leak {
		t.Fatalf("not read: %#v", cfg)
	}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	again, probs := load("again.yaml", out, nil, testRules)
	if len(probs) != 0 || again.Clients[0].Secret != cfg.Clients[0].Secret || again.Storage != cfg.Storage {
		t.Fatalf("written back:\n%s\nproblems: %v", out, probs)
	}

	env := map[string]string{"LATCHKEY_STORAGE": "sqlite:///tmp/x.db", "LATCHKEY_SECRETS_SYSTEM": leak}
	cfg, probs = load("", nil, func(k string) string { return env[k] }, testRules)
	if len(probs) != 0 || cfg.Storage.Reveal() != "sqlite:///tmp/x.db" || cfg.Secrets.System.Reveal() != leak {
		t.Fatalf("environment: %v %#v", probs, cfg)
	}
}
