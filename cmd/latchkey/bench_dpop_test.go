package main

// latchkey bench --dpop against a Latchkey started with testenv: every
// token request carries a proof, every success is DPoP-bound, a public
// client's bound refresh token is refreshed with proofs of the same key,
// and a server nonce is taken and used.

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/store"
)

// dpopSummary is the part of the --json summary a DPoP run adds.
type dpopSummary struct {
	benchSummary
	DPoP         bool  `json:"dpop"`
	DPoPBound    int64 `json:"dpop_bound"`
	NonceRetries int64 `json:"nonce_retries"`
}

func TestBenchDPoP(t *testing.T) {
	t.Parallel()
	be := newBenchEnv(t)
	// A public client's refresh tokens are bound to the proof's key (RFC 9449 §5).
	be.AddClient(t, store.Client{ID: "pub", Public: true, GrantTypes: []string{"authorization_code", "refresh_token"},
		RedirectURIs: []string{benchRedirect}, Scopes: []string{"openid", "read"}})
	nonceSecret := be.AddClient(t, store.Client{ID: "nonce", GrantTypes: []string{"client_credentials"},
		Scopes: []string{"read"}, RequireDPoPNonce: true})
	pub := be.vars("web")
	pub["LATCHKEY_CLIENT_ID"], pub["LATCHKEY_CLIENT_SECRET"] = "pub", ""
	nonce := be.vars("svc")
	nonce["LATCHKEY_CLIENT_ID"], nonce["LATCHKEY_CLIENT_SECRET"] = "nonce", nonceSecret
	short := []string{"--dpop", "--requests", "20", "--warmup", "0", "--concurrency", "3", "--json", "--quiet"}
	for _, tc := range []struct {
		name   string
		vars   map[string]string
		args   []string
		nonces bool // the server asks for its nonce: once per worker
	}{
		{"client-credentials (RFC 9449 §5)", be.vars("svc"), []string{"--grant", "client-credentials"}, false},
		{"password", be.vars("app"), []string{"--grant", "password"}, false},
		{"refresh of a confidential client", be.vars("app"), []string{"--grant", "refresh"}, false},
		{"refresh bound to the worker's key (public client, §5 S164)", pub, []string{"--grant", "refresh", "--redirect-uri", benchRedirect}, false},
		{"authorization-code, the exchange with a proof", be.vars("web"), []string{"--grant", "authorization-code", "--redirect-uri", benchRedirect}, false},
		{"a server nonce, retried once (§8)", nonce, []string{"--grant", "client-credentials"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := runCLI(t, tc.vars, "", append(append([]string{"bench"}, tc.args...), short...)...)
			var s dpopSummary
			decodeInto(t, r, &s)
			if r.err != nil || s.OK != 20 || s.Failures != 0 {
				t.Fatalf("exit %d (%v): %d ok, %d failures %+v; want 20 DPoP-bound successes\nstderr:\n%s", exitStatus(r.err), r.err, s.OK, s.Failures, s.Errors, r.stderr)
			}
			if !s.DPoP || s.DPoPBound != 20 {
				t.Errorf("dpop %v, dpop_bound %d; want true and 20", s.DPoP, s.DPoPBound)
			}
			// Each worker learns the nonce from its first refusal; a run without one retries nothing.
			if tc.nonces && (s.NonceRetries < 1 || s.NonceRetries > 3) || !tc.nonces && s.NonceRetries != 0 {
				t.Errorf("%d nonce retries", s.NonceRetries)
			}
		})
	}
	t.Run("text summary", func(t *testing.T) {
		t.Parallel()
		out := mustRun(t, be.vars("svc"), "", "bench", "--dpop", "--requests", "10", "--warmup", "0", "--concurrency", "2")
		if !strings.Contains(out, "  dpop       every success DPoP-bound (token_type DPoP); ES256 proofs, a key per worker\n") {
			t.Errorf("the summary does not say the tokens were DPoP-bound:\n%s", out)
		}
	})
	t.Run("not for introspect", func(t *testing.T) {
		t.Parallel()
		r := runCLI(t, be.vars("svc"), "", "bench", "--grant", "introspect", "--dpop")
		if exitStatus(r.err) != 2 || !strings.Contains(r.err.Error(), "--dpop is for token requests") {
			t.Errorf("exit %d (%v), want 2 and a usage error", exitStatus(r.err), r.err)
		}
	})
}

// decodeInto decodes the JSON summary of a bench run into v.
func decodeInto(t *testing.T, r cliResult, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
		t.Fatalf("stdout is not the JSON summary (%v; exit %v):\n%s\nstderr:\n%s", err, r.err, r.stdout, r.stderr)
	}
}
