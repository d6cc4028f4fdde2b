package dpop_test

import (
	"context"
	"errors"
	"testing"

	"github.com/latchkey/latchkey/dpop"
)

// FuzzVerify feeds arbitrary proofs and endpoint URLs to Verify: it must
// never panic, must refuse with a *dpop.Error, and may accept only a proof
// made for the URL it is checked against. The seed corpus in
// testdata/fuzz/FuzzVerify holds valid proofs of each algorithm made at
// t0, and near misses.
func FuzzVerify(f *testing.F) {
	f.Add("", endpoint)
	f.Add("a.b.c", endpoint)
	f.Add("eyJhbGciOiJub25lIn0.e30.", endpoint)
	f.Fuzz(func(t *testing.T, proof, url string) {
		v := dpop.Verifier{Replay: dpop.NewMemoryReplayCache(4)}
		p, err := v.Verify(context.Background(), []string{proof}, check(func(c *dpop.Check) { c.URL = url }))
		if err != nil {
			var de *dpop.Error
			if !errors.As(err, &de) {
				t.Fatalf("error %T %v", err, err)
			}
			return
		}
		want, err := dpop.NormalizeURL(url)
		if err != nil || p.HTU != want || p.JKT == "" || p.JTI == "" {
			t.Fatalf("accepted %q for %q: %+v", proof, url, p)
		}
	})
}

// FuzzNormalizeURL checks that NormalizeURL never panics and that its
// output is a fixed point: normalizing twice changes nothing.
func FuzzNormalizeURL(f *testing.F) {
	for _, s := range []string{endpoint, "HTTPS://A:443/%7e/../b?q#f", "http://[::1]:80/a/./b/", "https://x/%2f%41"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		n, err := dpop.NormalizeURL(raw)
		if err != nil {
			return
		}
		again, err := dpop.NormalizeURL(n)
		if err != nil || again != n {
			t.Fatalf("NormalizeURL(%q) = %q, then %q, %v", raw, n, again, err)
		}
	})
}
