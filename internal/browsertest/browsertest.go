// Package browsertest starts a headless Chromium, driven with chromedp,
// for tests that use Latchkey's pages as a person would.
//
// Chromium is found through LATCHKEY_CHROMIUM, then /usr/bin/chromium,
// then "chromium" in PATH (on Debian: apt-get install chromium). Without
// it the test is skipped, unless CI=true, where a missing browser fails
// the test instead of hiding it.
package browsertest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// defaultPath is where Debian's chromium package installs the browser.
const defaultPath = "/usr/bin/chromium"

// Find returns the Chromium executable to use: the one LATCHKEY_CHROMIUM
// names (looked up by getenv), else /usr/bin/chromium, else chromium in
// PATH (found by lookPath, normally exec.LookPath).
func Find(getenv func(string) string, lookPath func(string) (string, error)) (string, error) {
	if p := getenv("LATCHKEY_CHROMIUM"); p != "" {
		found, err := lookPath(p)
		if err != nil {
			return "", fmt.Errorf("LATCHKEY_CHROMIUM=%s: %w", p, err)
		}
		return found, nil
	}
	if p, err := lookPath(defaultPath); err == nil {
		return p, nil
	}
	if p, err := lookPath("chromium"); err == nil {
		return p, nil
	}
	return "", errors.New("no Chromium at " + defaultPath + " or in PATH")
}

// Browser starts a headless Chromium for t and returns a chromedp context
// whose first use runs in the browser's first tab. The browser, its
// temporary profile directory and every tab opened from the context stop
// when t ends. Without Chromium, t is skipped (or fails under CI=true).
func Browser(t testing.TB) context.Context {
	t.Helper()
	bin, err := Find(os.Getenv, exec.LookPath)
	if err != nil {
		msg := fmt.Sprintf("browser tests need Chromium: %v (apt-get install chromium, or set LATCHKEY_CHROMIUM)", err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	profile := t.TempDir() // removed after the browser stops: cleanups run last-in first-out
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.UserDataDir(profile),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
	})
	// Start the browser now, without a deadline: a timeout on the first
	// run would stop the whole browser when it expires.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	return ctx
}

// Tab opens a new tab of browser (a context from Browser) in a fresh
// browser context, so it shares no cookies with other tabs, and bounds
// everything done in it by timeout. The tab closes when t ends.
func Tab(t testing.TB, browser context.Context, timeout time.Duration) context.Context {
	t.Helper()
	ctx, cancelTimeout := context.WithTimeout(browser, timeout)
	tab, cancelTab := chromedp.NewContext(ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(func() {
		cancelTab()
		cancelTimeout()
	})
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	return tab
}
