package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/testenv"
)

// TestAuthzPromptNone is OpenID Connect Core §3.1.2.1 (S222): prompt=none
// never shows a page — consent_required while the user has not consented,
// a code once they have, login_required once the session has expired.
func TestAuthzPromptNone(t *testing.T) {
	s := newAZ(t, testenv.Options{})
	b := s.browser(t)
	page := b.follow(b.login(b.authorize(azReq("web")), azUser, azPassword))
	p, _ := azParamsWith("web", "prompt", "none")
	q := b.authorize(p).callback(t, azCB)
	if q.Get("error") != "consent_required" || q.Get("state") != p.Get("state") || q.Get("iss") != s.URL {
		t.Fatalf("signed in, no consent: %v, want consent_required with state and iss", q)
	}
	b.consent(page, "allow").callback(t, azCB)
	p, _ = azParamsWith("web", "prompt", "none")
	if q := b.authorize(p).callback(t, azCB); q.Get("code") == "" {
		t.Fatalf("signed in and consented: %v, want a code", q)
	}

	s.Clock.Advance(s.Config.SessionTTL + time.Minute)
	p, _ = azParamsWith("web", "prompt", "none")
	if q := b.authorize(p).callback(t, azCB); q.Get("error") != "login_required" {
		t.Fatalf("the session expired: %v, want login_required", q)
	}
	if page := b.authorize(azReq("web")); !page.isLogin() {
		t.Fatalf("the session expired, no prompt: %d, want the login page", page.status)
	}
}

// TestAuthzMaxAge is OpenID Connect Core §3.1.2.1 (S220, S217): an
// authentication older than max_age means a new login (login_required
// under prompt=none), and the ID token carries the new auth_time.
func TestAuthzMaxAge(t *testing.T) {
	s := newAZ(t, testenv.Options{})
	b := s.browser(t)
	b.code(azReq("web"))
	p, _ := azParamsWith("web", "max_age", "300")
	if q := b.authorize(p).callback(t, azCB); q.Get("code") == "" {
		t.Fatalf("max_age not elapsed: %v, want a code without login", q)
	}

	s.Clock.Advance(10 * time.Minute)
	p, _ = azParamsWith("web", "max_age", "300", "prompt", "none")
	if q := b.authorize(p).callback(t, azCB); q.Get("error") != "login_required" {
		t.Fatalf("max_age elapsed, prompt=none: %v, want login_required", q)
	}
	p, verifier := azParamsWith("web", "max_age", "300")
	page := b.authorize(p)
	if !page.isLogin() {
		t.Fatalf("max_age elapsed: %d, want the login page", page.status)
	}
	loginAt := s.Clock.Now()
	code := b.follow(b.login(page, azUser, azPassword)).callback(t, azCB).Get("code")
	_, tok := azRedeem(t, s.Env, "web", s.secret, code, verifier)
	_, claims := azJWT(t, tok.IDToken)
	at, ok := claims["auth_time"].(float64)
	if !ok || time.Unix(int64(at), 0).Before(loginAt.Add(-time.Second)) || time.Unix(int64(at), 0).After(loginAt.Add(5*time.Second)) {
		t.Fatalf("auth_time %v, want the new login at %v", claims["auth_time"], loginAt.Unix())
	}

	// max_age=0 always asks — once: the login leads on to the client, not
	// back to another login page.
	p, _ = azParamsWith("web", "max_age", "0")
	if page = b.authorize(p); !page.isLogin() {
		t.Fatalf("max_age=0 with a fresh session: %d, want the login page", page.status)
	}
	if q := b.follow(b.login(page, azUser, azPassword)).callback(t, azCB); q.Get("code") == "" {
		t.Fatalf("max_age=0, after the login: %v", q)
	}
}

// TestAuthzPromptLogin is OpenID Connect Core §3.1.2.1 (S222): prompt=login
// shows the login page despite a session, and leads on to the client.
func TestAuthzPromptLogin(t *testing.T) {
	s := newAZ(t, testenv.Options{})
	b := s.browser(t)
	b.code(azReq("web"))
	p, _ := azParamsWith("web", "prompt", "login")
	page := b.authorize(p)
	if !page.isLogin() {
		t.Fatalf("prompt=login with a session: %d, want the login page", page.status)
	}
	if q := b.follow(b.login(page, azUser, azPassword)).callback(t, azCB); q.Get("code") == "" || q.Get("state") != p.Get("state") {
		t.Fatalf("after the new login: %v", q)
	}
}

