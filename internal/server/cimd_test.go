package server_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey/internal/cimd"
	"github.com/latchkey/latchkey/internal/protocol"
)

// TestCIMDPublicClientCodeFlow: a client whose client_id is the https URL
// of its metadata document runs the code flow with PKCE through the real
// login and consent pages, redeems the code and refreshes, without being
// registered. The consent page marks it as not verified and names its
// host (S155); its row is kept with Source cimd (codes and grants refer
// to it); one fetch serves the whole flow.
func TestCIMDPublicClientCodeFlow(t *testing.T) {
	h := newCIMDHost(t)
	id := h.publish("/agent.json", publicAgent, "max-age=3600")
	s := newCIMD(t, h, nil)

	// The consent page, seen by hand once.
	b := s.browser(t)
	params, _ := azParamsWith(id, "scope", "openid read")
	consent := b.follow(b.login(b.authorize(params), azUser, azPassword))
	if !consent.isConsent() || !strings.Contains(consent.body, `id="unverified"`) ||
		!strings.Contains(consent.body, strings.TrimPrefix(h.URL, "https://")) || !strings.Contains(consent.body, "Example Agent") {
		t.Fatalf("consent page does not mark the client unverified with its host:\n%.3000s", consent.body)
	}

	code, verifier := cimdCode(t, s, id)
	tok := wantToken(t, cimdRedeem(t, s.Env, id, code, verifier))
	rt, _ := tok["refresh_token"].(string)
	if rt == "" || tok["scope"] != "openid read" {
		t.Fatalf("token response %v: want a refresh token and scope openid read", tok)
	}
	_, claims := azJWT(t, tok["access_token"].(string))
	if claims["client_id"] != id || !strings.Contains(fmt.Sprint(claims["aud"]), "https://mcp.example/mcp") {
		t.Errorf("access token claims %v: want client_id %s and the MCP resource as audience", claims, id)
	}
	refreshed := wantToken(t, post(t, s.Env, "/token", url.Values{"grant_type": {"refresh_token"},
		"refresh_token": {rt}, "client_id": {id}}))
	if refreshed["refresh_token"] == rt || refreshed["refresh_token"] == "" {
		t.Errorf("refresh did not rotate: %v", refreshed)
	}

	row, err := s.Store.GetClient(context.Background(), id)
	if err != nil || row.Source != cimd.Source || !row.Public || row.Name != "Example Agent" {
		t.Errorf("stored client = %+v, %v; want a public client with Source cimd", row, err)
	}
	if n := h.fetches("/agent.json"); n != 1 {
		t.Errorf("document fetched %d times in one flow, want 1 (cached by max-age)", n)
	}

	// Past max-age the document is fetched again; once it is gone the
	// client is unusable, even with its refresh token.
	s.Clock.Advance(time.Hour + time.Second)
	h.handle("/agent.json", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	r := post(t, s.Env, "/token", url.Values{"grant_type": {"refresh_token"},
		"refresh_token": {refreshed["refresh_token"].(string)}, "client_id": {id}})
	wantOAuthError(t, r, http.StatusUnauthorized, protocol.ErrInvalidClient)
	if n := h.fetches("/agent.json"); n != 2 {
		t.Errorf("document fetched %d times, want 2 after max-age", n)
	}
}

// TestCIMDPrivateKeyJWTClient: a document declaring private_key_jwt with
// a jwks_uri makes a confidential client: its assertions signed with the
// published keys authenticate it, a bare client_id does not, and another
// key does not (RFC 7523 §2.2; the draft, §5).
func TestCIMDPrivateKeyJWTClient(t *testing.T) {
	h := newCIMDHost(t)
	k, other := newPKKey(t, jose.ES256, "k1"), newPKKey(t, jose.ES256, "k2")
	jwks := pkJWKS(t, k)
	h.handle("/jwks.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, jwks)
	})
	id := h.publish("/svc.json", `"redirect_uris":["`+azCB+`"],"token_endpoint_auth_method":"private_key_jwt",`+
		`"jwks_uri":"`+h.URL+`/jwks.json","grant_types":["authorization_code"]`, "")
	s2 := newCIMD(t, h, nil)

	code, verifier := cimdCode(t, s2, id)
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {azCB},
		"code_verifier": {verifier}, "resource": {"https://mcp.example/mcp"}}
	wantOAuthError(t, post(t, s2.Env, "/token", pkAssertion(cloneForm(form), other.sign(t, pkClaims(s2.Env, id), nil))),
		http.StatusUnauthorized, protocol.ErrInvalidClient)
	form.Set("client_id", id)
	wantOAuthError(t, post(t, s2.Env, "/token", form), http.StatusUnauthorized, protocol.ErrInvalidClient)
	form.Del("client_id")
	tok := wantToken(t, post(t, s2.Env, "/token", pkAssertion(form, k.sign(t, pkClaims(s2.Env, id), nil))))
	if _, ok := tok["refresh_token"]; ok {
		t.Error("a refresh token for a client without the refresh_token grant")
	}
	row, err := s2.Store.GetClient(context.Background(), id)
	if err != nil || row.Public || row.TokenEndpointAuthMethod != "private_key_jwt" || row.JWKSURI != h.URL+"/jwks.json" {
		t.Errorf("stored client = %+v, %v", row, err)
	}
}

func cloneForm(f url.Values) url.Values {
	out := url.Values{}
	for k, v := range f {
		out[k] = append([]string(nil), v...)
	}
	return out
}
