package server_test

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/internal/formflow"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/testenv"
)

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
	// The login page, its POST (303), the consent page, its POST (303 to
	// the client): testenv.Walker checks each step.
	w := testenv.Walker(nil, "alice", "wonderland")
	var kinds []formflow.Kind
	check := w.Before
	w.Before = func(s *formflow.Step) error { kinds = append(kinds, s.Kind); return check(s) }
	res, err := w.Walk(ctx, authURL)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(kinds, []formflow.Kind{formflow.Authorize, formflow.Login, formflow.Redirect, formflow.Consent}) || res.Status != http.StatusSeeOther {
		t.Fatalf("steps %v ending with %d, want the login and consent pages and a 303", kinds, res.Status)
	}
	q := res.Params
	if q.Get("state") != "st+at e&x" || q.Get("iss") != env.URL || len(q) != 3 {
		t.Fatalf("redirect %s", res.Location)
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
