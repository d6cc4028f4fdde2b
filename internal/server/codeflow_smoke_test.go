package server_test

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/testenv"
)

var hiddenRe = regexp.MustCompile(`name="(csrf|request)" value="([^"]*)"`)

func hidden(t *testing.T, body string) url.Values {
	t.Helper()
	v := url.Values{}
	for _, m := range hiddenRe.FindAllStringSubmatch(body, -1) {
		v.Set(m[1], html.UnescapeString(m[2]))
	}
	if v.Get("csrf") == "" {
		t.Fatalf("no csrf field in page:\n%s", body)
	}
	return v
}

func TestCodeFlowSmoke(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	secret := env.AddClient(t, store.Client{ID: "web", Name: "Web App", GrantTypes: []string{"authorization_code", "refresh_token"},
		Scopes: []string{"openid", "profile", "email"}, RedirectURIs: []string{"http://127.0.0.1:9999/cb"}})
	env.AddUser(t, "alice", "wonderland", map[string]any{"name": "Alice", "email": "alice@example.com"})
	ctx := context.Background()
	provider, err := oidc.NewProvider(ctx, env.URL)
	if err != nil {
		t.Fatal(err)
	}
	conf := oauth2.Config{ClientID: "web", ClientSecret: secret, Endpoint: provider.Endpoint(), RedirectURL: "http://127.0.0.1:9999/cb", Scopes: []string{"openid", "profile", "email"}}
	conf.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
	verifier := oauth2.GenerateVerifier()
	authURL := conf.AuthCodeURL("st+at e&x", oauth2.S256ChallengeOption(verifier), oidc.Nonce("n-0S6"))
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	body := func(resp *http.Response) string { b, _ := io.ReadAll(resp.Body); resp.Body.Close(); return string(b) }
	resp, err := c.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	page := body(resp)
	f := hidden(t, page)
	f.Set("username", "alice")
	f.Set("password", "wonderland")
	resp, err = c.PostForm(env.URL+"/login", f)
	if err != nil || resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %v %v %s", err, resp.StatusCode, body(resp))
	}
	resp, err = c.Get(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	f = hidden(t, body(resp))
	f.Set("decision", "allow")
	resp, err = c.PostForm(env.URL+"/consent", f)
	if err != nil || resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("consent: %v %v", err, resp.StatusCode)
	}
	loc, _ := url.Parse(resp.Header.Get("Location"))
	q := loc.Query()
	if q.Get("state") != "st+at e&x" || q.Get("iss") != env.URL || len(q) != 3 {
		t.Fatalf("redirect %s", loc)
	}
	tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := provider.Verifier(&oidc.Config{ClientID: "web"}).Verify(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	if idt.Nonce != "n-0S6" {
		t.Fatalf("nonce %q", idt.Nonce)
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		t.Fatal(err)
	}
	ui, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatal(err)
	}
	if ui.Subject != idt.Subject || ui.Email != "alice@example.com" {
		t.Fatalf("userinfo %+v", ui)
	}
}
