package main

// keys, migrate, version, and --help on every command.

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// keyRow is one line of keys list.
type keyRow struct{ kid, alg string }

func keysList(t *testing.T, storage string) []keyRow {
	t.Helper()
	out := mustRun(t, nil, "", "keys", "list", "--storage", storage)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "KID") {
		t.Fatalf("keys list printed no header:\n%s", out)
	}
	var rows []keyRow
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) != 5 || !slices.Contains([]string{"pending", "active", "retiring"}, f[2]) {
			t.Fatalf("keys list row %q: want KID ALG STATE CREATED SIGNS-FROM", l)
		}
		rows = append(rows, keyRow{f[0], f[1]})
	}
	return rows
}

func algs(rows []keyRow) []string {
	var a []string
	for _, r := range rows {
		a = append(a, r.alg)
	}
	slices.Sort(a)
	return a
}

// jwksKIDs returns the key ids that base publishes at /jwks.
func jwksKIDs(t *testing.T, base string) []string {
	t.Helper()
	resp, err := http.Get(base + "/jwks")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set struct {
		Keys []struct {
			KID string `json:"kid"`
		} `json:"keys"`
	}
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &set); err != nil {
		t.Fatalf("/jwks: %v\n%s", err, b)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.KID)
	}
	return kids
}

func TestKeysListAndRotate(t *testing.T) {
	t.Parallel()
	st := sqliteStorage(t)
	// The running server reloads its keys every keys.reload_interval.
	vars := map[string]string{"LATCHKEY_KEYS_RELOAD_INTERVAL": "200ms"}
	srv := startServe(t, vars, "--listen", "127.0.0.1:0", "--storage", st)
	first := keysList(t, st)
	if got := algs(first); !slices.Equal(got, []string{"ES256", "EdDSA", "PS256", "RS256"}) {
		t.Fatalf("after the first start keys list shows %v, want one RS256, ES256, EdDSA and PS256 key", got)
	}

	out := mustRun(t, nil, "", "keys", "rotate", "--storage", st)
	if n := len(regexp.MustCompile(`(?m)^staged (RS256|ES256|EdDSA|PS256) key `).FindAllString(out, -1)); n != 4 {
		t.Fatalf("keys rotate staged %d keys, want 4:\n%s", n, out)
	}
	second := keysList(t, st)
	if got := algs(second); !slices.Equal(got, []string{"ES256", "ES256", "EdDSA", "EdDSA", "PS256", "PS256", "RS256", "RS256"}) {
		t.Fatalf("after keys rotate keys list shows %v, want two keys of each algorithm", got)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		published := jwksKIDs(t, srv.url)
		missing := slices.DeleteFunc(slices.Clone(second), func(k keyRow) bool { return slices.Contains(published, k.kid) })
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("5 s after keys rotate, with a reload interval of 200ms, /jwks still lacks %v; it has %v", missing, published)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestMigrate(t *testing.T) {
	t.Parallel()
	st := sqliteStorage(t)
	out := mustRun(t, nil, "", "migrate", "--storage", st)
	if !regexp.MustCompile(`(?m)^applied 0001_\S+\.sql$`).MatchString(out) || strings.Contains(out, "up to date") {
		t.Errorf("migrate of a new database printed:\n%s\nwant \"applied 0001_….sql\" lines", out)
	}
	if out := mustRun(t, nil, "", "migrate", "--storage", st); strings.TrimSpace(out) != "the schema is up to date" {
		t.Errorf("a second migrate printed %q, want \"the schema is up to date\"", out)
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	if out := mustRun(t, nil, "", "version"); !strings.HasPrefix(out, "latchkey ") || !strings.Contains(out, "go1.") {
		t.Errorf("version printed %q, want \"latchkey VERSION goVERSION\"", out)
	}
}

func TestHelpOnEveryCommand(t *testing.T) {
	t.Parallel()
	var cases [][]string
	for _, c := range commands() {
		cases = append(cases, []string{c.name, "--help"}, []string{c.name, "-h"})
	}
	cases = append(cases,
		[]string{"client", "create", "--help"}, []string{"client", "rotate-secret", "--help"},
		[]string{"user", "create", "--help"}, []string{"user", "set-password", "--help"},
		[]string{"keys", "list", "--help"}, []string{"keys", "rotate", "--help"},
		[]string{"config", "validate", "--help"},
		[]string{"token", "client-credentials", "--help"}, []string{"token", "authorization-code", "--help"},
	)
	for _, args := range cases {
		r := runCLI(t, nil, "", args...)
		if r.err != nil {
			t.Errorf("latchkey %s: %v, want exit 0", strings.Join(args, " "), r.err)
			continue
		}
		if !strings.Contains(r.stdout, "Example:\n  latchkey "+args[0]) || !strings.Contains(r.stdout, "Usage: latchkey "+args[0]) {
			t.Errorf("latchkey %s shows no usage and example:\n%s", strings.Join(args, " "), r.stdout)
		}
	}
	for _, args := range [][]string{{}, {"help"}, {"--help"}} {
		r := runCLI(t, nil, "", args...)
		if r.err != nil || !strings.Contains(r.stdout, "latchkey serve --dev") {
			t.Errorf("latchkey %s: %v\n%s", strings.Join(args, " "), r.err, r.stdout)
		}
		for _, c := range commands() {
			if !strings.Contains(r.stdout, "  "+c.name+" ") {
				t.Errorf("latchkey %s does not list %s", strings.Join(args, " "), c.name)
			}
		}
	}
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	st := sqliteStorage(t)
	for _, args := range [][]string{
		{"frobnicate"}, {"client"}, {"client", "explode", "x", "--storage", st}, {"user"}, {"user", "explode", "x", "--storage", st},
		{"keys"}, {"keys", "list", "extra", "--storage", st}, {"keys", "spin", "--storage", st}, {"token"}, {"token", "client-credentials"},
		{"serve", "--listen"}, {"demo", "--fast"}, {"migrate", "--storage"},
		{"token", "teleport", "--client-id", "x", "--issuer", "http://127.0.0.1:1"}, // refused before any request
	} {
		r := runCLI(t, nil, "", args...)
		var ue usageError
		if !errors.As(r.err, &ue) {
			t.Errorf("latchkey %s: %v, want a usage error (exit status 2)", strings.Join(args, " "), r.err)
		}
	}
}