// TestAuthzNonce checks S127 and S217: the nonce is copied into the ID
// token, and a request without nonce succeeds with no nonce claim.
func TestAuthzNonce(t *testing.T) {
	s := newAZ(t, testenv.Options{})
	b := s.browser(t)
	for _, nonce := range []string{"", "n-0S6_WzA2Mj"} {
		p, verifier := azParams("web")
		p.Set("nonce", nonce)
		r, tok := azRedeem(t, s.Env, "web", s.secret, b.code(p), verifier)
		if r.status != http.StatusOK {
			t.Fatalf("nonce %q: %d %s", nonce, r.status, r.body)
		}
		_, claims := azJWT(t, tok.IDToken)
		got, has := claims["nonce"]
		if nonce == "" && has {
			t.Errorf("S217: no nonce was sent, the ID token has nonce %v", got)
		}
		if nonce != "" && got != nonce {
			t.Errorf("S127: nonce %v, want %q", got, nonce)
		}
	}
}

// TestAuthzConsentMemory checks that consent is remembered per scope set
// (S039, S224): the same scopes again skip the page, a new scope asks
// again, and a first-party client (SkipConsent) never asks.
func TestAuthzConsentMemory(t *testing.T) {
	s := newAZ(t, testenv.Options{})
	s.AddClient(t, store.Client{ID: "first", GrantTypes: []string{"authorization_code"}, Scopes: []string{"openid", "profile"},
		RedirectURIs: []string{azCB}, SkipConsent: true})
	b := s.browser(t)
	ask := func(clientID, scope string) azResp {
		p, _ := azParams(clientID)
		p.Set("scope", scope)
		return b.authorize(p)
	}
	page := b.follow(b.login(ask("web", "openid profile"), azUser, azPassword))
	b.consent(page, "allow").callback(t, azCB)

	if r := ask("web", "openid profile"); r.status != http.StatusSeeOther {
		t.Errorf("same scopes again: %d, want the redirect without the consent page", r.status)
	}
	if r := ask("web", "profile openid"); r.status != http.StatusSeeOther {
		t.Errorf("same scopes in another order: %d, want the redirect", r.status)
	}
	if r := ask("web", "openid"); r.status != http.StatusSeeOther {
		t.Errorf("fewer scopes: %d, want the redirect", r.status)
	}
	r := ask("web", "openid email")
	if !r.isConsent() || !strings.Contains(r.body, "See your email address") {
		t.Fatalf("a new scope: %d, want the consent page naming it", r.status)
	}
	b.consent(r, "allow").callback(t, azCB)
	c, err := s.Store.GetConsent(context.Background(), s.user.ID, "web")
	if err != nil || !slices.Contains(c.Scopes, "email") || !slices.Contains(c.Scopes, "profile") {
		t.Fatalf("remembered consent %v %v, want profile and email", c.Scopes, err)
	}
	if r := ask("web", "openid profile email"); r.status != http.StatusSeeOther {
		t.Errorf("all consented scopes: %d, want the redirect", r.status)
	}

	for _, prompt := range []string{"", "consent"} {
		p, _ := azParams("first")
		p.Set("prompt", prompt)
		if q := b.authorize(p).callback(t, azCB); q.Get("code") == "" {
			t.Errorf("skip-consent client, prompt=%q: %v, want a code without the consent page", prompt, q)
		}
	}
	if s.azConsented(t, "first") {
		t.Error("a consent was stored for a skip-consent client")
	}
}

