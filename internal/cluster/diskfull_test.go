package cluster

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/bearer"
)

// TestSQLiteDiskFull runs one instance under load on a SQLite database in
// a small tmpfs, then fills the filesystem. Requests that need a write
// (a grant with a refresh row, a refresh rotation, a code redemption, a
// revocation, an opaque token) answer 503 temporarily_unavailable with
// Retry-After (S074), never a 500; reads go on (JWKS, discovery,
// introspection of a JWT, userinfo, a resource server checking a JWT
// offline with package bearer). Once space returns the instance serves
// again by itself, the file passes PRAGMA integrity_check, and every
// refresh token the clients received, before the fill or while it
// lasted, refreshes exactly once.
func TestSQLiteDiskFull(t *testing.T) {
	dir := mountTmpfs(t, 16<<20)
	storage := "sqlite://" + filepath.Join(dir, "latchkey.db")
	in := startInstance(t, "latchkey", writeConfig(t, singleConfig(t, storage)))
	ctx := context.Background()
	hc := newHTTPClient(nil)

	// 1. Before the fill: what the clients hold, and load that retries a 503.
	held, codes := holdTokens(t, in.url, 8, 6)
	openid, err := redeem(ctx, hc, in.url, codes[0]) // its access token has scope openid, for userinfo
	mustOK(t, "redeem", openid, err)
	rt := newRetrier(time.Minute, 10*time.Second)
	l := newLoadVia(loadMix{clientCreds: 1, opaque: 1, passwords: 2, codes: 1, refreshes: 5}, in.url, in.url, rt)
	loadCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	wait := l.run(loadCtx)
	time.Sleep(2 * time.Second)

	// 2. The filesystem fills up.
	filler := filepath.Join(dir, "filler")
	wrote := fillDisk(t, filler)
	filled := time.Now()
	probe := held[0]
	for {
		r, err := refresh(ctx, hc, in.url, app, probe.RefreshToken)
		if err == nil && r.ok() {
			probe = r // SQLite still had room: the WAL or free pages
		} else if err == nil && r.is(http.StatusServiceUnavailable, "temporarily_unavailable") {
			break
		} else {
			t.Fatalf("a refresh on a full disk: %v %s, want 200 while SQLite has room and then 503 temporarily_unavailable", err, r)
		}
		if time.Since(filled) > 20*time.Second {
			t.Fatalf("refreshes still succeed 20 s after the filesystem filled up (filler of %d bytes)", wrote)
		}
		time.Sleep(20 * time.Millisecond)
	}
	held[0] = probe
	t.Logf("filler of %d MiB wrote; writes refused %s later", wrote>>20, time.Since(filled).Round(time.Millisecond))

	// 3. Writes refused with 503, reads served. SQLite may still find
	// room now and then (a WAL restarted after a checkpoint reuses its
	// file), so a write may also succeed, for real: each kind of write is
	// sent until it has been refused once, and what succeeded is checked
	// once space returns.
	rs, err := bearer.New(ctx, bearer.Config{Issuer: in.url, Audience: in.url})
	if err != nil {
		t.Fatalf("a resource server's validator, set up on a full disk (discovery and JWKS): %v", err)
	}
	defer rs.Close()
	var revoked []string     // refresh tokens revoked on the full disk
	var issued []tokenResult // password grants on the full disk
	var redeemedCodes []codeGrant
	// held[0] is the probe, held[1] rotated, held[2:7] revoked in turn;
	// held[7]'s access token is the JWT the reads check.
	nextCode, nextRevoke := 1, 2
	jwt := held[len(held)-1].AccessToken
	writes := []struct {
		what string
		send func() (tokenResult, error)
		done func(tokenResult) // after a 200
	}{
		{"password grant (a grant and a refresh row)",
			func() (tokenResult, error) { return passwordGrant(ctx, hc, in.url, app, "alice", alicePass) },
			func(r tokenResult) { issued = append(issued, r) }},
		{"refresh rotation",
			func() (tokenResult, error) { return refresh(ctx, hc, in.url, app, held[1].RefreshToken) },
			func(r tokenResult) { held[1] = r }},
		{"code redemption",
			func() (tokenResult, error) { return redeem(ctx, hc, in.url, codes[nextCode]) },
			func(tokenResult) { redeemedCodes = append(redeemedCodes, codes[nextCode]); nextCode++ }},
		{"revocation of a refresh token",
			func() (tokenResult, error) { return revoke(ctx, hc, in.url, app, held[nextRevoke].RefreshToken) },
			func(tokenResult) { revoked = append(revoked, held[nextRevoke].RefreshToken); nextRevoke++ }},
		{"client credentials with an opaque token (a row)",
			func() (tokenResult, error) { return clientCredentials(ctx, hc, in.url, opaque) },
			func(tokenResult) {}},
	}
	refused := map[string]int{}
	succeeded := map[string]int{}
	for round := 0; len(refused) < len(writes); round++ {
		if round == 50 {
			t.Fatalf("after 50 rounds on a full disk, some kinds of write were never refused: refused %v, succeeded %v", refused, succeeded)
		}
		for _, wr := range writes {
			if refused[wr.what] > 0 {
				continue
			}
			if nextCode == len(codes) || nextRevoke == len(held)-1 {
				t.Fatalf("on a full disk, writes keep succeeding: refused %v, succeeded %v", refused, succeeded)
			}
			r, err := wr.send()
			switch {
			case err == nil && r.ok():
				succeeded[wr.what]++
				wr.done(r)
			case err == nil && r.is(http.StatusServiceUnavailable, "temporarily_unavailable") && r.RetryAfter != "":
				refused[wr.what]++
			default:
				t.Fatalf("%s on a full disk: %v %s (Retry-After %q), want 503 temporarily_unavailable with Retry-After (or 200)",
					wr.what, err, r, r.RetryAfter)
			}
		}
		checkReadsOnFullDisk(t, in, rs, jwt, openid.AccessToken)
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("on the full disk: writes refused %v, succeeded all the same %v", refused, succeeded)
	time.Sleep(2 * time.Second) // the load meets the full disk a while longer
	checkReadsOnFullDisk(t, in, rs, jwt, openid.AccessToken)
	fullFor := time.Since(filled)

	// 4. Space returns: service resumes by itself.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	freed := time.Now()
	refreshWhenBack(t, in.url, &held[0], "once space returned")
	t.Logf("the disk was full for %s; writes succeed again %s after the filler was removed",
		fullFor.Round(time.Millisecond), time.Since(freed).Round(time.Millisecond))
	time.Sleep(time.Second) // the load carries on
	l.stop()
	waitOrFail(t, wait, 70*time.Second, "the load goroutines did not stop")
	for _, p := range l.problems {
		t.Errorf("load: %s", p)
	}
	for _, p := range rt.problems() {
		t.Errorf("the server answered the load: %s", p)
	}
	t.Logf("load: %d requests, %d attempts answered 503 and sent again; %d refresh chains, %d grants",
		l.tr.started.Load(), rt.unavailable.Load(), len(l.chains), l.made.grants.Load())
	if rt.unavailable.Load() == 0 {
		t.Error("no request of the load was answered 503 while the disk was full")
	}

	// 5. Nothing lost, nothing used twice: every refresh token the clients
	// received still refreshes exactly once, the codes refused during the
	// fill redeem once, and the file is sound.
	kept := slices.DeleteFunc(slices.Clone(held), func(h tokenResult) bool { return slices.Contains(revoked, h.RefreshToken) })
	checkChains(t, in.url, append(heldChains(append(issued, kept...)), l.chains...), time.Time{})
	for _, rt := range revoked {
		if r, err := refresh(ctx, hc, in.url, app, rt); err != nil || !r.invalidGrant() {
			t.Errorf("a refresh token whose revocation succeeded on the full disk: %v %s, want invalid_grant", err, r)
		}
	}
	recs := []*codeRec{{grant: codes[0], redeemed: true}}
	for _, g := range codes[1:] {
		recs = append(recs, &codeRec{grant: g, redeemed: slices.Contains(redeemedCodes, g)})
	}
	checkCodes(t, in.url, append(recs, l.codes...), time.Time{})
	if bad := serverErrors(in); len(bad) > 0 {
		t.Errorf("requests answered with a server error other than 503:\n%s", strings.Join(bad, "\n"))
	}
	in.stop(t)
	checkConsistency(t, storage)
}

// checkReadsOnFullDisk checks what must keep working while SQLite cannot
// write: the JWKS, discovery, /readyz (reads are served, and a single
// SQLite instance has no other to hand its traffic to), introspection of
// a JWT, userinfo, client credentials with a JWT (nothing stored), and a
// resource server checking a JWT offline.
func checkReadsOnFullDisk(t *testing.T, in *instance, rs *bearer.Validator, jwt, openidToken string) {
	t.Helper()
	ctx, hc := context.Background(), newHTTPClient(nil)
	for _, path := range []string{"/jwks", "/.well-known/openid-configuration", "/.well-known/oauth-authorization-server", "/healthz", "/readyz"} {
		resp, err := hc.Get(in.url + path)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s on a full disk: %v %s, want 200", path, err, statusOf(resp))
		}
		if resp != nil {
			resp.Body.Close()
		}
	}
	r, err := introspect(ctx, hc, in.url, jwt)
	if err != nil || !r.ok() || !r.Active {
		t.Errorf("introspection of a JWT on a full disk: %v %s, want 200 active", err, r)
	}
	if status, err := userinfo(ctx, hc, in.url, openidToken); err != nil || status != http.StatusOK {
		t.Errorf("userinfo on a full disk: %v %d, want 200", err, status)
	}
	if _, err := rs.Validate(ctx, jwt); err != nil {
		t.Errorf("a resource server checking a JWT offline on a full disk: %v", err)
	}
	r, err = clientCredentials(ctx, hc, in.url, svc)
	if err != nil || !r.ok() {
		t.Errorf("client credentials with a JWT (nothing stored) on a full disk: %v %s, want 200", err, r)
	}
}
