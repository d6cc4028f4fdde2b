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
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/store/postgres/pgtest"
	"github.com/latchkey/latchkey/internal/testenv"
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

// TestCIMDAcrossInstances: two instances on one PostgreSQL, as behind a
// load balancer. The user signs in on A, which fetches the document and
// writes the client's row; B redeems the code and refreshes, fetching the
// document for its own cache but finding the row already right, so it
// writes nothing to the client.
func TestCIMDAcrossInstances(t *testing.T) {
	dsn := pgtest.DSN(t)
	h := newCIMDHost(t)
	id := h.publish("/agent.json", publicAgent, "max-age=3600")
	a := newCIMDOn(t, h, testenv.Options{Store: openPostgres(t, dsn)}, nil)
	b := newCIMDOn(t, h, testenv.Options{Store: openPostgres(t, dsn), Configure: func(c *server.Config) { c.Issuer = a.URL }}, nil)

	code, verifier := cimdCode(t, a, id)
	row, err := a.Store.GetClient(context.Background(), id)
	if err != nil || row.Source != cimd.Source {
		t.Fatalf("row after A's flow: %+v, %v", row, err)
	}
	b.Clock.Advance(30 * time.Second) // a rewrite by B would show in updated_at
	onB := func(form url.Values) result {
		req, _ := http.NewRequest(http.MethodPost, b.URL+"/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return do(t, http.DefaultClient, req)
	}
	tok := wantToken(t, onB(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {azCB},
		"code_verifier": {verifier}, "client_id": {id}, "resource": {"https://mcp.example/mcp"}}))
	wantToken(t, onB(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok["refresh_token"].(string)}, "client_id": {id}}))
	if n := h.fetches("/agent.json"); n != 2 {
		t.Errorf("document fetched %d times by two instances, want 2 (once each)", n)
	}
	again, err := b.Store.GetClient(context.Background(), id)
	if err != nil || !again.UpdatedAt.Equal(row.UpdatedAt) {
		t.Errorf("B rewrote an unchanged client: updated %v, was %v (%v)", again.UpdatedAt, row.UpdatedAt, err)
	}
}

// TestCIMDPARAndDevice: a CIMD client pushes its authorization request
// (RFC 9126) and then uses it at /authorize; one that lists the device
// grant starts a device authorization (RFC 8628 §3.1). Both endpoints
// resolve the client the same way the token endpoint does.
func TestCIMDPARAndDevice(t *testing.T) {
	h := newCIMDHost(t)
	id := h.publish("/agent.json", `"redirect_uris":["`+azCB+`"],"grant_types":["authorization_code","refresh_token",`+
		`"urn:ietf:params:oauth:grant-type:device_code"],"scope":"openid read"`, "")
	s := newCIMD(t, h, nil)

	params, _ := azParamsWith(id, "scope", "openid read")
	pushed := post(t, s.Env, "/par", params)
	if pushed.Status != http.StatusCreated {
		t.Fatalf("/par: %d %s", pushed.Status, pushed.Body)
	}
	uri := pushed.str(t, "request_uri")
	login := s.browser(t).authorize(url.Values{"client_id": {id}, "request_uri": {uri}})
	if !login.isLogin() {
		t.Errorf("/authorize with the pushed request: %d\n%.1000s", login.status, login.body)
	}

	dev := post(t, s.Env, "/device_authorization", url.Values{"client_id": {id}, "scope": {"openid read"}})
	if dev.Status != http.StatusOK || dev.str(t, "device_code") == "" {
		t.Errorf("/device_authorization: %d %s", dev.Status, dev.Body)
	}
	if n := h.fetches("/agent.json"); n != 1 {
		t.Errorf("document fetched %d times, want 1", n)
	}
}