// TestAuthzConsentMemoryResources: a remembered consent covers the
// resources (RFC 8707, S205) the user saw on the consent page, not only
// the scopes: the same client asking, with consented scopes, for an API
// the user never allowed shows the page again, naming it. What a token
// exchange may later address is bounded by the consented resources, so a
// silent widening here would widen that too.
func TestAuthzConsentMemoryResources(t *testing.T) {
	s := newAZ(t, testenv.Options{})
	c := azWebClient("api-web")
	c.Resources = []string{notesAPI, calendarAPI}
	s.AddClient(t, c)
	b := s.browser(t)
	ask := func(resources ...string) azResp {
		p, _ := azParams("api-web")
		p.Set("scope", "openid read")
		p["resource"] = resources
		return b.authorize(p)
	}
	page := b.follow(b.login(ask(notesAPI), azUser, azPassword))
	if !page.isConsent() || !strings.Contains(page.body, notesAPI) {
		t.Fatalf("first request: %d, want the consent page naming %s", page.status, notesAPI)
	}
	b.consent(page, "allow").callback(t, azCB)
	if r := ask(notesAPI); r.status != http.StatusSeeOther {
		t.Errorf("the consented resource again: %d, want the redirect without the consent page", r.status)
	}
	r := ask(notesAPI, calendarAPI)
	if !r.isConsent() || !strings.Contains(r.body, calendarAPI) {
		t.Fatalf("a resource never consented to: %d, want the consent page naming %s", r.status, calendarAPI)
	}
	b.consent(r, "allow").callback(t, azCB)
	got, err := s.Store.GetConsent(context.Background(), s.user.ID, "api-web")
	if err != nil || !slices.Contains(got.Resources, notesAPI) || !slices.Contains(got.Resources, calendarAPI) {
		t.Fatalf("remembered consent resources %v %v, want both APIs", got.Resources, err)
	}
	if r := ask(calendarAPI); r.status != http.StatusSeeOther {
		t.Errorf("a consented resource alone: %d, want the redirect", r.status)
	}
}

// TestAuthzConsentNativeClient is S039 (RFC 6749 §10.2, RFC 8252 §8.6): a
// public client whose redirect URI is a loopback address can be
// impersonated by any program on the machine, so its earlier consent is
// not reused silently; a public client with an https redirect URI is
// identified by it, and its consent is remembered.
func TestAuthzConsentNativeClient(t *testing.T) {
	s := newAZ(t, testenv.Options{})
	s.AddClient(t, store.Client{ID: "cli", Public: true, GrantTypes: []string{"authorization_code"},
		Scopes: []string{"openid"}, RedirectURIs: []string{"http://127.0.0.1/callback"}})
	s.AddClient(t, store.Client{ID: "spa", Public: true, GrantTypes: []string{"authorization_code"},
		Scopes: []string{"openid"}, RedirectURIs: []string{azCB}})
	b := s.browser(t)
	ask := func(clientID, redirect string, kv ...string) azResp {
		p, _ := azParamsWith(clientID, append([]string{"scope", "openid", "redirect_uri", redirect}, kv...)...)
		return b.authorize(p)
	}
	native := "http://127.0.0.1:50000/callback"
	b.consent(b.follow(b.login(ask("cli", native), azUser, azPassword)), "allow").callback(t, native)
	if !s.azConsented(t, "cli") {
		t.Fatal("the consent was not recorded")
	}
	if r := ask("cli", "http://127.0.0.1:50001/callback"); !r.isConsent() {
		t.Errorf("native client, second request: %d to %q, want the consent page again", r.status, r.location())
	}
	if q := ask("cli", native, "prompt", "none").callback(t, native); q.Get("error") != "consent_required" {
		t.Errorf("native client, prompt=none: %v, want consent_required", q)
	}

	b.consent(ask("spa", azCB), "allow").callback(t, azCB)
	if q := ask("spa", azCB).callback(t, azCB); q.Get("code") == "" {
		t.Errorf("public client with an https redirect URI, second request: %v, want a code", q)
	}
}

