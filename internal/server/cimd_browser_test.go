package server_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/internal/browsertest"
)

// TestBrowserCIMD: in a real Chromium, a client known only by its
// metadata document's URL gets the login page, a consent page that shows
// the warning that it is not registered and names its host (S155), and
// the code at the redirect URI its document lists.
func TestBrowserCIMD(t *testing.T) {
	tab := browsertest.Tab(t, browsertest.Browser(t), 30*time.Second)
	cb := newAZCallback(t)
	h := newCIMDHost(t)
	id := h.publish("/agent.json", `"client_name":"Example Agent","redirect_uris":["`+cb.URL+`/cb"],"scope":"openid read"`, "")
	s := newCIMD(t, h, nil)
	verifier := oauth2.GenerateVerifier()
	conf := oauth2.Config{ClientID: id, RedirectURL: cb.URL + "/cb", Scopes: []string{"openid", "read"},
		Endpoint: oauth2.Endpoint{AuthURL: s.URL + "/authorize", TokenURL: s.URL + "/token", AuthStyle: oauth2.AuthStyleInParams}}

	azNavigate(t, tab, conf.AuthCodeURL("st-cimd", oauth2.S256ChallengeOption(verifier)))
	azSignIn(t, tab, azPassword)
	if err := chromedp.Do(tab, chromedp.WaitVisible(chromedp.ID("unverified"))); err != nil {
		t.Fatalf("consent page: %v", err)
	}
	warning, err := chromedp.Run(tab, chromedp.Text(chromedp.ID("unverified")))
	if err != nil {
		t.Fatalf("consent page: %v", err)
	}
	host := strings.TrimPrefix(h.URL, "https://")
	if !strings.Contains(warning, "not registered") || !strings.Contains(warning, host) {
		t.Errorf("the consent page's warning %q does not say the client is unregistered and name %s", warning, host)
	}
	azDecide(t, tab, "allow")
	q := cb.wait(t, tab)
	if q.Get("state") != "st-cimd" || q.Get("code") == "" {
		t.Fatalf("callback %v", q)
	}
	tok, err := conf.Exchange(t.Context(), q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil || tok.AccessToken == "" {
		t.Fatalf("x/oauth2 exchange for the CIMD client: %v", err)
	}
}
