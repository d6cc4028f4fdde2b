package browsertest_test

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/latchkey/latchkey/internal/browsertest"
)

func TestFind(t *testing.T) {
	t.Parallel()
	// lookPath finds only the paths in have.
	lookPath := func(have ...string) func(string) (string, error) {
		return func(p string) (string, error) {
			for _, h := range have {
				if strings.HasSuffix(h, "/"+p) || h == p {
					return h, nil
				}
			}
			return "", fs.ErrNotExist
		}
	}
	for _, tc := range []struct {
		name    string
		env     string
		have    []string
		want    string
		wantErr string
	}{
		{"variable first", "/opt/chrome/chrome", []string{"/opt/chrome/chrome", "/usr/bin/chromium"}, "/opt/chrome/chrome", ""},
		{"variable naming nothing is an error, not a fallback", "/opt/none", []string{"/usr/bin/chromium"}, "", "LATCHKEY_CHROMIUM=/opt/none"},
		{"Debian's path", "", []string{"/usr/bin/chromium", "/usr/local/bin/chromium"}, "/usr/bin/chromium", ""},
		{"PATH", "", []string{"/usr/local/bin/chromium"}, "/usr/local/bin/chromium", ""},
		{"none", "", nil, "", "no Chromium"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			getenv := func(k string) string {
				if k == "LATCHKEY_CHROMIUM" {
					return tc.env
				}
				return ""
			}
			got, err := browsertest.Find(getenv, lookPath(tc.have...))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Find: %q, %v; want an error containing %q", got, err, tc.wantErr)
				}
				if !errors.Is(err, fs.ErrNotExist) && tc.env != "" {
					t.Errorf("Find: %v does not wrap the lookup error", err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Find = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// TestBrowserFillsAForm checks the browser end to end on a small page:
// type into a form, submit it, read the page the server answers with.
func TestBrowserFillsAForm(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if r.Method == http.MethodPost {
			fmt.Fprintf(w, `<!doctype html><p id="greeting">hello %s</p>`, r.PostFormValue("name"))
			return
		}
		fmt.Fprint(w, `<!doctype html><form method="post"><input id="name" name="name"><button type="submit">Go</button></form>`)
	}))
	defer srv.Close()

	browser := browsertest.Browser(t)
	for i := range 2 { // two tabs of one browser
		tab := browsertest.Tab(t, browser, 20*time.Second)
		name := fmt.Sprintf("tab-%d", i)
		err := chromedp.Do(tab,
			chromedp.Navigate(srv.URL),
			chromedp.SendKeys(chromedp.ID("name"), name),
			chromedp.Click(chromedp.CSS("button[type=submit]")),
			chromedp.WaitVisible(chromedp.ID("greeting")),
		)
		if err != nil {
			t.Fatal(err)
		}
		got, err := chromedp.Run(tab, chromedp.Text(chromedp.ID("greeting")))
		if err != nil || got != "hello "+name {
			t.Fatalf("greeting %q, %v; want %q", got, err, "hello "+name)
		}
	}
}
