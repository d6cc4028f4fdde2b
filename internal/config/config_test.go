package config

import (
	"encoding/json"
	"errors"
	"io/fs"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// noEnv is a getenv that finds nothing.
func noEnv(string) string { return "" }

func TestExampleLoadsAndValidates(t *testing.T) {
	cfg, err := Load("testdata/example.yaml", noEnv, testRules)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if err := cfg.Validate(testRules); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if cfg.File != "testdata/example.yaml" || cfg.Issuer != "http://127.0.0.1:8080" {
		t.Errorf("File, Issuer = %q, %q", cfg.File, cfg.Issuer)
	}
	if len(cfg.Clients) != 3 || !cfg.Clients[2].Public || cfg.Clients[1].GrantTypes[2] != "password" {
		t.Errorf("clients = %+v", cfg.Clients)
	}
	// Defaults survive where the file says nothing.
	if cfg.Tokens.AccessTokenTTL.D() != 15*time.Minute || cfg.GC.Batch != 100 {
		t.Errorf("defaults lost: %+v %+v", cfg.Tokens, cfg.GC)
	}
	claims := cfg.Users[0].Claims
	if claims["email_verified"] != true || claims["name"] != "Alice Liddell" {
		t.Errorf("claims = %v", claims)
	}
}

func TestDefaultValidates(t *testing.T) {
	if err := Default().Validate(testRules); err != nil {
		t.Fatalf("Default().Validate(testRules) = %v", err)
	}
}

func TestLoadWithoutFile(t *testing.T) {
	cfg, err := Load("", nil, testRules)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if cfg.File != "" || cfg.Listen != Default().Listen {
		t.Errorf("cfg = %+v", cfg)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load("testdata/does-not-exist.yaml", noEnv, testRules)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want fs.ErrNotExist", err)
	}
}

func TestEmptyFile(t *testing.T) {
	for _, data := range []string{"", "\n", "# nothing but a comment\n", "---\n"} {
		cfg, probs := load("latchkey.yaml", []byte(data), nil, testRules)
		if len(probs) != 0 {
			t.Errorf("%q: %v", data, probs)
		}
		cfg.origins, cfg.File = nil, ""
		if !reflect.DeepEqual(cfg, Default()) {
			t.Errorf("%q: cfg = %+v, want Default()", data, cfg)
		}
	}
}

func TestDefaultRoundTrip(t *testing.T) {
	out, err := yaml.Marshal(Default())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "access_token_ttl: 15m\n") {
		t.Errorf("durations are not written as Go durations:\n%s", out)
	}
	cfg, probs := load("default.yaml", out, nil, testRules)
	if len(probs) != 0 {
		t.Fatalf("problems: %v\n%s", probs, out)
	}
	again, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if string(again) != string(out) {
		t.Errorf("round trip changed the config:\n%s\nwant\n%s", again, out)
	}
}

func TestDurationUnmarshal(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr string
	}{
		{in: "15m", want: 15 * time.Minute},
		{in: "1h30m", want: 90 * time.Minute},
		{in: "60s", want: time.Minute},
		{in: "0", want: 0},
		{in: `"250ms"`, want: 250 * time.Millisecond},
		{in: "-5m", want: -5 * time.Minute}, // Validate rejects it where it matters.
		{in: "abc", wantErr: `line 2: invalid duration "abc"`},
		{in: "60", wantErr: `line 2: duration "60" has no unit; write 60s`},
		{in: "[1m]", wantErr: "line 2: cannot unmarshal !!seq into config.Duration"},
		{in: "{a: 1}", wantErr: "line 2: cannot unmarshal !!map into config.Duration"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var v struct{ D Duration }
			err := yaml.Unmarshal([]byte("# comment\nd: "+tt.in+"\n"), &v)
			if tt.wantErr != "" {
				var te *yaml.TypeError
				if !errors.As(err, &te) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want a *yaml.TypeError containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || v.D.D() != tt.want {
				t.Fatalf("got %v, %v; want %v", v.D.D(), err, tt.want)
			}
		})
	}
}

func TestDurationString(t *testing.T) {
	tests := map[time.Duration]string{
		0:                       "0s",
		15 * time.Minute:        "15m",
		time.Hour:               "1h",
		90 * time.Minute:        "1h30m",
		720 * time.Hour:         "720h",
		1500 * time.Millisecond: "1.5s",
		-5 * time.Minute:        "-5m",
		time.Hour + time.Second: "1h0m1s",
	}
	for d, want := range tests {
		if got := Duration(d).String(); got != want {
			t.Errorf("Duration(%v).String() = %q, want %q", d, got, want)
		}
		got, err := Duration(d).MarshalYAML()
		if err != nil || got != want {
			t.Errorf("MarshalYAML(%v) = %v, %v", d, got, err)
		}
		if back, err := parseDuration(want); err != nil || back.D() != d {
			t.Errorf("parseDuration(%q) = %v, %v; want %v", want, back, err, d)
		}
	}
}

// YAML makes map[any]any for maps with non-string keys; claims must come
// out as map[string]any all the way down so they can be written as JSON.
func TestClaimsAreJSONMaps(t *testing.T) {
	data := []byte(`users:
  - username: alice
    password: wonderland
    claims:
      address: {street: 1 Rabbit Hole, 42: answer}
      groups: [{name: tea, 1: one}]
`)
	cfg, probs := load("latchkey.yaml", data, nil, testRules)
	if len(probs) != 0 {
		t.Fatal(probs)
	}
	claims := cfg.Users[0].Claims
	if _, ok := claims["address"].(map[string]any); !ok {
		t.Errorf("address is %T", claims["address"])
	}
	if _, ok := claims["groups"].([]any)[0].(map[string]any); !ok {
		t.Errorf("groups[0] is %T", claims["groups"].([]any)[0])
	}
	out, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"address":{"42":"answer","street":"1 Rabbit Hole"},"groups":[{"1":"one","name":"tea"}]}`
	if string(out) != want {
		t.Errorf("json = %s, want %s", out, want)
	}
}

func TestProblemsError(t *testing.T) {
	ps := Problems{
		{File: "latchkey.yaml", Line: 12, Where: "clients[1].secret", Message: "must be at least 32 characters"},
		{File: "latchkey.yaml", Message: "invalid YAML"},
		{Where: "LATCHKEY_LISTEN", Message: "must be host:port"},
		{Where: "clients[1].id", Message: "is required"},
	}
	want := "latchkey.yaml:12: clients[1].secret: must be at least 32 characters\n" +
		"latchkey.yaml: invalid YAML\n" +
		"LATCHKEY_LISTEN: must be host:port\n" +
		"clients[1].id: is required"
	if got := ps.Error(); got != want {
		t.Errorf("Error() =\n%s\nwant\n%s", got, want)
	}
}

// A Config built in code has no file: problems name only the YAML path.
func TestValidateWithoutFile(t *testing.T) {
	cfg := Default()
	cfg.Listen = "nowhere"
	cfg.Clients = []Client{{ID: "c", GrantTypes: []string{"client_credentials"}}}
	err := cfg.Validate(testRules)
	var ps Problems
	if !errors.As(err, &ps) || len(ps) != 2 {
		t.Fatalf("err = %v, want 2 Problems", err)
	}
	want := "listen: must be host:port, like 127.0.0.1:8080 or :8080\n" +
		"clients[0]: a confidential client needs a secret or secret_hash; add one, or set public: true for browser and native apps"
	if err.Error() != want {
		t.Errorf("Error() =\n%s\nwant\n%s", err, want)
	}
}
