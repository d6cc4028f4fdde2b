package main

// latchkey token device, the real binary against a running Latchkey,
// while a real Chromium does the user's part on the /device pages.

import (
	"context"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/latchkey/latchkey/internal/browsertest"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/testenv"
	"github.com/latchkey/latchkey/internal/testkit"
)

// deviceShownRE reads what latchkey token device shows the user on
// standard error: the verification URI, the user code, the link that
// carries the code, and the QR code of that link (--qr, plain style).
var deviceShownRE = regexp.MustCompile(`open this page on a phone or computer:\n\n  (\S+)\n\nand enter the code\n\n  (\S+)\n\n` +
	`Or open this link, which carries the code \(check that the page shows (\S+)\):\n\n  (\S+)\n\n` +
	`((?:[ █▀▄]+\n)+)\nWaiting for the approval: the code expires in `)

// shownUserCodeRE is the user code as a person reads it (S193).
var shownUserCodeRE = regexp.MustCompile(`^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$`)

// deviceCommand is latchkey token device running as its own process.
type deviceCommand struct {
	stdout, stderr testkit.Buffer
	done           chan error
	// What it showed the user.
	verificationURI, userCode, complete, qr string
}

// startDeviceCommand runs "latchkey token device --qr" against issuer
// and waits until it shows the codes.
func startDeviceCommand(t *testing.T, issuer string, args ...string) *deviceCommand {
	t.Helper()
	c := &deviceCommand{done: make(chan error, 1)}
	cmd := exec.Command(binary.Path(t), append([]string{"token", "device", "--issuer", issuer, "--qr", "--timeout", "45s"}, args...)...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir()}
	cmd.Stdout, cmd.Stderr = &c.stdout, &c.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { c.done <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	c.waitFor(t, "Waiting for the approval")
	m := deviceShownRE.FindStringSubmatch(c.stderr.String())
	if m == nil {
		t.Fatalf("token device did not show the URI, the code, the link and a QR code as expected:\n%s", c.stderr.String())
	}
	c.verificationURI, c.userCode, c.complete, c.qr = m[1], m[2], m[4], m[5]
	if m[3] != c.userCode {
		t.Errorf("the link's hint names code %q, the code shown is %q", m[3], c.userCode)
	}
	return c
}

// waitFor waits until the command has written text on standard error,
// and fails if it ends or 20 s pass first.
func (c *deviceCommand) waitFor(t *testing.T, text string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(c.stderr.String(), text); time.Sleep(20 * time.Millisecond) {
		select {
		case err := <-c.done:
			c.done <- err
			t.Fatalf("token device ended (%v) before printing %q:\n%s", err, text, c.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("token device printed no %q within 20 s:\n%s", text, c.stderr.String())
		}
	}
}

// exit waits for the command to end and returns its exit status.
func (c *deviceCommand) exit(t *testing.T) int {
	t.Helper()
	select {
	case err := <-c.done:
		return exitCode(err)
	case <-time.After(30 * time.Second):
		t.Fatalf("token device did not end within 30 s of the decision:\n%s", c.stderr.String())
	}
	return -1
}

// TestTokenDeviceInChromium runs latchkey token device for a public TV
// client; the user types the code it shows into /device in Chromium,
// signs in and approves or denies (RFC 8628 §3.1-§3.5: S187-S190, S193, S195).
func TestTokenDeviceInChromium(t *testing.T) {
	t.Parallel()
	browser := browsertest.Browser(t)
	env := testenv.New(t, testenv.Options{Configure: func(c *server.Config) { c.Device.Interval = time.Second }})
	env.AddClient(t, store.Client{ID: "tv", Name: "Living Room TV", Public: true,
		GrantTypes: []string{"urn:ietf:params:oauth:grant-type:device_code", "refresh_token"},
		Scopes:     []string{"openid", "read", "offline_access"}})
	alice := env.AddUser(t, "alice", "down the rabbit hole", map[string]any{"name": "Alice Liddell"})

	t.Run("approve", func(t *testing.T) {
		cmd := startDeviceCommand(t, env.URL, "--client-id", "tv", "--scope", "openid read offline_access")
		checkShownCodes(t, cmd, env.URL)
		// The device polls before the user is done (S190).
		cmd.waitFor(t, "authorization_pending: not approved yet; asking every 1s")
		deviceDecide(t, browser, cmd, "approve", "Device connected")
		if status := cmd.exit(t); status != 0 {
			t.Fatalf("token device: exit status %d after the approval:\n%s", status, cmd.stderr.String())
		}
		if !strings.Contains(cmd.stderr.String(), "\nApproved.\n") {
			t.Errorf("stderr does not say Approved.:\n%s", cmd.stderr.String())
		}
		resp := decodeJSON(t, cmd.stdout.String())
		at, _ := resp["access_token"].(string)
		idToken, _ := resp["id_token"].(string)
		if at == "" || idToken == "" || resp["refresh_token"] == nil || resp["token_type"] != "Bearer" ||
			resp["scope"] != "openid read offline_access" {
			t.Fatalf("token response %v, want a Bearer access token, a refresh token and an ID token for the scopes asked", resp)
		}
		if claims := jwtClaims(t, at); claims["sub"] != alice.ID || claims["client_id"] != "tv" {
			t.Errorf("access token claims %v, want sub %s and client_id tv", claims, alice.ID)
		}
		if claims := jwtClaims(t, idToken); claims["sub"] != alice.ID || claims["aud"] != "tv" || claims["iss"] != env.URL {
			t.Errorf("ID token claims %v, want sub %s, aud tv, iss %s", claims, alice.ID, env.URL)
		}
	})

	t.Run("deny", func(t *testing.T) {
		cmd := startDeviceCommand(t, env.URL, "--client-id", "tv", "--scope", "read")
		deviceDecide(t, browser, cmd, "deny", "Request denied")
		if status := cmd.exit(t); status != 1 {
			t.Fatalf("token device: exit status %d after a denial, want 1:\n%s", status, cmd.stderr.String())
		}
		stderr := cmd.stderr.String()
		for _, want := range []string{"the user denied the request at " + cmd.verificationURI, "access_denied"} {
			if !strings.Contains(stderr, want) {
				t.Errorf("stderr does not say %q:\n%s", want, stderr)
			}
		}
		if cmd.stdout.String() != "" {
			t.Errorf("stdout after a denial: %q, want nothing", cmd.stdout.String())
		}
	})
}

// checkShownCodes checks what the command showed: the issuer's /device,
// a code of the BCDF-GHJK shape, a link that carries it, and a QR code
// that a camera reads back as that link.
func checkShownCodes(t *testing.T, cmd *deviceCommand, issuer string) {
	t.Helper()
	if cmd.verificationURI != issuer+"/device" {
		t.Errorf("verification URI %q, want %s/device", cmd.verificationURI, issuer)
	}
	if !shownUserCodeRE.MatchString(cmd.userCode) {
		t.Errorf("user code %q is not of the shape BCDF-GHJK (S193)", cmd.userCode)
	}
	if cmd.complete != cmd.verificationURI+"?user_code="+cmd.userCode {
		t.Errorf("verification_uri_complete %q does not carry the code %s", cmd.complete, cmd.userCode)
	}
	if got, _ := readQR(t, cmd.qr); got != cmd.complete {
		t.Errorf("the QR code reads %q, want the link %q", got, cmd.complete)
	}
}

// deviceDecide is the user: in a fresh Chromium tab, types the code the
// command showed into its verification URI, signs in as alice, checks
// the consent page names the code (S195) and presses decision.
func deviceDecide(t *testing.T, browser context.Context, cmd *deviceCommand, decision, outcome string) {
	t.Helper()
	tab := browsertest.Tab(t, browser, 30*time.Second)
	err := chromedp.Do(tab,
		chromedp.Navigate(cmd.verificationURI),
		chromedp.WaitVisible(chromedp.ID("user_code")),
		chromedp.SendKeys(chromedp.ID("user_code"), cmd.userCode),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("password")),
		chromedp.SendKeys(chromedp.ID("username"), "alice"),
		chromedp.SendKeys(chromedp.ID("password"), "down the rabbit hole"),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("phishing-warning")),
	)
	if err != nil {
		t.Fatalf("code and login pages of %s: %v", cmd.verificationURI, err)
	}
	if shown, err := chromedp.Run(tab, chromedp.Text(chromedp.ID("user-code"))); err != nil || shown != cmd.userCode {
		t.Errorf("the consent page shows code %q (%v), the device %q (S195)", shown, err, cmd.userCode)
	}
	sel := chromedp.CSS(`button[name=decision][value=` + decision + `]`)
	if err := chromedp.Do(tab, chromedp.Click(sel), chromedp.WaitVisible(chromedp.ID("device-done"))); err != nil {
		t.Fatalf("after %s: %v", decision, err)
	}
	if got, err := chromedp.Run(tab, chromedp.Text(chromedp.ID("device-done"))); err != nil || got != outcome {
		t.Fatalf("after %s the page says %q (%v), want %q", decision, got, err, outcome)
	}
}