// azUserinfo calls /userinfo; tok goes in the header, or in the form body
// when inBody.
func azUserinfo(t *testing.T, env *testenv.Env, method, tok string, inBody bool) (azResp, map[string]any) {
	t.Helper()
	var req *http.Request
	if method == http.MethodPost {
		form := url.Values{}
		if inBody {
			form.Set("access_token", tok)
		}
		req, _ = http.NewRequest(method, env.URL+"/userinfo", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req, _ = http.NewRequest(method, env.URL+"/userinfo", nil)
	}
	if tok != "" && !inBody {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var claims map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&claims)
	return azResp{status: resp.StatusCode, header: resp.Header}, claims
}

// azUserToken runs a flow for scope and redeems the code.
func (s *azSetup) azUserToken(t *testing.T, b *azBrowser, scope string) azTokenJSON {
	t.Helper()
	p, verifier := azParamsWith("web", "scope", scope)
	r, tok := azRedeem(t, s.Env, "web", s.secret, b.code(p), verifier)
	if r.status != http.StatusOK {
		t.Fatalf("redeem: %d %s", r.status, r.body)
	}
	return tok
}

// TestAuthzUserinfo is OpenID Connect Core §5.3 (S230, S231, S233): GET and
// POST, token in the header or the form body, sub equal to the ID token's,
// and only the claims of the granted scopes.
func TestAuthzUserinfo(t *testing.T) {
	s := newAZ(t, testenv.Options{})
	tok := s.azUserToken(t, s.browser(t), "openid email")
	_, idClaims := azJWT(t, tok.IDToken)
	for _, tc := range []struct {
		name   string
		method string
		inBody bool
	}{{"GET header", http.MethodGet, false}, {"POST header", http.MethodPost, false}, {"POST body", http.MethodPost, true}} {
		r, claims := azUserinfo(t, s.Env, tc.method, tok.AccessToken, tc.inBody)
		if r.status != http.StatusOK || claims["sub"] != idClaims["sub"] || claims["sub"] != s.user.ID {
			t.Errorf("%s: %d sub %v, want 200 and the ID token's sub %v", tc.name, r.status, claims["sub"], idClaims["sub"])
		}
		if claims["email"] != "alice@example.com" || claims["name"] != nil {
			t.Errorf("%s: claims %v, want email and no profile claims (S233)", tc.name, claims)
		}
		if r.header.Get("WWW-Authenticate") != "" || !strings.Contains(r.header.Get("Cache-Control"), "no-store") {
			t.Errorf("%s: headers %v", tc.name, r.header)
		}
	}
}

// TestAuthzUserinfoErrors is RFC 6750 §3 at userinfo (S054-S058, S232): no
// token gets a challenge without error, an unusable one 401 invalid_token,
// a token without openid 403 insufficient_scope.
func TestAuthzUserinfoErrors(t *testing.T) {
	s := newAZ(t, testenv.Options{})
	ccSecret := s.AddClient(t, store.Client{ID: "svc", GrantTypes: []string{"client_credentials"}, Scopes: []string{"openid", "read"}})
	b := s.browser(t)
	tok := s.azUserToken(t, b, "openid")
	readTok := s.azUserToken(t, b, "read")
	_, cc := azPostToken(t, s.Env, "svc", ccSecret, url.Values{"grant_type": {"client_credentials"}, "scope": {"openid read"}})
	if cc.AccessToken == "" {
		t.Fatalf("client credentials: %+v", cc)
	}
	for _, tc := range []struct {
		name, token string
		status      int
		err         string
	}{
		{"no token", "", http.StatusUnauthorized, ""},
		{"garbage", "garbage.not.token", http.StatusUnauthorized, "invalid_token"},
		{"refresh token", tok.RefreshToken, http.StatusUnauthorized, "invalid_token"},
		{"ID token", tok.IDToken, http.StatusUnauthorized, "invalid_token"},
		{"client credentials token", cc.AccessToken, http.StatusUnauthorized, "invalid_token"},
		{"token without openid (S232)", readTok.AccessToken, http.StatusForbidden, "insufficient_scope"},
	} {
		r, _ := azUserinfo(t, s.Env, http.MethodGet, tc.token, false)
		azWantChallenge(t, tc.name, r, tc.status, tc.err)
	}
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/userinfo?access_token="+url.QueryEscape(tok.AccessToken), nil)
	azWantChallenge(t, "token in the query (S054)", b.do(req), http.StatusUnauthorized, "")
}

// azWantChallenge checks an RFC 6750 §3 answer: status, a Bearer
// challenge, and error="wantErr" — or no error at all when wantErr is "".
func azWantChallenge(t *testing.T, name string, r azResp, status int, wantErr string) {
	t.Helper()
	wa := r.header.Get("WWW-Authenticate")
	if r.status != status || !strings.HasPrefix(wa, "Bearer ") {
		t.Errorf("%s: %d %q, want %d with a Bearer challenge", name, r.status, wa, status)
	}
	if wantErr == "" && strings.Contains(wa, "error=") {
		t.Errorf("%s: S056: a request without a token got an error in %q", name, wa)
	}
	if wantErr != "" && !strings.Contains(wa, `error="`+wantErr+`"`) {
		t.Errorf("%s: challenge %q, want error=%q", name, wa, wantErr)
	}
}

// TestAuthzDiscovery checks the metadata the code flow relies on (S063,
// S094, S106, S158, S242).
func TestAuthzDiscovery(t *testing.T) {
	s := newAZ(t, testenv.Options{})
	resp, err := http.Get(s.URL + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Issuer                string   `json:"issuer"`
		AuthorizationEndpoint string   `json:"authorization_endpoint"`
		UserinfoEndpoint      string   `json:"userinfo_endpoint"`
		ISSParameterSupported bool     `json:"authorization_response_iss_parameter_supported"`
		CodeChallengeMethods  []string `json:"code_challenge_methods_supported"`
		ResponseTypes         []string `json:"response_types_supported"`
		IDTokenSigningAlgs    []string `json:"id_token_signing_alg_values_supported"`
		RequestParameter      *bool    `json:"request_parameter_supported"`
		RequestURIParameter   *bool    `json:"request_uri_parameter_supported"`
	}
	err = json.NewDecoder(resp.Body).Decode(&doc)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("discovery: %d %v", resp.StatusCode, err)
	}
	if !doc.ISSParameterSupported {
		t.Error("authorization_response_iss_parameter_supported is not true (S158)")
	}
	if !slices.Equal(doc.CodeChallengeMethods, []string{"S256"}) {
		t.Errorf("code_challenge_methods_supported %v, want [S256]", doc.CodeChallengeMethods)
	}
	if !slices.Equal(doc.ResponseTypes, []string{"code"}) {
		t.Errorf("response_types_supported %v, want [code]", doc.ResponseTypes)
	}
	if !slices.Contains(doc.IDTokenSigningAlgs, "RS256") {
		t.Error("RS256 missing from id_token_signing_alg_values_supported (S242)")
	}
	if doc.Issuer != s.URL || doc.AuthorizationEndpoint != s.URL+"/authorize" || doc.UserinfoEndpoint != s.URL+"/userinfo" {
		t.Errorf("issuer and endpoints %q %q %q", doc.Issuer, doc.AuthorizationEndpoint, doc.UserinfoEndpoint)
	}
	if doc.RequestParameter == nil || *doc.RequestParameter || doc.RequestURIParameter == nil || *doc.RequestURIParameter {
		t.Error("request objects must be advertised as unsupported, as /authorize refuses them")
	}
}

