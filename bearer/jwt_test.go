package bearer_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/bearer"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/testenv"
)

// RFC 9068 §4: a valid JWT access token from Latchkey passes, and its
// claims come out as issued.
func TestValidJWT(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	secret := addClient(t, env, "reports", []string{"read", "write"}, "")
	v, _ := newValidator(t, env.URL, env.Clock.Now, nil)

	raw := getToken(t, env, "reports", secret, "read")
	c, err := v.Validate(context.Background(), raw)
	if err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if c.Issuer != env.URL || c.Subject != "client:reports" || c.ClientID != "reports" || c.JTI == "" {
		t.Errorf("claims %+v", c)
	}
	if !slices.Contains(c.Audience, notesAudience) || !slices.Equal(c.Scopes, []string{"read"}) {
		t.Errorf("aud %v scopes %v", c.Audience, c.Scopes)
	}
	if !c.HasScope("read") || c.HasScope("write") || c.HasScope("READ") {
		t.Errorf("HasScope wrong for %v", c.Scopes)
	}
	if !c.IsClient() {
		t.Error("a client-credentials token must report IsClient")
	}
	now := env.Clock.Now()
	if c.Expiry.Before(now) || c.IssuedAt.After(now) || c.Raw["jti"] != c.JTI {
		t.Errorf("exp %v iat %v raw %v", c.Expiry, c.IssuedAt, c.Raw)
	}
}

// RFC 9068 §4, S037: exp is checked with the leeway, on the clock given.
func TestExpiredJWT(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	secret := addClient(t, env, "reports", []string{"read"}, "")
	v, _ := newValidator(t, env.URL, env.Clock.Now, func(c *bearer.Config) { c.Leeway = 20 * time.Second })
	raw := getToken(t, env, "reports", secret)

	env.Clock.Advance(env.Config.AccessTokenTTL + 10*time.Second)
	if _, err := v.Validate(context.Background(), raw); err != nil {
		t.Fatalf("within the leeway: %v", err)
	}
	env.Clock.Advance(11 * time.Second)
	_, err := v.Validate(context.Background(), raw)
	wantErr(t, err, bearer.ErrExpired)
	wantErr(t, err, bearer.ErrInvalidToken)
}

