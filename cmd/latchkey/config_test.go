package main

// config validate, serve with a bad file, and the order of the layers:
// defaults, file, LATCHKEY_* variables, flags.

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// copyTestdata copies a file of internal/config/testdata into a test
// directory and returns its new path.
func copyTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "internal", "config", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// badConfig has four problems on four lines, and is written as bad.yaml.
const badConfig = `issuer: ftp://auth.example.com
listen: 127.0.0.1:8080
tokens:
  access_token_ttl: forever
clients:
  - id: reports
    secret: short
    grant_types: [client_credentials, teleport]
    scopes: [read]
`

func writeBadConfig(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(p, []byte(badConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfigValidateExample(t *testing.T) {
	t.Parallel()
	p := copyTestdata(t, "example.yaml")
	out := mustRun(t, nil, "", "config", "validate", p)
	if !strings.Contains(out, p+" is valid") {
		t.Errorf("config validate example.yaml printed %q, want \"%s is valid\"", out, p)
	}
}

func TestConfigValidateReportsEveryProblem(t *testing.T) {
	t.Parallel()
	p := writeBadConfig(t)
	r := runCLI(t, nil, "", "config", "validate", p)
	if r.err == nil {
		t.Fatalf("config validate bad.yaml succeeded:\n%s", r.stdout)
	}
	// Every problem is placed at file:line, one per line, in line order.
	for _, line := range []string{"1", "4", "7", "8"} {
		re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(p) + `:` + line + `: \S.*$`)
		if !re.MatchString(r.stdout) {
			t.Errorf("no problem reported at %s:%s in:\n%s", p, line, r.stdout)
		}
	}
	if !strings.Contains(r.err.Error(), "is not valid") {
		t.Errorf("error %q, want it to say the file is not valid", r.err)
	}
}

func TestServeBadConfigFailsBeforeListening(t *testing.T) {
	t.Parallel()
	p := writeBadConfig(t)
	r := runCLI(t, nil, "", "serve", "--config", p, "--listen", "127.0.0.1:0", "--storage", sqliteStorage(t))
	if r.err == nil {
		t.Fatal("serve with an invalid config returned nil")
	}
	if !strings.Contains(r.err.Error(), p+":8:") {
		t.Errorf("serve's error does not place the problems in the file:\n%v", r.err)
	}
	if strings.Contains(r.stderr, "listening") {
		t.Errorf("serve listened before it found the config invalid:\n%s", r.stderr)
	}
	// LATCHKEY_CONFIG names the file as --config does.
	r = runCLI(t, map[string]string{"LATCHKEY_CONFIG": p}, "", "serve", "--listen", "127.0.0.1:0")
	if r.err == nil || !strings.Contains(r.err.Error(), p+":1:") {
		t.Errorf("serve with LATCHKEY_CONFIG=bad.yaml: %v, want its problems", r.err)
	}
}

func TestListenFlagOverridesEnvironment(t *testing.T) {
	t.Parallel()
	storage := sqliteStorage(t)
	// Port 1 would fail (privileged, or nothing may listen there): if the
	// flag did not win, serve would not start.
	vars := map[string]string{"LATCHKEY_LISTEN": "127.0.0.1:1", "LATCHKEY_STORAGE": storage}
	s := startServe(t, vars, "--listen", "127.0.0.1:0")
	if strings.HasSuffix(s.addr, ":1") {
		t.Fatalf("serve listens on %s: LATCHKEY_LISTEN won over --listen", s.addr)
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}

	// Without the flag the variable counts, and an invalid one is named.
	vars["LATCHKEY_LISTEN"] = "127.0.0.1:0"
	s = startServe(t, vars)
	if !strings.HasPrefix(s.addr, "127.0.0.1:") {
		t.Fatalf("serve with LATCHKEY_LISTEN=127.0.0.1:0 listens on %s", s.addr)
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	vars["LATCHKEY_TOKENS_ACCESS_TOKEN_TTL"] = "soon"
	r := runCLI(t, vars, "", "serve")
	if r.err == nil || !strings.Contains(r.err.Error(), "LATCHKEY_TOKENS_ACCESS_TOKEN_TTL") {
		t.Errorf("serve with a bad LATCHKEY_TOKENS_ACCESS_TOKEN_TTL: %v, want an error naming the variable", r.err)
	}
	if r.err != nil && strings.Contains(r.err.Error(), "soon") {
		t.Errorf("the error repeats the variable's value (it may be a secret): %v", r.err)
	}
}

func TestConfigValidateUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"config"}, {"config", "check", "x.yaml"}, {"config", "validate"}, {"config", "validate", "a.yaml", "b.yaml"}} {
		r := runCLI(t, nil, "", args...)
		var ue usageError
		if !errors.As(r.err, &ue) {
			t.Errorf("latchkey %s: %v, want a usage error", strings.Join(args, " "), r.err)
		}
	}
	r := runCLI(t, nil, "", "config", "validate", filepath.Join(t.TempDir(), "missing.yaml"))
	if r.err == nil || !strings.Contains(r.stdout, "no such file") {
		t.Errorf("config validate of a missing file: %v, stdout %q; want it to say the file does not exist", r.err, r.stdout)
	}
}
