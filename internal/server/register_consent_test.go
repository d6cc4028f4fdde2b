package server_test

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/latchkey/latchkey/internal/browsertest"
	"github.com/latchkey/latchkey/internal/testenv"
)

// consentFor registers a client with client_uri and logo_uri at a
// loopback listener that counts every request, and returns the consent
// page a signed-in user sees for it.
func consentFor(t *testing.T) (*azSetup, *atomic.Int32, string, regResponse) {
	t.Helper()
	var hits atomic.Int32
	lis := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	t.Cleanup(lis.Close)
	_, port, _ := net.SplitHostPort(lis.Listener.Addr().String())
	s := newAZ(t, testenv.Options{Configure: regOpen})
	body := fmt.Sprintf(`{"redirect_uris":[%q],"client_name":"Totally Google","client_uri":"http://localhost:%s/about",
		"logo_uri":"http://127.0.0.1:%s/logo.png"}`, azCB, port, port)
	reg := wantRegistered(t, register(t, s.Env, body))
	return s, &hits, "127.0.0.1:" + port, reg
}

// TestConsentMarksRegisteredClients checks S155 and S202 in the HTML: a
// self-registered client is marked "not verified by this server", the
// hosts of its claimed website and logo appear as text, never as an
// image, a link or a request; a configured client carries no mark.
func TestConsentMarksRegisteredClients(t *testing.T) {
	s, hits, _, reg := consentFor(t)
	b := s.browser(t)
	page := b.follow(b.login(b.authorize(azReq(reg.ClientID)), azUser, azPassword))
	if !page.isConsent() {
		t.Fatalf("no consent page: %d", page.status)
	}
	for _, want := range []string{`id="unverified-client"`, "not verified by this server", `<span class="uri" id="client-site">localhost</span>`,
		`<span class="uri" id="client-logo-host">127.0.0.1</span>`, "Totally Google"} {
		if !strings.Contains(page.body, want) {
			t.Errorf("consent page lacks %q:\n%s", want, page.body)
		}
	}
	for _, never := range []string{"<img", "logo.png", "/about", "href=\"http://localhost", "srcset"} {
		if strings.Contains(page.body, never) {
			t.Errorf("S202: consent page contains %q", never)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the server fetched the client's URLs %d times", n)
	}
	// A configured client is not marked.
	page = b.authorize(azReq("web"))
	if !page.isConsent() || strings.Contains(page.body, "unverified-client") || strings.Contains(page.body, "not verified") {
		t.Errorf("a configured client's consent page is marked:\n%s", page.body)
	}
}

// TestConsentMarksRegisteredClientsInChromium shows the consent page of a
// self-registered client in a real browser: the mark is visible, the page
// holds no image, and the browser never requests the claimed logo or site.
func TestConsentMarksRegisteredClientsInChromium(t *testing.T) {
	browser := browsertest.Browser(t)
	s, hits, _, reg := consentFor(t)
	tab := browsertest.Tab(t, browser, 30*time.Second)
	azNavigate(t, tab, s.URL+"/authorize?"+azReq(reg.ClientID).Encode())
	azSignIn(t, tab, azPassword)
	if err := chromedp.Do(tab, chromedp.WaitVisible(chromedp.ID("unverified-client"))); err != nil {
		t.Fatalf("the unverified mark is not visible: %v", err)
	}
	note, err := chromedp.Run(tab, chromedp.Text(chromedp.ID("unverified-client")))
	if err != nil || !strings.Contains(note, "not verified by this server") || !strings.Contains(note, "127.0.0.1") {
		t.Errorf("mark %q (%v)", note, err)
	}
	images, err := chromedp.Run(tab, chromedp.Evaluate[int](`document.images.length + document.querySelectorAll("a[href*='127.0.0.1'], a[href*='localhost']").length`))
	if err != nil || images != 0 {
		t.Errorf("the page has %d images or links to the client's URLs (%v)", images, err)
	}
	azDecide(t, tab, "allow")
	if n := hits.Load(); n != 0 {
		t.Errorf("S202: the client's logo or site was requested %d times", n)
	}
}
