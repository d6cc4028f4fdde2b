package server_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/bearer"
	"github.com/latchkey/latchkey/internal/server"
)

// TestJWTBearerKubernetes: a pod's projected service account token is
// traded for a Latchkey access token (RFC 7523 §2.1) whose sub is the
// service account namespaced by the issuer's name, which a resource
// server using the bearer package accepts, and which introspection
// reports without a username: it is not a Latchkey user (A17). No
// refresh token (RFC 7523 §3.1).
func TestJWTBearerKubernetes(t *testing.T) {
	w := newBearerWorld(t, nil)
	sa := w.k8sKey.sign(t, saClaims(w.Env), nil)
	body := wantToken(t, w.exchange(t, sa))
	if _, ok := body["refresh_token"]; ok {
		t.Errorf("a refresh token was issued: %v (RFC 7523 §3.1 needs none)", body)
	}
	// None asked: the client's scopes that the issuer allows.
	if body["scope"] != "payments.read payments.write" {
		t.Errorf("scope = %v, want the client's scopes within the issuer's", body["scope"])
	}
	at := body["access_token"].(string)

	v, err := bearer.New(context.Background(), bearer.Config{Issuer: w.URL, Audience: w.URL, Now: w.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	c, err := v.Validate(context.Background(), at)
	if err != nil {
		t.Fatalf("bearer.Validate: %v", err)
	}
	if c.Subject != "k8s:"+k8sSA || c.ClientID != "deployer" || c.IsClient() || !c.HasScope("payments.write") {
		t.Errorf("claims = %+v, want sub k8s:%s of client deployer", c, k8sSA)
	}

	got := introspect(t, w.Env, "deployer", w.secret, at)
	if got["active"] != true || got["sub"] != "k8s:"+k8sSA || got["client_id"] != "deployer" ||
		got["scope"] != "payments.read payments.write" {
		t.Errorf("introspection = %v", got)
	}
	if _, ok := got["username"]; ok {
		t.Errorf("introspection reports a username for an external subject: %v", got)
	}
	// /userinfo is for Latchkey users only.
	r := send(t, w.Env, http.MethodGet, "/userinfo", "", "", header("Authorization", "Bearer "+at))
	if r.Status != http.StatusUnauthorized && r.Status != http.StatusForbidden {
		t.Errorf("/userinfo with an external subject's token: status %d, want 401 or 403: %s", r.Status, r.Body)
	}
	wantNotLogged(t, w.Env, sa)
}

// TestJWTBearerGitHubActions: a CI job's OIDC token, keys inline, its
// subject matched by an allowed_subjects prefix; a job of another branch
// pattern (a pull request) is refused invalid_grant. Scopes narrow
// within the issuer's (deploy), and an opaque token carries the same sub.
func TestJWTBearerGitHubActions(t *testing.T) {
	w := newBearerWorld(t, nil)
	body := wantToken(t, w.exchange(t, w.ghKey.sign(t, ghClaims(w.Env), nil), "scope", "deploy"))
	_, claims := azJWT(t, body["access_token"].(string))
	if claims["sub"] != "github:"+ghSubject || claims["scope"] != "deploy" || claims["client_id"] != "deployer" {
		t.Errorf("claims = %v", claims)
	}
	env := pkWith(ghClaims(w.Env), "sub", "repo:octo-org/payments:environment:prod")
	wantToken(t, w.exchange(t, w.ghKey.sign(t, env, nil)))

	pr := pkWith(ghClaims(w.Env), "sub", "repo:octo-org/payments:pull_request")
	wantOAuthError(t, w.exchange(t, w.ghKey.sign(t, pr, nil)), http.StatusBadRequest, "invalid_grant")
	wantTrustRefusedFor(t, w.Env, "allowed_subjects")
	fork := pkWith(ghClaims(w.Env), "sub", "repo:octo-org/payments-fork:ref:refs/heads/main")
	wantOAuthError(t, w.exchange(t, w.ghKey.sign(t, fork, nil)), http.StatusBadRequest, "invalid_grant")

	// An opaque token: introspection tells the same subject, no username.
	c := bearerClient("opaque-deployer")
	c.AccessTokenFormat = "opaque"
	w2 := newBearerWorld(t, func(ti []server.TrustedIssuer) { ti[1].AllowedClients = []string{"opaque-deployer"} })
	secret := w2.AddClient(t, c)
	r := post(t, w2.Env, "/token", bearerForm(w2.ghKey.sign(t, ghClaims(w2.Env), nil)), basic("opaque-deployer", secret))
	at := wantToken(t, r)["access_token"].(string)
	if strings.Count(at, ".") == 2 {
		t.Fatalf("want an opaque token, got a JWT")
	}
	got := introspect(t, w2.Env, "opaque-deployer", secret, at)
	if got["active"] != true || got["sub"] != "github:"+ghSubject || got["scope"] != "deploy" {
		t.Errorf("introspection = %v", got)
	}
	if _, ok := got["username"]; ok {
		t.Errorf("introspection reports a username: %v", got)
	}
	if n := slices.Index(w2.queryStrings(t, "SELECT subject FROM access_tokens"), "github:"+ghSubject); n < 0 {
		t.Errorf("the stored opaque token's subject is not github:%s", ghSubject)
	}
}
