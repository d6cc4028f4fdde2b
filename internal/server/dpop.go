package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey/dpop"
	"github.com/latchkey/latchkey/internal/protocol"
	"github.com/latchkey/latchkey/internal/store"
)

// proofs checks DPoP proofs (RFC 9449) for every endpoint that takes them.
type proofs struct {
	verifier *dpop.Verifier
	nonces   *dpop.NonceSource
}

// newProofs builds the verifier from the configuration. Its replay cache
// is the store, so a proof accepted by one instance is refused by every
// other (S174); its nonces derive from the system secret and the time, so
// every instance accepts every other's without storing them (S170).
func newProofs(cfg DPoPConfig, st store.ReplayStore, now func() time.Time, secret []byte) *proofs {
	algs := make([]jose.SignatureAlgorithm, len(cfg.Algs))
	for i, a := range cfg.Algs {
		algs[i] = jose.SignatureAlgorithm(a)
	}
	return &proofs{
		verifier: &dpop.Verifier{Algs: algs, Window: cfg.ProofWindow, Replay: storeReplay{st, "dpop:", now}},
		nonces:   &dpop.NonceSource{Key: deriveKey(secret, "latchkey dpop nonce v1"), Step: cfg.NonceLifetime},
	}
}

// storeReplay is a replay cache (DPoP proofs, client assertions) kept in
// the store, shared by every instance.
type storeReplay struct {
	st     store.ReplayStore
	prefix string
	now    func() time.Time
}

func (r storeReplay) UseOnce(ctx context.Context, key string, exp time.Time) (bool, error) {
	return r.st.UseOnce(ctx, r.prefix+key, exp, r.now())
}

// needsNonce reports whether c's proofs must carry a server nonce.
func (s *Server) needsNonce(c store.Client) bool {
	return s.cfg.DPoP.RequireNonce || c.RequireDPoPNonce
}

// proofAt verifies the DPoP proof of a request to the endpoint at path,
// made by client c, and returns the thumbprint of its key, or "" when the
// request carries none. accessToken, when set, must be hashed into the
// proof's ath. A bad proof is invalid_dpop_proof (S161, S163); a missing
// or stale nonce where one is needed is use_dpop_nonce with a fresh one
// (S170, S175).
func (s *Server) proofAt(r *http.Request, c store.Client, path, accessToken string) (string, error) {
	headers := r.Header.Values("DPoP")
	if len(headers) == 0 {
		return "", nil
	}
	now := s.now()
	check := dpop.Check{Method: r.Method, URL: s.endpoint(path), AccessToken: accessToken, Now: now}
	if s.needsNonce(c) {
		check.Nonce = func(n string) bool { return s.proofs.nonces.Valid(n, now) }
	}
	p, err := s.proofs.verifier.Verify(r.Context(), headers, check)
	if err != nil {
		var de *dpop.Error
		if !errors.As(err, &de) {
			return "", fmt.Errorf("dpop: verify proof: %w", err)
		}
		e := &protocol.Error{Code: de.Code, Description: de.Description}
		if de.Code == dpop.CodeUseNonce {
			e.DPoPNonce = s.proofs.nonces.Current(now)
		}
		return "", e
	}
	return p.JKT, nil
}

// tokenProof is the DPoP step of the token endpoint (RFC 9449 §5): a valid
// proof binds what is issued to its key; a client registered with
// dpop_bound_access_tokens (or under fapi2) must send one (S165). Where
// nonces are in use, every answer carries the current one, so clients
// move to the next before theirs expires.
func (s *Server) tokenProof(w http.ResponseWriter, r *http.Request, c store.Client) (string, error) {
	jkt, err := s.proofAt(r, c, "/token", "")
	if err != nil {
		return "", err
	}
	if jkt == "" && requiresDPoP(c) {
		e := protocol.Errorf(protocol.ErrInvalidDPoPProof, "this client must send a DPoP proof")
		if s.needsNonce(c) {
			e.DPoPNonce = s.proofs.nonces.Current(s.now())
		}
		return "", e
	}
	if jkt != "" && s.needsNonce(c) {
		w.Header().Set("DPoP-Nonce", s.proofs.nonces.Current(s.now()))
	}
	return jkt, nil
}

// requiresDPoP reports whether c's tokens must all be DPoP-bound: it
// registered dpop_bound_access_tokens, or its profile is fapi2.
func requiresDPoP(c store.Client) bool {
	return c.DPoPBoundAccessTokens || c.Profile == protocol.ProfileFAPI2
}
