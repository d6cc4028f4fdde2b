package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestSeveralInstancesOnePostgres starts three instances at once on one
// empty schema and checks that they behave as one server: they migrate
// once, a flow hops between them, tokens from one are refreshed, revoked
// and introspected on the others, the guessing limit is shared, and keys
// staged by the CLI appear everywhere.
func TestSeveralInstancesOnePostgres(t *testing.T) {
	c := startCluster(t, 3, false)
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, *cluster)
	}{
		{"instances starting together migrate the schema once", testMigrateOnce},
		{"an instance with another secrets.system refuses to start", testOtherSecret},
		{"the balancer's URL is the issuer of every instance", testIssuer},
		{"a code flow hops between instances", testCodeFlowHops},
		{"a revocation on one instance is seen by the others", testRevocationEverywhere},
		{"the password guessing limit is shared", testSharedGuessingLimit},
		{"keys staged by latchkey keys rotate appear on every instance", testKeysPropagate},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, c) })
	}
}

func testMigrateOnce(t *testing.T, c *cluster) {
	migrated := 0
	for _, in := range c.ins {
		if strings.Contains(in.logs.String(), `"msg":"applied migration"`) {
			migrated++
		}
	}
	if migrated != 1 {
		t.Errorf("%d of the 3 instances applied migrations to the empty schema, want exactly 1", migrated)
	}
	if out := latchkeyCLI(t, c.cfgPath, "migrate"); !strings.Contains(out, "the schema is up to date") {
		t.Errorf("latchkey migrate after the start printed %q, want \"the schema is up to date\"", out)
	}
}

