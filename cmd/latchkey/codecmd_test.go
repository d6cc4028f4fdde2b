package main

import (
	"bufio"
	"context"
	"io"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/testkit"
)

// codeCommand is "latchkey token authorization-code --no-browser" running
// in the test: it has printed the authorization URL and waits for the
// browser to come back to its loopback listener.
type codeCommand struct {
	URL            *url.URL
	done           chan error
	stdout, stderr testkit.Buffer
}

// startCodeCommand runs the command against issuer with the environment
// vars and the extra args, and returns once it has printed the URL to send
// the browser to.
func startCodeCommand(t *testing.T, ctx context.Context, issuer string, vars map[string]string, args ...string) *codeCommand {
	t.Helper()
	c := &codeCommand{done: make(chan error, 1)}
	stderrR, stderrW := io.Pipe()
	go func() {
		err := run(ctx, append([]string{"latchkey", "token", "authorization-code", "--no-browser", "--issuer", issuer,
			"--timeout", "45s"}, args...), envOf(vars), strings.NewReader(""), &c.stdout, stderrW)
		stderrW.Close()
		c.done <- err
	}()
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderrR)
		for sc.Scan() {
			c.stderr.Write(append(sc.Bytes(), '\n'))
			if line := strings.TrimSpace(sc.Text()); strings.HasPrefix(line, issuer+"/authorize?") {
				urls <- line
			}
		}
	}()
	var raw string
	select {
	case raw = <-urls:
	case err := <-c.done:
		t.Fatalf("token authorization-code ended before printing a URL: %v\n%s", err, c.stderr.String())
	case <-time.After(20 * time.Second):
		t.Fatalf("token authorization-code printed no URL within 20 s:\n%s", c.stderr.String())
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("printed URL %q: %v", raw, err)
	}
	c.URL = u
	return c
}

// wait waits for the command to exchange the code, after the browser
// reached its callback, and returns the token response it printed.
func (c *codeCommand) wait(t *testing.T) map[string]any {
	t.Helper()
	select {
	case err := <-c.done:
		if err != nil {
			t.Fatalf("token authorization-code: %v\nstderr:\n%s", err, c.stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("token authorization-code did not finish within 30 s of the callback:\n%s", c.stderr.String())
	}
	return decodeJSON(t, c.stdout.String())
}
