package main

// serve --dev as a new user meets it: start it, paste the printed curl
// lines into a shell, follow the printed authorization URL, restart.

import (
	"context"
	"fmt"
	mathrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/formflow"
	"github.com/latchkey/latchkey/internal/protocol"
	"github.com/latchkey/latchkey/internal/testenv"
)

// devOutput is what serve --dev printed on standard output.
type devOutput struct {
	credentials string            // the block from "issuer" to the first blank line after the clients
	curl        map[string]string // curl lines by purpose: client_credentials, password, refresh, introspect, revoke, authorization_code
	authorize   string            // the authorization URL to open in a browser
	user, pw    string
	secrets     map[string]string // client id → secret
}

var (
	devUserRE   = regexp.MustCompile(`(?m)^\s+user\s+(\S+)\s+password (\S+)$`)
	devClientRE = regexp.MustCompile(`(?m)^\s+(?:clients\s+)?(demo-\S+)\s+secret (\S+)\s`)
)

func parseDevOutput(t *testing.T, out, issuer string) devOutput {
	t.Helper()
	d := devOutput{curl: map[string]string{}, secrets: map[string]string{}}
	start, end := strings.Index(out, "  issuer"), strings.Index(out, "Try each grant")
	if start < 0 || end < start {
		t.Fatalf("serve --dev printed no credentials block:\n%s", out)
	}
	d.credentials = out[start:end]
	if m := devUserRE.FindStringSubmatch(d.credentials); m != nil {
		d.user, d.pw = m[1], m[2]
	}
	for _, m := range devClientRE.FindAllStringSubmatch(d.credentials, -1) {
		d.secrets[m[1]] = m[2]
	}
	for line := range strings.Lines(out) {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, issuer+"/authorize?"):
			d.authorize = line
		case !strings.HasPrefix(line, "curl "):
		case strings.Contains(line, "grant_type=client_credentials"):
			d.curl["client_credentials"] = line
		case strings.Contains(line, "grant_type=password"):
			d.curl["password"] = line
		case strings.Contains(line, "grant_type=refresh_token"):
			d.curl["refresh"] = line
		case strings.Contains(line, "grant_type=authorization_code"):
			d.curl["authorization_code"] = line
		case strings.HasSuffix(line, "/introspect"):
			d.curl["introspect"] = line
		case strings.HasSuffix(line, "/revoke"):
			d.curl["revoke"] = line
		case strings.HasSuffix(line, "/register"):
			d.curl["register"] = line
		default:
			t.Errorf("serve --dev printed a curl line this test does not know: %s", line)
		}
	}
	if d.user == "" || len(d.secrets) != 3 || len(d.curl) != 7 || d.authorize == "" {
		t.Fatalf("serve --dev output is incomplete (user %q, %d secrets, %d curl lines, authorize %q):\n%s",
			d.user, len(d.secrets), len(d.curl), d.authorize, out)
	}
	return d
}

// needCurl skips the test without curl, unless CI=true.
func needCurl(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("curl"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("curl is needed to run the printed commands: %v", err)
		}
		t.Skipf("skipping the printed curl commands: %v (apt-get install curl)", err)
	}
}

// runCurl runs a printed command line with bash. It appends only
// -w to learn the HTTP status; the rest is the line as printed.
func runCurl(t *testing.T, line string) (int, map[string]any) {
	t.Helper()
	out, err := exec.Command("bash", "-c", line+` -w '\n%{http_code}'`).Output()
	if err != nil {
		t.Fatalf("%s\nfailed: %v", line, err)
	}
	body, code, _ := cutLast(string(out), "\n")
	status, err := strconv.Atoi(code)
	if err != nil {
		t.Fatalf("%s\nprinted %q", line, out)
	}
	var m map[string]any
	if strings.TrimSpace(body) != "" {
		m = decodeJSON(t, body)
	}
	return status, m
}