func testOtherSecret(t *testing.T, c *cluster) {
	data, err := os.ReadFile(c.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "other-secret.yaml")
	if err := os.WriteFile(path, bytes.Replace(data, []byte(systemSecret), []byte(strings.Repeat("x", 40)), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	_, stderr, err := runLatchkey(t, path, "serve")
	if err == nil || !strings.Contains(stderr, "cannot be decrypted with this system secret") {
		t.Errorf("serve with another system secret: %v\n%s\nwant it to exit, saying the keys cannot be decrypted", err, stderr)
	}
}

func testIssuer(t *testing.T, c *cluster) {
	hc := newHTTPClient(nil)
	for range 3 { // round robin: each instance once
		var meta struct {
			Issuer        string `json:"issuer"`
			TokenEndpoint string `json:"token_endpoint"`
		}
		getJSON(t, hc, c.lb.url+"/.well-known/oauth-authorization-server", &meta)
		if meta.Issuer != c.lb.url || meta.TokenEndpoint != c.lb.url+"/token" {
			t.Errorf("metadata through the balancer: issuer %q, token_endpoint %q; want %s", meta.Issuer, meta.TokenEndpoint, c.lb.url)
		}
		r, err := clientCredentials(context.Background(), hc, c.lb.url, svc)
		mustOK(t, "client credentials through the balancer", r, err)
	}
}

// testCodeFlowHops logs in on instance 1, consents on 2, redeems on 3, then
// rotates the refresh token on 1 and 2 and replays the first on 3.
func testCodeFlowHops(t *testing.T, c *cluster) {
	i1, i2, i3 := c.ins[0], c.ins[1], c.ins[2]
	ctx, hc := context.Background(), newHTTPClient(nil)
	b := newBrowser(nil, c.lb.url)
	g, err := b.authorize(ctx, hops{authorize: i1.url, login: i1.url, resume: i2.url, consent: i2.url}, "alice", alicePass)
	if err != nil {
		t.Fatal(err)
	}
	if !requestLogged(i1, "POST", "/login", http.StatusSeeOther) || !requestLogged(i2, "POST", "/consent", http.StatusSeeOther) {
		t.Fatal("instance 1 did not take the login and instance 2 the consent")
	}
	tok, err := redeem(ctx, hc, i3.url, g)
	mustOK(t, "redeem on instance 3", tok, err)
	if tok.RefreshToken == "" || tok.IDToken == "" {
		t.Fatalf("redeem: %s, want a refresh token and an ID token", tok)
	}
	for _, in := range c.ins {
		wantActive(t, in, tok.AccessToken, true)
	}

	// Rotation and reuse detection across instances (RFC 9700 §4.14.2).
	r1, err := refresh(ctx, hc, i1.url, web, tok.RefreshToken)
	mustOK(t, "refresh on instance 1", r1, err)
	r2, err := refresh(ctx, hc, i2.url, web, r1.RefreshToken)
	mustOK(t, "refresh of its successor on instance 2", r2, err)
	if r, err := refresh(ctx, hc, i3.url, web, tok.RefreshToken); err != nil || !r.invalidGrant() {
		t.Errorf("the first refresh token again on instance 3: %v %s, want invalid_grant", err, r)
	}
	if r, err := refresh(ctx, hc, i1.url, web, r2.RefreshToken); err != nil || !r.invalidGrant() {
		t.Errorf("after a reuse, the newest refresh token on instance 1: %v %s, want invalid_grant (family revoked)", err, r)
	}
	wantActive(t, i2, r2.AccessToken, false)
}

func testRevocationEverywhere(t *testing.T, c *cluster) {
	i1, i2, i3 := c.ins[0], c.ins[1], c.ins[2]
	ctx, hc := context.Background(), newHTTPClient(nil)
	tok, err := passwordGrant(ctx, hc, i1.url, app, "alice", alicePass)
	mustOK(t, "password grant on instance 1", tok, err)
	wantActive(t, i2, tok.AccessToken, true)
	wantActive(t, i3, tok.AccessToken, true)
	r, err := revoke(ctx, hc, i3.url, app, tok.AccessToken)
	mustOK(t, "revoke the access token on instance 3", r, err)
	wantActive(t, i3, tok.AccessToken, false) // the revoking instance: at once
	wantInactiveSoon(t, i1, tok.AccessToken)
	wantInactiveSoon(t, i2, tok.AccessToken)

	r, err = revoke(ctx, hc, i2.url, app, tok.RefreshToken)
	mustOK(t, "revoke the refresh token on instance 2", r, err)
	wantActive(t, i3, tok.RefreshToken, false)
	if r, err := refresh(ctx, hc, i1.url, app, tok.RefreshToken); err != nil || !r.invalidGrant() {
		t.Errorf("the revoked refresh token on instance 1: %v %s, want invalid_grant", err, r)
	}
}

// testSharedGuessingLimit fails bob's password three times on instance 1
// (limits.per_username is 3, base_delay 30s in baseConfig): the login page
// on instance 3 and the password grant on 2 and 3 are throttled, even with
// the right password.
func testSharedGuessingLimit(t *testing.T, c *cluster) {
	i1, i2, i3 := c.ins[0], c.ins[1], c.ins[2]
	ctx, hc := context.Background(), newHTTPClient(nil)
	for i := range 3 {
		r, err := passwordGrant(ctx, hc, i1.url, app, "bob", "not-bobs-password")
		if err != nil || !r.invalidGrant() || r.RetryAfter != "" {
			t.Fatalf("wrong password %d on instance 1: %v %s (Retry-After %q), want invalid_grant without Retry-After", i+1, err, r, r.RetryAfter)
		}
	}
	br := newBrowser(nil, c.lb.url)
	resp, page, err := br.do(ctx, http.MethodPost, i3.url+"/login", openLoginPage(t, br, i3.url, "bob", bobPass))
	if err != nil || resp.StatusCode != http.StatusOK || !strings.Contains(page, "Too many failed attempts") {
		t.Errorf("the login page on instance 3 after 3 failures on instance 1: %v %s, want the page again, saying \"Too many failed attempts\"",
			err, statusOf(resp))
	}
	for _, in := range []*instance{i2, i3} {
		r, err := passwordGrant(ctx, hc, in.url, app, "bob", bobPass)
		if err != nil || !r.invalidGrant() {
			t.Fatalf("the right password on %s after 3 failures on instance 1: %v %s, want invalid_grant", in.name, err, r)
		}
		if s, _ := strconv.Atoi(r.RetryAfter); s < 1 || s > 30 {
			t.Errorf("the right password on %s after 3 failures on instance 1: Retry-After %q, want 1 to 30 seconds", in.name, r.RetryAfter)
		}
	}
}

// testKeysPropagate runs latchkey keys rotate and polls every instance's
// /jwks at once: with keys.reload_interval 200ms each must publish the new
// keys (beside the old ones) within 2 seconds.
func testKeysPropagate(t *testing.T, c *cluster) {
	hc := newHTTPClient(nil)
	before := jwksKIDs(t, hc, c.ins[0].url)
	out := latchkeyCLI(t, c.cfgPath, "keys", "rotate")
	start := time.Now()
	var staged []string
	for _, m := range regexp.MustCompile(`staged \S+ key (\S+):`).FindAllStringSubmatch(out, -1) {
		staged = append(staged, m[1])
	}
	if len(staged) == 0 || hasAny(before, staged) {
		t.Fatalf("latchkey keys rotate staged %v, want new kids (published before: %v):\n%s", staged, before, out)
	}
	took := make([]time.Duration, len(c.ins))
	var wg sync.WaitGroup
	for i, in := range c.ins {
		wg.Go(func() {
			for time.Since(start) < 2*time.Second {
				if kids, err := fetchKIDs(hc, in.url); err == nil && hasAll(kids, staged) && hasAll(kids, before) {
					took[i] = time.Since(start)
					return
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	for i, in := range c.ins {
		if took[i] == 0 {
			t.Errorf("%s's /jwks lacks the new keys 2 s after latchkey keys rotate (keys.reload_interval 200ms)", in.name)
			continue
		}
		t.Logf("%s publishes the %d new keys %s after latchkey keys rotate returned", in.name, len(staged), took[i].Round(time.Millisecond))
	}
}

// jwksKIDs returns the kids base publishes, or fails the test.
func jwksKIDs(t *testing.T, hc *http.Client, base string) []string {
	t.Helper()
	kids, err := fetchKIDs(hc, base)
	if err != nil {
		t.Fatal(err)
	}
	return kids
}

// fetchKIDs returns the kids base publishes.
func fetchKIDs(hc *http.Client, base string) ([]string, error) {
	resp, err := hc.Get(base + "/jwks")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var set struct{ Keys []struct{ KID string } }
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		return nil, err
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.KID)
	}
	return kids, nil
}

// hasAll reports whether kids holds every kid of want.
func hasAll(kids, want []string) bool {
	for _, w := range want {
		if !slices.Contains(kids, w) {
			return false
		}
	}
	return true
}

// hasAny reports whether kids holds a kid of want.
func hasAny(kids, want []string) bool {
	return slices.ContainsFunc(want, func(w string) bool { return slices.Contains(kids, w) })
}
