package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/testenv"
)

func TestClientCredentialsWithXOAuth2(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	secret := env.AddClient(t, store.Client{ID: "reports", GrantTypes: []string{"client_credentials"}, Scopes: []string{"read", "write"}})
	for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInHeader, oauth2.AuthStyleInParams} {
		cc := clientcredentials.Config{ClientID: "reports", ClientSecret: secret, TokenURL: env.URL + "/token", Scopes: []string{"read"}, AuthStyle: style}
		tok, err := cc.Token(context.Background())
		if err != nil {
			t.Fatalf("style %v: %v", style, err)
		}
		if tok.AccessToken == "" || tok.RefreshToken != "" || tok.Type() != "Bearer" {
			t.Fatalf("style %v: token %+v", style, tok)
		}
		// Introspect as itself.
		resp, err := http.PostForm(env.URL+"/introspect", url.Values{"client_id": {"reports"}, "client_secret": {secret}, "token": {tok.AccessToken}})
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if got["active"] != true || got["sub"] != "client:reports" || got["scope"] != "read" {
			t.Fatalf("introspection: %v", got)
		}
	}
}

func TestPasswordAndRefresh(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	secret := env.AddClient(t, store.Client{ID: "web", GrantTypes: []string{"password", "refresh_token"}, Scopes: []string{"openid", "profile", "read"}})
	env.AddUser(t, "alice", "wonderland", map[string]any{"name": "Alice"})
	conf := oauth2.Config{ClientID: "web", ClientSecret: secret, Endpoint: oauth2.Endpoint{TokenURL: env.URL + "/token", AuthStyle: oauth2.AuthStyleInHeader}, Scopes: []string{"openid", "read"}}
	tok, err := conf.PasswordCredentialsToken(context.Background(), "alice", "wonderland")
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken == "" || tok.Extra("id_token") == nil {
		t.Fatalf("token %+v", tok)
	}
	_, err = conf.PasswordCredentialsToken(context.Background(), "alice", "wrong")
	if err == nil || !strings.Contains(err.Error(), "invalid_grant") {
		t.Fatalf("wrong password: %v", err)
	}
	old := tok.RefreshToken
	tok.Expiry = tok.Expiry.Add(-24 * 3600e9)
	nt, err := conf.TokenSource(context.Background(), tok).Token()
	if err != nil {
		t.Fatal(err)
	}
	if nt.RefreshToken == old || nt.RefreshToken == "" {
		t.Fatal("refresh token not rotated")
	}
	// Reuse the old one: family revoked.
	resp, _ := http.PostForm(env.URL+"/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {old}, "client_id": {"web"}, "client_secret": {secret}})
	if resp.StatusCode != 400 {
		t.Fatalf("reuse: %d", resp.StatusCode)
	}
	resp, _ = http.PostForm(env.URL+"/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {nt.RefreshToken}, "client_id": {"web"}, "client_secret": {secret}})
	if resp.StatusCode != 400 {
		t.Fatalf("successor after reuse: %d", resp.StatusCode)
	}
}
