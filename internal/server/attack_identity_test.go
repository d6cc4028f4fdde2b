package server_test

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/store"
)

// TestA17ClientAndUserSubjectsNeverCollide: a client whose id is a user's
// id, and a user whose username looks like a client subject, still get
// tokens whose sub tells them apart: "client:<id>" for client credentials,
// the user's colon-free id for users (S087, S118, A17).
func TestA17ClientAndUserSubjectsNeverCollide(t *testing.T) {
	f := newFixture(t, nil)
	alice := f.AddUser(t, "alice", "wonderland", nil)
	mimic := f.AddUser(t, "client:"+alice.ID, "pw", nil)
	impostor := f.AddClient(t, store.Client{ID: alice.ID, GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}})
	web := f.AddClient(t, store.Client{ID: "web", GrantTypes: []string{"password"}, Scopes: []string{"read"}})

	cc := wantToken(t, post(t, f.Env, "/token", formOf("grant_type", "client_credentials"), basic(alice.ID, impostor)))
	ccJWT := verifyJWT(t, f.Env, cc["access_token"].(string))
	pw := wantToken(t, post(t, f.Env, "/token", formOf("grant_type", "password", "username", "alice", "password", "wonderland"),
		basic("web", web)))
	pwJWT := verifyJWT(t, f.Env, pw["access_token"].(string))
	mimicTok := wantToken(t, post(t, f.Env, "/token", formOf("grant_type", "password", "username", mimic.Username, "password", "pw"),
		basic("web", web)))
	mimicJWT := verifyJWT(t, f.Env, mimicTok["access_token"].(string))

	if ccJWT.Claims["sub"] != "client:"+alice.ID {
		t.Errorf("client credentials sub = %v, want client:%s", ccJWT.Claims["sub"], alice.ID)
	}
	if pwJWT.Claims["sub"] != alice.ID {
		t.Errorf("password sub = %v, want %s", pwJWT.Claims["sub"], alice.ID)
	}
	if mimicJWT.Claims["sub"] != mimic.ID || strings.Contains(mimic.ID, ":") {
		t.Errorf("user named %q got sub %v; user ids must be generated and colon-free", mimic.Username, mimicJWT.Claims["sub"])
	}
	subs := map[any]bool{ccJWT.Claims["sub"]: true, pwJWT.Claims["sub"]: true, mimicJWT.Claims["sub"]: true}
	if len(subs) != 3 {
		t.Errorf("subjects collide: %v", subs)
	}
	// Introspection gives a resource server the same distinction.
	ccInfo := introspect(t, f.Env, alice.ID, impostor, cc["access_token"].(string))
	if ccInfo["username"] != nil || ccInfo["sub"] != "client:"+alice.ID {
		t.Errorf("client credentials introspection = %v", ccInfo)
	}
	pwInfo := introspect(t, f.Env, "web", web, pw["access_token"].(string))
	if pwInfo["username"] != "alice" || pwInfo["sub"] != alice.ID {
		t.Errorf("password introspection = %v", pwInfo)
	}
}

// spoofing are the proxy headers an attacker sends directly (A21).
var spoofing = []reqOpt{
	header("Host", "evil.example"),
	header("X-Forwarded-Host", "evil.example"),
	header("X-Forwarded-Proto", "http"),
	header("X-Forwarded-For", "127.0.0.1"),
	header("Forwarded", "host=evil.example;proto=https"),
}

// TestA21IssuerIgnoresHostHeaders: metadata and tokens carry the
// configured issuer whatever Host and X-Forwarded-* say (S098, A21).
func TestA21IssuerIgnoresHostHeaders(t *testing.T) {
	f := newFixture(t, nil)
	secret := f.AddClient(t, store.Client{ID: "svc", GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}})
	for _, path := range []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"} {
		r := send(t, f.Env, http.MethodGet, path, "", "", spoofing...)
		doc := r.JSON(t)
		if doc["issuer"] != f.URL {
			t.Errorf("%s: issuer = %v, want %s", path, doc["issuer"], f.URL)
		}
		for k, v := range doc {
			if s, ok := v.(string); ok && strings.Contains(s, "evil.example") {
				t.Errorf("%s: %s = %q follows the Host header", path, k, s)
			}
		}
	}
	tok := wantToken(t, post(t, f.Env, "/token", formOf("grant_type", "client_credentials"), append(spoofing, basic("svc", secret))...))
	if iss := verifyJWT(t, f.Env, tok["access_token"].(string)).Claims["iss"]; iss != f.URL {
		t.Errorf("token iss = %v, want %s", iss, f.URL)
	}
	r := post(t, f.Env, "/introspect", formOf("token", tok["access_token"].(string)), append(spoofing, basic("svc", secret))...)
	if iss := r.JSON(t)["iss"]; iss != f.URL {
		t.Errorf("introspection iss = %v, want %s", iss, f.URL)
	}
}

// proxyFixture limits password failures per IP only.
func proxyFixture(t *testing.T, trusted []netip.Prefix) guessingFixture {
	f := newFixture(t, func(c *server.Config) {
		c.Limits.PerUsername, c.Limits.PerClient, c.Limits.PerIP = 1000, 1000, 3
		c.Limits.BaseDelay = time.Minute
		c.TrustedProxies = trusted
	})
	secret := f.AddClient(t, store.Client{ID: "app", GrantTypes: []string{"password"}, Scopes: []string{"read"}})
	f.AddUser(t, "alice", "wonderland", nil)
	return guessingFixture{fixture: f, secret: secret}
}

// TestA21ForwardedForDoesNotBypassLimits: without trusted proxies the
// peer address is what counts, so rotating X-Forwarded-For values does not
// escape the per-IP limit (S131, A21).
func TestA21ForwardedForDoesNotBypassLimits(t *testing.T) {
	f := proxyFixture(t, nil)
	for _, ip := range []string{"198.51.100.1", "198.51.100.2", "198.51.100.3"} {
		wantOAuthError(t, f.password(t, "nobody-"+ip, "x", header("X-Forwarded-For", ip)), http.StatusBadRequest, "invalid_grant")
	}
	wantThrottled(t, f.password(t, "alice", "wonderland", header("X-Forwarded-For", "198.51.100.4")), "invalid_grant")
	if !strings.Contains(f.Logs.String(), `"ip":"127.0.0.1"`) {
		t.Error("audit records do not name the real peer 127.0.0.1")
	}
}

// TestA21TrustedProxyIsHonoured: with trusted_proxies [127.0.0.1/32] the
// nearest untrusted X-Forwarded-For address counts, so one client's
// guesses throttle that client only, and a client cannot escape its
// counter by prepending addresses (S131, A21).
func TestA21TrustedProxyIsHonoured(t *testing.T) {
	f := proxyFixture(t, []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")})
	attacker := header("X-Forwarded-For", "203.0.113.7")
	for range 3 {
		wantOAuthError(t, f.password(t, "nobody", "x", attacker), http.StatusBadRequest, "invalid_grant")
	}
	wantThrottled(t, f.password(t, "alice", "wonderland", attacker), "invalid_grant")
	wantThrottled(t, f.password(t, "alice", "wonderland", header("X-Forwarded-For", "198.51.100.9, 203.0.113.7")), "invalid_grant")
	wantToken(t, f.password(t, "alice", "wonderland", header("X-Forwarded-For", "203.0.113.8")))
	if !strings.Contains(f.Logs.String(), `"ip":"203.0.113.7"`) {
		t.Error("audit records do not name the forwarded client address")
	}
}
