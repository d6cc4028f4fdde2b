package bearer

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"time"

	"github.com/latchkey/latchkey/dpop"
)

// ValidateDPoP checks a DPoP-bound access token outside the middleware
// (RFC 9449 §7, S167): the token as Validate does, then proofs (every
// value of the request's DPoP header) against method and url, the URL the
// request was sent to as its client knows it (see Config.PublicURL), with
// the token's hash in ath, and the proof's key against the token's
// cnf.jkt. The error is an *Error wrapping one of the sentinel errors.
func (v *Validator) ValidateDPoP(ctx context.Context, rawToken string, proofs []string, method, url string) (*Claims, error) {
	c, e := v.validateDPoP(ctx, rawToken, proofs, method, url)
	if e != nil {
		return nil, e
	}
	return c, nil
}

// validateDPoP runs every check of RFC 9449 §4.3 and §7.1: the token
// first, so that only holders of a valid token reach the replay cache;
// then the proof; then the binding of one to the other. Every error is
// answered with the DPoP challenge.
func (v *Validator) validateDPoP(ctx context.Context, raw string, proofs []string, method, url string) (*Claims, *Error) {
	c, e := v.validate(ctx, raw)
	if e != nil {
		return nil, asDPoP(e)
	}
	if c.JKT == "" {
		return nil, asDPoP(tokenError(ErrBinding, "the token is not bound to a DPoP key: send it with the Bearer scheme"))
	}
	now := v.cfg.Now()
	check := dpop.Check{Method: method, URL: url, AccessToken: raw, Now: now}
	if ns := v.cfg.DPoP.Nonces; ns != nil {
		check.Nonce = func(n string) bool { return ns.Valid(n, now) }
	}
	p, err := v.proofs.Verify(ctx, proofs, check)
	if err != nil {
		return nil, v.proofError(ctx, err, now)
	}
	if subtle.ConstantTimeCompare([]byte(p.JKT), []byte(c.JKT)) != 1 {
		return nil, asDPoP(tokenError(ErrBinding, "the DPoP proof is signed by another key than the token is bound to"))
	}
	return c, nil
}

// proofError turns a refused proof into its answer: invalid_dpop_proof,
// or use_dpop_nonce with a fresh nonce (S171). A replay cache that cannot
// answer makes the request one to retry.
func (v *Validator) proofError(ctx context.Context, err error, now time.Time) *Error {
	de, ok := errors.AsType[*dpop.Error](err)
	if !ok {
		v.cfg.Logger.WarnContext(ctx, "bearer: DPoP replay cache failed", "err", err)
		return asDPoP(unavailable("the DPoP proof could not be checked", defaultRetryAfter))
	}
	if de.Code == dpop.CodeUseNonce && v.cfg.DPoP.Nonces != nil {
		return &Error{
			Code: CodeUseDPoPNonce, Description: de.Description, Err: ErrDPoPNonce,
			DPoPNonce: v.cfg.DPoP.Nonces.Current(now), dpop: true,
		}
	}
	return &Error{Code: CodeInvalidDPoPProof, Description: de.Description, Err: ErrDPoPProof, dpop: true}
}

// requestURL is the URL a request's proof must be made for: PublicURL and
// the request's path, or, without PublicURL, the URL rebuilt from the
// request (see Config.PublicURL).
func (v *Validator) requestURL(r *http.Request) string {
	if v.cfg.PublicURL != "" {
		return v.cfg.PublicURL + r.URL.EscapedPath()
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + r.URL.EscapedPath()
}
