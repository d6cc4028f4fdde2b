package main

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net/url"

	"github.com/latchkey/latchkey/internal/protocol"
)

// printDevAuthorize prints the authorization code flow of the demo web
// client: a URL to open in a browser and the exchange to paste afterwards.
// The PKCE verifier is fresh on every start, since a challenge may be used
// only once.
func printDevAuthorize(w io.Writer, issuer string, d devSetup) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return
	}
	verifier := base64.RawURLEncoding.EncodeToString(b)
	q := url.Values{
		"response_type": {"code"}, "client_id": {d.web}, "redirect_uri": {devCallback},
		"scope": {"openid profile read"}, "state": {"demo-state"},
		"code_challenge": {protocol.S256Challenge(verifier)}, "code_challenge_method": {protocol.PKCEMethodS256},
	}
	fmt.Fprintf(w, `# authorization code: open this URL in a browser, sign in as %s and allow; the browser then
# goes to %s, where nothing listens: copy the code from its address bar
%s/authorize?%s
curl -s -u '%s:%s' -d grant_type=authorization_code -d code=PASTE_CODE -d redirect_uri=%s -d code_verifier=%s %s/token
`, d.user, devCallback, issuer, q.Encode(), d.web, d.webSecret, devCallback, verifier, issuer)
}