// TestAuthzIDTokenAlg checks the ID token's algorithm: RS256 by default
// (S229), the client's IDTokenAlg when set, always with a kid (S237), and
// each verified by go-oidc against the published keys, nonce and at_hash
// included (S228).
func TestAuthzIDTokenAlg(t *testing.T) {
	s := newAZ(t, testenv.Options{})
	ctx := context.Background()
	provider, err := oidc.NewProvider(ctx, s.URL)
	if err != nil {
		t.Fatal(err)
	}
	b := s.browser(t)
	for alg, want := range map[string]string{"": "RS256", "RS256": "RS256", "ES256": "ES256", "EdDSA": "EdDSA"} {
		id := "alg-" + alg
		c := azWebClient(id)
		c.IDTokenAlg = alg
		secret := s.AddClient(t, c)
		p, verifier := azParams(id)
		_, tok := azRedeem(t, s.Env, id, secret, b.code(p), verifier)
		if header, _ := azJWT(t, tok.IDToken); header["alg"] != want || header["kid"] == nil {
			t.Errorf("client IDTokenAlg %q: header %v, want alg %s with a kid", alg, header, want)
		}
		idt, err := provider.Verifier(&oidc.Config{ClientID: id}).Verify(ctx, tok.IDToken)
		if err != nil {
			t.Errorf("%s: go-oidc: %v", want, err)
			continue
		}
		if idt.Nonce != p.Get("nonce") || idt.VerifyAccessToken(tok.AccessToken) != nil {
			t.Errorf("%s: nonce %q or at_hash does not match", want, idt.Nonce)
		}
	}
}