// A17, S087: a user's token is told apart from a client's own.
func TestUserTokenIsNotClient(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	secret := env.AddClient(t, store.Client{
		ID: "web", GrantTypes: []string{"password"}, Scopes: []string{"openid", "read"}, Audience: []string{notesAudience},
	})
	env.AddUser(t, "alice", "pw", nil)
	v, _ := newValidator(t, env.URL, env.Clock.Now, nil)

	tok := passwordToken(t, env, "web", secret)
	c, err := v.Validate(context.Background(), tok.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if c.IsClient() || c.Subject == "" || c.ClientID != "web" {
		t.Errorf("user token: %+v", c)
	}
}

// A18, RFC 9068 §5, S092: an ID token is no access token, even one
// signed by the right issuer.
func TestIDTokenRefused(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	secret := env.AddClient(t, store.Client{
		ID: "web", GrantTypes: []string{"password"}, Scopes: []string{"openid", "read"}, Audience: []string{notesAudience},
	})
	env.AddUser(t, "alice", "pw", nil)
	v, _ := newValidator(t, env.URL, env.Clock.Now, func(c *bearer.Config) { c.Audience = "web" })

	id, _ := passwordToken(t, env, "web", secret).Extra("id_token").(string)
	if id == "" {
		t.Fatal("no id_token")
	}
	_, err := v.Validate(context.Background(), id)
	wantErr(t, err, bearer.ErrTokenType)
}

// A18, S113: a token for another resource server is refused.
func TestOtherAudienceRefused(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	secret := env.AddClient(t, store.Client{
		ID: "billing", GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"},
		Audience: []string{"https://billing.example"},
	})
	v, _ := newValidator(t, env.URL, env.Clock.Now, nil)
	_, err := v.Validate(context.Background(), getToken(t, env, "billing", secret))
	wantErr(t, err, bearer.ErrAudience)
}

// A6, A18: a token of a second Latchkey, for the same audience, is refused.
func TestSecondIssuerRefused(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	other := testenv.New(t, testenv.Options{})
	secret := addClient(t, other, "reports", []string{"read"}, "")
	v, _ := newValidator(t, env.URL, env.Clock.Now, nil)
	_, err := v.Validate(context.Background(), getToken(t, other, "reports", secret))
	wantErr(t, err, bearer.ErrSignature)
}

// A6: a token signed with a key the validator trusts but naming another
// iss is still refused (RFC 9068 §4: iss exact).
func TestWrongIssuerClaimRefused(t *testing.T) {
	f := newFakeIssuer(t)
	v, _ := newValidator(t, f.URL, time.Now, nil)
	for name, iss := range map[string]string{"other": "https://evil.example", "trailing slash": f.URL + "/", "case": "HTTP" + f.URL[4:]} {
		claims := claimsFor(iss, time.Now())
		_, err := v.Validate(context.Background(), f.sign(t, nil, claims))
		if err == nil {
			t.Fatalf("%s: accepted", name)
		}
		wantErr(t, err, bearer.ErrIssuer)
	}
}

// RFC 9068 §2.2 (S086): every required claim must be there; nbf and iat
// are checked with the leeway.
func TestClaimRules(t *testing.T) {
	f := newFakeIssuer(t)
	v, _ := newValidator(t, f.URL, time.Now, nil)
	now := time.Now()
	if _, err := v.Validate(context.Background(), f.sign(t, nil, claimsFor(f.URL, now))); err != nil {
		t.Fatalf("control token refused: %v", err)
	}
	for _, name := range []string{"iss", "sub", "aud", "exp", "iat", "jti", "client_id"} {
		c := claimsFor(f.URL, now)
		delete(c, name)
		_, err := v.Validate(context.Background(), f.sign(t, nil, c))
		wantErr(t, err, bearer.ErrMalformed)
	}
	cases := []struct {
		name  string
		edit  func(map[string]any)
		wantE error
	}{
		{"aud array", func(c map[string]any) { c["aud"] = []string{"https://a.example", notesAudience} }, nil},
		{"nbf past", func(c map[string]any) { c["nbf"] = now.Add(-time.Minute).Unix() }, nil},
		{"nbf within leeway", func(c map[string]any) { c["nbf"] = now.Add(10 * time.Second).Unix() }, nil},
		{"nbf future", func(c map[string]any) { c["nbf"] = now.Add(time.Minute).Unix() }, bearer.ErrNotYetValid},
		{"iat future", func(c map[string]any) { c["iat"] = now.Add(time.Minute).Unix() }, bearer.ErrNotYetValid},
		{"exp past", func(c map[string]any) { c["exp"] = now.Add(-time.Minute).Unix() }, bearer.ErrExpired},
		{"exp string", func(c map[string]any) { c["exp"] = "tomorrow" }, bearer.ErrMalformed},
		{"scope array", func(c map[string]any) { c["scope"] = []string{"read"} }, bearer.ErrMalformed},
		{"aud other", func(c map[string]any) { c["aud"] = []string{"https://a.example"} }, bearer.ErrAudience},
		// RFC 8693 §4.1: act is an object with a sub, at every level.
		{"act chain", func(c map[string]any) {
			c["act"] = map[string]any{"sub": "client:gw", "act": map[string]any{"sub": "client:edge"}}
		}, nil},
		{"act string", func(c map[string]any) { c["act"] = "client:gw" }, bearer.ErrMalformed},
		{"act without sub", func(c map[string]any) { c["act"] = map[string]any{"client_id": "gw"} }, bearer.ErrMalformed},
		{"nested act not an object", func(c map[string]any) { c["act"] = map[string]any{"sub": "a", "act": []string{"b"}} }, bearer.ErrMalformed},
		{"act 17 deep", func(c map[string]any) { c["act"] = deepAct(17) }, bearer.ErrMalformed},
	}
	for _, tc := range cases {
		c := claimsFor(f.URL, now)
		tc.edit(c)
		_, err := v.Validate(context.Background(), f.sign(t, nil, c))
		if tc.wantE == nil {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: accepted", tc.name)
			continue
		}
		wantErr(t, err, tc.wantE)
	}
}

// deepAct is an act chain of n actors.
func deepAct(n int) map[string]any {
	act := map[string]any{"sub": "a0"}
	for i := 1; i < n; i++ {
		act = map[string]any{"sub": "a", "act": act}
	}
	return act
}

// TestActorChain: the act chain of a delegated token reaches the handler
// as Claims.Actor, most recent actor first (RFC 8693 §4.1).
func TestActorChain(t *testing.T) {
	f := newFakeIssuer(t)
	v, _ := newValidator(t, f.URL, time.Now, nil)
	c := claimsFor(f.URL, time.Now())
	c["act"] = map[string]any{"sub": "client:gw", "client_id": "gw", "act": map[string]any{"sub": "k8s:api", "iss": "https://k8s"}}
	got, err := v.Validate(context.Background(), f.sign(t, nil, c))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Actor.Chain(), []string{"client:gw", "k8s:api"}) || got.Actor.ClientID != "gw" || got.Actor.Actor.Issuer != "https://k8s" {
		t.Errorf("Actor = %+v (chain %v)", got.Actor, got.Actor.Chain())
	}
	plain, err := v.Validate(context.Background(), f.sign(t, nil, claimsFor(f.URL, time.Now())))
	if err != nil || plain.Actor != nil || plain.Actor.Chain() != nil {
		t.Errorf("an undelegated token: Actor %+v, err %v", plain.Actor, err)
	}
}

// RFC 9068 §4 accepts typ "at+jwt" and "application/at+jwt", in any case.
func TestTypVariants(t *testing.T) {
	f := newFakeIssuer(t)
	v, _ := newValidator(t, f.URL, time.Now, nil)
	for _, typ := range []string{"at+jwt", "AT+JWT", "application/at+jwt", "Application/AT+JWT"} {
		raw := f.sign(t, map[jose.HeaderKey]any{"typ": typ}, claimsFor(f.URL, time.Now()))
		if _, err := v.Validate(context.Background(), raw); err != nil {
			t.Errorf("typ %q: %v", typ, err)
		}
	}
}

func passwordToken(t testing.TB, env *testenv.Env, id, secret string) *oauth2.Token {
	t.Helper()
	conf := oauth2.Config{
		ClientID: id, ClientSecret: secret, Scopes: []string{"openid", "read"},
		Endpoint: oauth2.Endpoint{TokenURL: env.URL + "/token", AuthStyle: oauth2.AuthStyleInHeader},
	}
	tok, err := conf.PasswordCredentialsToken(context.Background(), "alice", "pw")
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
