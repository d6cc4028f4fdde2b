package main

import (
	"bytes"
	"context"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/testenv"
	"github.com/latchkey/latchkey/internal/testkit"
)

// The real program on :0 against a real Latchkey: it prints its address,
// serves notes to a token with scope read, and stops when ctx ends.
func TestRun(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	secret := env.AddClient(t, store.Client{ID: "reader", GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}, Audience: []string{"https://notes.example"}})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr testkit.Buffer
	done := make(chan error, 1)
	args := []string{"--issuer", env.URL, "--audience", "https://notes.example", "--listen", "127.0.0.1:0"}
	go func() { done <- run(ctx, args, func(string) string { return "" }, &stdout, &stderr) }()

	addr := waitForAddress(t, &stdout, done)
	cc := clientcredentials.Config{ClientID: "reader", ClientSecret: secret, TokenURL: env.URL + "/token"}
	resp, err := cc.Client(ctx).Get(addr + "/notes")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"notes":[]`) {
		t.Fatalf("GET /notes: %d %s", resp.StatusCode, body)
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
	env := map[string]string{"NOTES_ISSUER": "https://login.example"}
	getenv := func(k string) string { return env[k] }
	var out bytes.Buffer
	if err := run(context.Background(), []string{"--help"}, getenv, &out, &out); err != nil {
		t.Fatalf("--help: %v", err)
	}
	if !strings.Contains(out.String(), "example: notes --issuer") {
		t.Errorf("usage has no example: %s", out.String())
	}
	err := run(context.Background(), nil, getenv, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "--audience") {
		t.Fatalf("missing audience: %v", err)
	}
	err = run(context.Background(), []string{"--audience", "a", "--introspection-client-id", "x"}, getenv, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "secret") {
		t.Fatalf("id without secret: %v", err)
	}
}

var listening = regexp.MustCompile(`listening on (http://\S+)`)

// waitForAddress waits for run to print its address and for /healthz
// to answer there, and returns the address.
func waitForAddress(t *testing.T, stdout *testkit.Buffer, done chan error) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if m := listening.FindStringSubmatch(stdout.String()); m != nil {
			if err := testkit.WaitHealthy(m[1], time.Until(deadline)); err != nil {
				t.Fatal(err)
			}
			return m[1]
		}
		select {
		case err := <-done:
			t.Fatalf("run ended early: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatal("no listening address printed")
	return ""
}
