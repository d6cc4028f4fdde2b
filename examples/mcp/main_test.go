package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/bearer"
	"github.com/latchkey/latchkey/internal/testenv"
	"github.com/latchkey/latchkey/internal/testkit"
)

var listening = regexp.MustCompile(`listening on (http://\S+),`)

// The real program against a real Latchkey, with flags from the
// environment: it prints its address, publishes the metadata of the
// resource it was given, challenges a call without a token, and stops
// when ctx ends.
func TestRun(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	vars := map[string]string{"MCP_ISSUER": env.URL, "MCP_RESOURCE": "https://mcp.example/tools/mcp", "MCP_SCOPES": "notes:read,notes:write"}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr testkit.Buffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--addr", "127.0.0.1:0"}, func(k string) string { return vars[k] }, &stdout, &stderr)
	}()
	var addr string
	for deadline := time.Now().Add(10 * time.Second); addr == ""; {
		if m := listening.FindStringSubmatch(stdout.String()); m != nil {
			addr = m[1]
		}
		select {
		case err := <-done:
			t.Fatalf("run stopped: %v (%s)", err, &stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no address printed: %q", stdout.String())
		}
		time.Sleep(20 * time.Millisecond)
	}

	resp, err := http.Get(addr + "/.well-known/oauth-protected-resource/tools/mcp")
	if err != nil {
		t.Fatal(err)
	}
	var meta bearer.ResourceMetadata
	err = json.NewDecoder(resp.Body).Decode(&meta)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || meta.Resource != "https://mcp.example/tools/mcp" ||
		strings.Join(meta.ScopesSupported, " ") != "notes:read notes:write" || meta.AuthorizationServers[0] != env.URL {
		t.Fatalf("metadata: %d %+v %v", resp.StatusCode, meta, err)
	}
	resp, err = http.Post(addr+"/tools/mcp", "application/json", strings.NewReader(initializeBody))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	want := `resource_metadata="https://mcp.example/.well-known/oauth-protected-resource/tools/mcp"`
	if ch := resp.Header.Get("WWW-Authenticate"); resp.StatusCode != 401 || !strings.Contains(ch, want) {
		t.Errorf("no token: %d %q, want 401 with %s", resp.StatusCode, ch, want)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not stop")
	}
}

// Configuration errors say what to do; --help is no error.
func TestRunFlags(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"--help"}, func(string) string { return "" }, &out, &out); err != nil {
		t.Fatalf("--help: %v", err)
	}
	if !strings.Contains(out.String(), "example: mcp --issuer") {
		t.Errorf("usage has no example: %s", out.String())
	}
	err := run(context.Background(), []string{"--issuer", "https://login.example"}, func(string) string { return "" }, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "--resource") {
		t.Fatalf("missing resource: %v", err)
	}
	env := testenv.New(t, testenv.Options{})
	err = run(context.Background(), []string{"--addr", "127.0.0.1:0", "--issuer", env.URL, "--resource", "http://mcp.example/mcp"},
		func(string) string { return "" }, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "https") {
		t.Fatalf("plain http resource: %v", err)
	}
}
