package loadgen

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/latchkey/latchkey/dpop"
	"github.com/latchkey/latchkey/internal/protocol"
)

// dpopHeader is the canonical form of the DPoP request header.
const dpopHeader = "Dpop"

// newProver gives a worker its own key for its proofs: ES256, the
// algorithm every DPoP server must accept.
func newProver() (*dpop.Prover, error) {
	key, err := dpop.GenerateKey()
	if err != nil {
		return nil, fmt.Errorf("generate a DPoP key: %w", err)
	}
	return dpop.NewProver(key)
}

// useDPoP gives w a key of its own and a DPoP header for its proofs.
func (w *worker) useDPoP() error {
	p, err := newProver()
	if err != nil {
		return err
	}
	w.prover, w.proof = p, []string{""}
	w.header[dpopHeader] = w.proof
	return nil
}

// postToken sends body to the token endpoint. With DPoP the request
// carries a fresh proof, and when the server asks for its nonce
// (use_dpop_nonce with a DPoP-Nonce header, RFC 9449 §8) it is sent once
// more with a proof that carries it; the two count as one request, as a
// client sees them.
func (w *worker) postToken(ctx context.Context, body []byte) (int, error) {
	if w.prover == nil {
		return w.post(ctx, w.r.tokenURL, body)
	}
	sent := w.nonce
	status, err := w.postProof(ctx, body)
	if err != nil || !w.askedForNonce(status, sent) {
		return status, err
	}
	w.nonceRetries++
	return w.postProof(ctx, body)
}

// postProof is one token request with a new proof; a DPoP-Nonce in the
// answer is kept for the next proofs (post does that).
func (w *worker) postProof(ctx context.Context, body []byte) (int, error) {
	proof, err := w.prover.Proof(http.MethodPost, w.r.tokenEndpoint, "", w.nonce)
	if err != nil {
		return 0, err
	}
	w.proof[0] = proof
	return w.post(ctx, w.r.tokenURL, body)
}

// askedForNonce reports whether the answer in w.buf, of status, refused
// a proof for want of a nonce and gave one other than sent.
func (w *worker) askedForNonce(status int, sent string) bool {
	return (status == http.StatusBadRequest || status == http.StatusUnauthorized) &&
		w.nonce != "" && w.nonce != sent && bytes.Contains(w.buf.Bytes(), []byte(`"`+protocol.ErrUseDPoPNonce+`"`))
}

// keepNonce remembers the server's latest nonce (RFC 9449 §8.2: the
// server may send a new one with any answer).
func (w *worker) keepNonce(h http.Header) {
	if n := h.Get("DPoP-Nonce"); n != "" {
		w.nonce = n
	}
}

// judge is tokenOutcome, and with DPoP a success must be DPoP-bound: a
// server that answers Bearer to a request with a proof did not do the
// work being measured (RFC 9449 §5).
func (w *worker) judge(status int, jsonErr error, hasToken bool, tokenType, code string) outcome {
	o := tokenOutcome(status, jsonErr, hasToken, code)
	if o.ok && w.prover != nil && !strings.EqualFold(tokenType, protocol.TokenTypeDPoP) {
		if tokenType == "" {
			tokenType = "none"
		}
		return failure(status, "not DPoP-bound: token_type "+tokenType)
	}
	return o
}
