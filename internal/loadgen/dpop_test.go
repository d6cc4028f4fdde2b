package loadgen

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/latchkey/latchkey/dpop"
)

// dpopServer is a token endpoint that verifies the proofs it gets with
// dpop.Verifier and answers with tokenType; it records the key of every
// proof.
type dpopServer struct {
	*httptest.Server
	tokenType string
	verifier  dpop.Verifier
	mu        sync.Mutex
	keys      map[string]int // proofs per key thumbprint
	bad       []string
}

func newDPoPServer(t *testing.T, tokenType string) *dpopServer {
	s := &dpopServer{tokenType: tokenType, keys: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", func(w http.ResponseWriter, _ *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{"issuer": s.URL, "token_endpoint": s.URL + "/token"})
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		p, err := s.verifier.Verify(r.Context(), r.Header.Values("DPoP"), dpop.Check{Method: r.Method, URL: s.URL + "/token"})
		s.mu.Lock()
		if err != nil {
			s.bad = append(s.bad, err.Error())
		} else {
			s.keys[p.JKT]++
		}
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"access_token": "at", "token_type": s.tokenType, "expires_in": 60})
	})
	s.Server = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

// Every request carries a fresh proof (a replayed one would fail the
// verifier's replay cache) of its worker's own key.
func TestBenchDPoPProofPerRequestKeyPerWorker(t *testing.T) {
	t.Parallel()
	s := newDPoPServer(t, "DPoP")
	res, err := Run(t.Context(), Config{Issuer: s.URL, ClientID: "c", ClientSecret: "s", DPoP: true, Concurrency: 4, Requests: 200})
	if err != nil {
		t.Fatal(err)
	}
	if res.OK != 200 || res.Failures != 0 || !res.DPoP {
		t.Fatalf("%d ok, %d failures %+v, dpop %v; want 200 DPoP-bound successes", res.OK, res.Failures, res.Errors, res.DPoP)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.bad) > 0 {
		t.Errorf("%d proofs refused (RFC 9449 §4.3), the first: %s", len(s.bad), s.bad[0])
	}
	if len(s.keys) != 4 {
		t.Errorf("proofs of %d keys, want one key per worker (4)", len(s.keys))
	}
}

// A server that answers Bearer to a request with a proof did not bind
// the token (RFC 9449 §5): every such answer is a failure, not a success.
func TestBenchDPoPBearerAnswerIsAFailure(t *testing.T) {
	t.Parallel()
	s := newDPoPServer(t, "Bearer")
	res, err := Run(t.Context(), Config{Issuer: s.URL, ClientID: "c", ClientSecret: "s", DPoP: true, Concurrency: 2, Requests: 30})
	if err != nil {
		t.Fatal(err)
	}
	if res.OK != 0 || res.Failures != 30 || len(res.Errors) != 1 ||
		res.Errors[0].Status != 200 || res.Errors[0].Error != "not DPoP-bound: token_type Bearer" {
		t.Errorf("%d ok, %d failures %+v; want 30 × 200 not DPoP-bound", res.OK, res.Failures, res.Errors)
	}
}
