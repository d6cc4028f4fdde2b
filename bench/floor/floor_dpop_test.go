package main

import (
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/latchkey/latchkey/dpop"
)

func newDPoPFloor(t testing.TB) (*floor, *httptest.Server) {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	f, err := newFloor(config{Issuer: "http://" + ts.Listener.Addr().String(), ClientID: "bench",
		ClientSecret: secret, Scopes: []string{"read", "write"}, DPoP: true, ReplayCacheSize: 1 << 20}, rand.Reader, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler = f.routes()
	ts.Start()
	t.Cleanup(ts.Close)
	return f, ts
}

func newProver(t testing.TB) *dpop.Prover {
	t.Helper()
	key, err := dpop.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	p, err := dpop.NewProver(key)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mustProof(t testing.TB, p *dpop.Prover, method, u string) string {
	t.Helper()
	proof, err := p.Proof(method, u, "", "")
	if err != nil {
		t.Fatal(err)
	}
	return proof
}

// postProof is a client credentials request with proof ("" for none).
func postProof(t *testing.T, ts *httptest.Server, proof string) (*http.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/token", strings.NewReader("grant_type=client_credentials&scope=read"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("bench", url.QueryEscape(secret))
	if proof != "" {
		req.Header.Set("DPoP", proof)
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("%d, body is not JSON: %v", resp.StatusCode, err)
	}
	return resp, body
}

// TestDPoPToken: a valid proof gets a DPoP token bound to its key (RFC
// 9449 §5, §6.1), which introspection describes as such (§6.2).
func TestDPoPToken(t *testing.T) {
	f, ts := newDPoPFloor(t)
	p := newProver(t)
	resp, body := postProof(t, ts, mustProof(t, p, http.MethodPost, ts.URL+"/token"))
	if resp.StatusCode != http.StatusOK || body["token_type"] != "DPoP" {
		t.Fatalf("got %d %v, want 200 and token_type DPoP (RFC 9449 §5)", resp.StatusCode, body)
	}
	access, _ := body["access_token"].(string)
	parsed, err := jwt.ParseSigned(access, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	var c accessClaims
	if err := parsed.Claims(f.pub, &c); err != nil {
		t.Fatal(err)
	}
	if c.Cnf == nil || c.Cnf.JKT != p.Thumbprint() {
		t.Errorf("cnf %+v, want jkt %s (RFC 9449 §6.1)", c.Cnf, p.Thumbprint())
	}
	_, in := post(t, ts, "/introspect", true, url.Values{"token": {access}})
	if in["token_type"] != "DPoP" || in["cnf"].(map[string]any)["jkt"] != p.Thumbprint() {
		t.Errorf("introspection %v, want token_type DPoP and the cnf (RFC 9449 §6.2)", in)
	}
	var md map[string]any
	r, err := ts.Client().Get(ts.URL + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	json.NewDecoder(r.Body).Decode(&md)
	if algs, _ := md["dpop_signing_alg_values_supported"].([]any); len(algs) != 1 || algs[0] != "ES256" {
		t.Errorf("dpop_signing_alg_values_supported %v, want [ES256] (RFC 9449 §5.1)", md["dpop_signing_alg_values_supported"])
	}
}

// TestDPoPRefused: with --dpop every token request must carry one good
// proof, used once (RFC 9449 §4.3, §11.1).
func TestDPoPRefused(t *testing.T) {
	_, ts := newDPoPFloor(t)
	p := newProver(t)
	replayed := mustProof(t, p, http.MethodPost, ts.URL+"/token")
	if resp, body := postProof(t, ts, replayed); resp.StatusCode != http.StatusOK {
		t.Fatalf("first use: %d %v", resp.StatusCode, body)
	}
	for _, tc := range []struct{ name, rule, proof string }{
		{"no proof", "RFC 9449 §5", ""},
		{"replayed", "RFC 9449 §11.1 jti once", replayed},
		{"another URL", "RFC 9449 §4.3 htu", mustProof(t, p, http.MethodPost, ts.URL+"/introspect")},
		{"another method", "RFC 9449 §4.3 htm", mustProof(t, p, http.MethodGet, ts.URL+"/token")},
		{"not a JWS", "RFC 9449 §4.3", "not.a.proof"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := postProof(t, ts, tc.proof)
			if resp.StatusCode != http.StatusBadRequest || body["error"] != "invalid_dpop_proof" {
				t.Errorf("%s: got %d %v, want 400 invalid_dpop_proof", tc.rule, resp.StatusCode, body)
			}
		})
	}
}

// BenchmarkTokenDPoP is BenchmarkToken with a fresh ES256 proof per
// request, made with the timer stopped: the floor's own work only.
func BenchmarkTokenDPoP(b *testing.B) {
	f, ts := newDPoPFloor(b)
	h := f.routes()
	p := newProver(b)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		proof := mustProof(b, p, http.MethodPost, ts.URL+"/token")
		b.StartTimer()
		req := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader("grant_type=client_credentials"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("DPoP", proof)
		req.SetBasicAuth("bench", url.QueryEscape(secret))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"token_type":"DPoP"`) {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
}
