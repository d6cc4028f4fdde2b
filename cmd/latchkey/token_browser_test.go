package main

// latchkey token authorization-code, with a real Chromium signing in.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/latchkey/latchkey/internal/browsertest"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/testenv"
)

func TestTokenAuthorizationCodeInChromium(t *testing.T) {
	t.Parallel()
	browser := browsertest.Browser(t)
	env := testenv.New(t, testenv.Options{})
	// A loopback redirect URI without a port matches any port (RFC 8252 §7.3).
	secret := env.AddClient(t, store.Client{ID: "cli", Name: "Latchkey CLI", GrantTypes: []string{"authorization_code", "refresh_token"},
		Scopes: []string{"openid", "read"}, RedirectURIs: []string{"http://127.0.0.1/callback"}})
	alice := env.AddUser(t, "alice", "through the looking-glass", map[string]any{"name": "Alice Liddell"})

	// 1. Run the command; it prints the URL on stderr and waits for the
	// browser to come back to its loopback listener.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := startCodeCommand(t, ctx, env.URL, map[string]string{"LATCHKEY_CLIENT_SECRET": secret},
		"--client-id", "cli", "--scope", "openid read")
	authURL, u := cmd.URL.String(), cmd.URL
	if u.Query().Get("code_challenge_method") != "S256" || u.Query().Get("client_id") != "cli" {
		t.Fatalf("printed URL %q; want a PKCE S256 request for client cli", authURL)
	}

	// 2. The user signs in and allows, in the browser.
	tab := browsertest.Tab(t, browser, 30*time.Second)
	allow := chromedp.CSS(`button[value=allow]`)
	err := chromedp.Do(tab,
		chromedp.Navigate(authURL),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), "alice"),
		chromedp.SendKeys(chromedp.ID("password"), "through the looking-glass"),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		chromedp.WaitVisible(allow),
		chromedp.Click(allow),
	)
	if err != nil {
		t.Fatalf("login and consent in the browser: %v", err)
	}

	// 3. The command exchanges the code and prints the token response.
	resp := cmd.wait(t)
	idToken, _ := resp["id_token"].(string)
	if resp["access_token"] == nil || resp["refresh_token"] == nil || idToken == "" {
		t.Fatalf("token response %v, want access, refresh and ID tokens", resp)
	}
	claims := jwtClaims(t, idToken)
	if claims["sub"] != alice.ID || claims["aud"] != "cli" || claims["iss"] != env.URL || claims["nonce"] == nil {
		t.Errorf("ID token claims %v, want sub %s, aud cli, iss %s and a nonce", claims, alice.ID, env.URL)
	}
	if loc, err := chromedp.Run(tab, chromedp.Location()); err != nil || !strings.HasPrefix(loc, "http://127.0.0.1:") || !strings.Contains(loc, "/callback?") {
		t.Errorf("the browser ended at %q (%v), want the command's loopback callback", loc, err)
	}
}

// jwtClaims decodes the payload of a JWT without verifying it; the tests
// of internal/token and internal/server verify signatures.
func jwtClaims(t *testing.T, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("%q is not a JWT", jwt)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(b, &claims); err != nil {
		t.Fatal(err)
	}
	return claims
}
