package main

// registration token and token register: initial access tokens minted by
// the CLI, spent by a client registering itself at a running server.

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/latchkey/latchkey/internal/browsertest"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/testenv"
)

var initialTokenRE = regexp.MustCompile(`(?m)^initial_access_token: (lk_iat_[A-Za-z0-9_-]+)$`)

// TestRegistrationTokenAndRegister: a token minted with --max-uses 1
// registers one client (S196), which then gets tokens; it is spent after,
// and list and revoke see it.
func TestRegistrationTokenAndRegister(t *testing.T) {
	t.Parallel()
	st := sqliteStorage(t)
	out := mustRun(t, nil, "", "registration", "token", "create", "--expires", "1h", "--max-uses", "1", "--storage", st)
	m := initialTokenRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no initial_access_token line in:\n%s", out)
	}
	iat := m[1]
	srv := startServe(t, map[string]string{"LATCHKEY_REGISTRATION_ENABLED": "true"}, "--listen", "127.0.0.1:0", "--storage", st)
	args := []string{"token", "register", "--issuer", srv.url, "--grant-type", "client_credentials", "--scope", "openid", "--client-name", "Reports"}

	if r := runCLI(t, nil, "", args...); r.err == nil || !strings.Contains(r.err.Error(), "invalid_token") {
		t.Fatalf("register without a token: %v, want invalid_token", r.err)
	}
	r := runCLI(t, map[string]string{"LATCHKEY_INITIAL_ACCESS_TOKEN": iat}, "", args...)
	if r.err != nil {
		t.Fatalf("token register: %v\n%s", r.err, r.stderr)
	}
	reg := decodeJSON(t, r.stdout)
	id, _ := reg["client_id"].(string)
	secret, _ := reg["client_secret"].(string)
	if id == "" || !strings.HasPrefix(secret, "lk_cs_") || reg["registration_access_token"] == nil || reg["client_name"] != "Reports" {
		t.Fatalf("registration printed %v", reg)
	}
	status, body := clientCredentials(t, srv.url, id, secret)
	wantToken(t, "the registered client", status, body)

	if r := runCLI(t, map[string]string{"LATCHKEY_INITIAL_ACCESS_TOKEN": iat}, "", args...); r.err == nil || !strings.Contains(r.err.Error(), "invalid_token") {
		t.Fatalf("a used-up token: %v, want invalid_token", r.err)
	}
	if list := mustRun(t, nil, "", "client", "list", "--storage", st); !regexp.MustCompile(id + `\s.*\sregistration`).MatchString(list) {
		t.Errorf("client list does not show the registered client's origin:\n%s", list)
	}
	if show := decodeJSON(t, mustRun(t, nil, "", "client", "show", id, "--storage", st)); show["source"] != "registration" ||
		show["verified"] != false || show["name"] != "Reports" || show["has_secret"] != true {
		t.Errorf("client show of a registered client: %v", show)
	}
	list := mustRun(t, nil, "", "registration", "token", "list", "--storage", st)
	fields := strings.Fields(strings.Split(strings.TrimSpace(list), "\n")[1])
	if len(fields) != 4 || fields[2] != "0" || strings.Contains(list, iat) {
		t.Fatalf("token list:\n%s", list)
	}
	if out := mustRun(t, nil, "", "registration", "token", "revoke", fields[0], "--storage", st); !strings.Contains(out, "revoked") {
		t.Errorf("revoke printed %q", out)
	}
	if r := runCLI(t, nil, "", "registration", "token", "revoke", fields[0], "--storage", st); r.err == nil {
		t.Error("revoking twice succeeded")
	}
}

// TestTokenAuthorizationCodeWithRegisteredClient: a public client
// registered by token register runs token authorization-code with
// --resource in a real Chromium; the access token is for the resource.
func TestTokenAuthorizationCodeWithRegisteredClient(t *testing.T) {
	t.Parallel()
	browser := browsertest.Browser(t)
	const resource = "https://mcp.example/mcp"
	env := testenv.New(t, testenv.Options{Configure: func(c *server.Config) {
		c.Registration = server.RegistrationConfig{Enabled: true, Open: true,
			Policy: server.RegistrationPolicy{Scopes: []string{"openid", "read"}, Resources: []string{resource}}}
	}})
	env.AddUser(t, "alice", "through the looking-glass", nil)
	r := runCLI(t, nil, "", "token", "register", "--issuer", env.URL, "--redirect-uri", "http://127.0.0.1/callback",
		"--grant-type", "authorization_code", "--grant-type", "refresh_token", "--auth-method", "none")
	if r.err != nil {
		t.Fatalf("token register: %v\n%s", r.err, r.stderr)
	}
	id, _ := decodeJSON(t, r.stdout)["client_id"].(string)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := startCodeCommand(t, ctx, env.URL, nil, "--client-id", id, "--scope", "openid read", "--resource", resource)
	tab := browsertest.Tab(t, browser, 30*time.Second)
	allow := chromedp.CSS(`button[value=allow]`)
	err := chromedp.Do(tab,
		chromedp.Navigate(cmd.URL.String()),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), "alice"),
		chromedp.SendKeys(chromedp.ID("password"), "through the looking-glass"),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		chromedp.WaitVisible(allow),
	)
	if err != nil {
		t.Fatalf("login in the browser: %v", err)
	}
	consent, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS("main")))
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(tab, chromedp.Click(allow)); err != nil {
		t.Fatalf("consent in the browser: %v", err)
	}
	if !strings.Contains(consent, "not verified by this server") {
		t.Errorf("S155: the consent page does not mark the registered client:\n%s", consent)
	}
	resp := cmd.wait(t)
	at, _ := resp["access_token"].(string)
	claims := jwtClaims(t, at)
	if claims["client_id"] != id || !strings.Contains(strings.Join(audiences(claims), " "), resource) || resp["refresh_token"] == nil {
		t.Errorf("token %v with claims %v, want client %s and aud %s", resp, claims, id, resource)
	}
}