func cutLast(s, sep string) (before, after string, found bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

func wantToken(t *testing.T, what string, status int, body map[string]any) {
	t.Helper()
	if status != http.StatusOK || body["access_token"] == nil || body["access_token"] == "" {
		t.Fatalf("%s: status %d, body %v; want 200 with an access_token", what, status, body)
	}
}

// portBelowEphemeral is a free loopback address whose port is below
// Linux's ephemeral range (32768 and up), so that no listener asking for
// port 0 is handed it while a test restarts a server on the same address.
func portBelowEphemeral(t *testing.T) string {
	t.Helper()
	for range 100 {
		addr := fmt.Sprintf("127.0.0.1:%d", 20000+mathrand.IntN(12000))
		if ln, err := net.Listen("tcp", addr); err == nil {
			ln.Close()
			return addr
		}
	}
	t.Fatal("no free loopback port between 20000 and 32000")
	return ""
}

func TestServeDevAsANewUser(t *testing.T) {
	t.Parallel()
	storage := sqliteStorage(t)
	first := startServe(t, nil, "--dev", "--listen", portBelowEphemeral(t), "--storage", storage)
	d := parseDevOutput(t, first.stdout.String(), first.url)

	t.Run("printed curl lines", func(t *testing.T) {
		needCurl(t)
		status, cc := runCurl(t, d.curl["client_credentials"])
		wantToken(t, "client credentials line", status, cc)
		status, pw := runCurl(t, d.curl["password"])
		wantToken(t, "password line", status, pw)
		rt, _ := pw["refresh_token"].(string)
		if rt == "" {
			t.Fatalf("password line: no refresh_token in %v", pw)
		}

		status, refreshed := runCurl(t, strings.ReplaceAll(d.curl["refresh"], "PASTE_REFRESH_TOKEN", rt))
		wantToken(t, "refresh line", status, refreshed)
		newRT, _ := refreshed["refresh_token"].(string)
		if newRT == "" || newRT == rt || refreshed["access_token"] == pw["access_token"] {
			t.Fatalf("refresh line: want a new access token and a rotated refresh token, got %v", refreshed)
		}
		at := refreshed["access_token"].(string)
		introspect := strings.ReplaceAll(d.curl["introspect"], "PASTE_ACCESS_TOKEN", at)
		if status, got := runCurl(t, introspect); status != http.StatusOK || got["active"] != true {
			t.Fatalf("introspect line: status %d, %v; want active:true", status, got)
		}
		if status, got := runCurl(t, strings.ReplaceAll(d.curl["revoke"], "PASTE_REFRESH_TOKEN", newRT)); status != http.StatusOK {
			t.Fatalf("revoke line: status %d, %v; want 200", status, got)
		}
		// RFC 7009 §2.1: revoking a refresh token revokes its grant, so the
		// access token of the same grant is no longer active.
		if status, got := runCurl(t, introspect); status != http.StatusOK || got["active"] != false {
			t.Fatalf("introspect after revoke: status %d, %v; want active:false", status, got)
		}
	})

	t.Run("printed registration line", func(t *testing.T) {
		needCurl(t)
		status, reg := runCurl(t, d.curl["register"])
		if status != http.StatusCreated || reg["client_id"] == nil || reg["token_endpoint_auth_method"] != "none" || reg["client_secret"] != nil {
			t.Fatalf("register line: %d %v, want 201 with a public client", status, reg)
		}
		// Open to loopback redirect URIs only (S198): https is refused.
		https := strings.Replace(d.curl["register"], "http://127.0.0.1:8976/callback", "https://agent.example/callback", 1)
		if status, body := runCurl(t, https); status != http.StatusBadRequest || body["error"] != "invalid_redirect_uri" {
			t.Fatalf("an https redirect under --dev: %d %v, want 400 invalid_redirect_uri", status, body)
		}
	})

	t.Run("printed authorization code lines", func(t *testing.T) {
		u, err := url.Parse(d.authorize)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		for k, want := range map[string]string{"response_type": "code", "code_challenge_method": "S256", "client_id": "demo-web", "redirect_uri": devCallback} {
			if got := q.Get(k); got != want {
				t.Errorf("authorization URL: %s=%q, want %q", k, got, want)
			}
		}
		verifier := regexp.MustCompile(`code_verifier=([A-Za-z0-9_-]+)`).FindStringSubmatch(d.curl["authorization_code"])
		if verifier == nil {
			t.Fatalf("the exchange line names no code_verifier: %s", d.curl["authorization_code"])
		}
		if got := protocol.S256Challenge(verifier[1]); got != q.Get("code_challenge") {
			t.Fatalf("S256(%s) = %s, but the URL's code_challenge is %s (RFC 7636 §4.2)", verifier[1], got, q.Get("code_challenge"))
		}
		needCurl(t)
		code := devSignIn(t, first.url, d.authorize, d.user, d.pw)
		status, tok := runCurl(t, strings.ReplaceAll(d.curl["authorization_code"], "PASTE_CODE", code))
		wantToken(t, "authorization code exchange line", status, tok)
		if tok["id_token"] == nil {
			t.Errorf("scope openid but no id_token: %v", tok)
		}
	})

	// A refresh token that outlives the server.
	status, pw := postForm(t, first.url+"/token", "demo-app", d.secrets["demo-app"],
		url.Values{"grant_type": {"password"}, "username": {d.user}, "password": {d.pw}, "scope": {"read"}})
	wantToken(t, "password grant", status, pw)
	if err := first.stop(); err != nil {
		t.Fatalf("serve returned %v after its context ended, want nil", err)
	}
	if !strings.Contains(first.stderr.String(), `"msg":"shutting down"`) {
		t.Errorf("no \"shutting down\" log line:\n%s", first.stderr.String())
	}

	second := startServe(t, nil, "--dev", "--listen", first.addr, "--storage", storage)
	again := parseDevOutput(t, second.stdout.String(), second.url)
	if again.credentials != d.credentials {
		t.Errorf("the demo credentials changed across a restart:\nfirst:\n%s\nsecond:\n%s", d.credentials, again.credentials)
	}
	status, refreshed := postForm(t, second.url+"/token", "demo-app", again.secrets["demo-app"],
		url.Values{"grant_type": {"refresh_token"}, "refresh_token": {pw["refresh_token"].(string)}})
	wantToken(t, "refresh after a restart", status, refreshed)
}

// devSignIn plays the browser on the printed authorization URL: it signs
// in, allows, and returns the code of the redirect to the demo callback
// (where nothing listens, so the redirect is not followed). testenv.Walker
// checks each step; the login and consent pages must both come.
func devSignIn(t *testing.T, issuer, authURL, user, pw string) string {
	t.Helper()
	w := testenv.Walker(nil, user, pw)
	var steps []string
	check := w.Before
	w.Before = func(s *formflow.Step) error {
		if !strings.HasPrefix(s.URL.String(), issuer+"/") {
			return fmt.Errorf("the %s step goes to %s, not to the issuer %s", s.Kind, s.URL, issuer)
		}
		steps = append(steps, s.Kind.String())
		return check(s)
	}
	res, err := w.Walk(context.Background(), authURL)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(steps, " "); got != "authorize login redirect consent" {
		t.Fatalf("the walk went %s, want the login and consent pages", got)
	}
	cb := res.Location
	if res.Status != http.StatusSeeOther || !strings.HasPrefix(cb.String(), devCallback+"?") || res.State != "demo-state" || res.Code == "" {
		t.Fatalf("consent redirected (%d) to %s, want 303 to %s with code and state=demo-state", res.Status, cb, devCallback)
	}
	return res.Code
}
