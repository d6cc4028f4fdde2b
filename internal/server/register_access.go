package server

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"

	"github.com/latchkey/latchkey/internal/protocol"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/token"
)

// allowRegistration decides whether a registration request may proceed
// (RFC 7591 §3, S196): an initial access token, from the configuration
// file or minted by the CLI (one use spent); or, when registration is
// open, none, within the per-IP limit. A token that is sent must be good
// even when registration is open.
func (s *Server) allowRegistration(r *http.Request) error {
	raw, err := bearerToken(r)
	switch {
	case err != nil:
		return err
	case raw != "":
		return s.spendInitialToken(r, raw)
	case !s.cfg.Registration.Open:
		// No error code in the challenge when no token was sent (RFC 6750
		// §3.1); the body says what to do.
		return &protocol.Error{Code: protocol.ErrInvalidToken, Challenge: `Bearer realm="latchkey"`,
			Description: "registration needs an initial access token in Authorization: Bearer (create one with: latchkey registration token create)"}
	}
	return s.limitAnonymousRegistration(r)
}

// spendInitialToken accepts a token of the configuration file, compared
// in constant time with every configured digest, or spends one use of a
// minted one. Unknown, expired and used-up tokens look alike.
func (s *Server) spendInitialToken(r *http.Request, raw string) error {
	digest := token.HashSecret(raw)
	match := 0
	for _, d := range s.cfg.Registration.InitialTokenDigests {
		match |= subtle.ConstantTimeCompare([]byte(digest), []byte(d))
	}
	if match == 1 {
		return nil
	}
	switch err := s.st.UseInitialToken(r.Context(), digest, s.now()); {
	case errors.Is(err, store.ErrNotFound):
		return bearerError(protocol.ErrInvalidToken, "the initial access token is unknown, expired or used up")
	case err != nil:
		return fmt.Errorf("use initial access token: %w", err)
	}
	return nil
}

// limitAnonymousRegistration counts every anonymous registration attempt
// against the client's IP in the shared throttle store, so every instance
// agrees; past Registration.PerIP within Window the answer is 429 with
// Retry-After until the window has passed since the last attempt.
func (s *Server) limitAnonymousRegistration(r *http.Request) error {
	cfg := s.cfg.Registration
	now := s.now()
	key := boundedKey("register:ip:" + s.clientIP(r).String())
	th, err := s.st.AddFailure(r.Context(), key, now, cfg.Window)
	if err != nil {
		return fmt.Errorf("count registration: %w", err)
	}
	if th.Failures > cfg.PerIP {
		return &protocol.Error{Code: protocol.ErrInvalidRequest, Status: http.StatusTooManyRequests,
			Description: "too many registrations from this address; retry later", RetryAfter: th.ExpiresAt.Sub(now)}
	}
	return nil
}
