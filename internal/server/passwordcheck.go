package server

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/password"
	"github.com/latchkey/latchkey/internal/protocol"
	"github.com/latchkey/latchkey/internal/store"
)

// badCredentials is the one answer to every failed password check, so the
// response never tells which part was wrong (A11).
func badCredentials() *protocol.Error {
	return protocol.Errorf(protocol.ErrInvalidGrant, "the username or password is incorrect")
}

// throttleKeys are the counters a password attempt is charged to. The
// username is folded to lower case so case variants share one counter.
func (s *Server) throttleKeys(clientID, username, ip string) []limitKey {
	return []limitKey{
		{"pw:user:" + strings.ToLower(username), s.cfg.Limits.PerUsername},
		{"pw:client:" + clientID, s.cfg.Limits.PerClient},
		{"pw:ip:" + ip, s.cfg.Limits.PerIP},
	}
}

// checkUserPassword checks a username and password under the shared
// guessing limits; the login page uses it too. Every failure, including a
// throttled attempt, is the same invalid_grant; a throttled attempt is not
// checked at all, so a right password cannot get through early.
//
// The limit check, the hash and the recording of a failure happen inside
// one slot of the hash gate, so concurrent guesses see each other's
// failures: at most one attempt per slot can pass a limit at the same
// moment, however many arrive at once (S025).
func (s *Server) checkUserPassword(r *http.Request, clientID, username, pw string) (store.User, error) {
	ctx := r.Context()
	ip := s.clientIP(r).String()
	keys := s.throttleKeys(clientID, username, ip)
	var user store.User
	var live []string
	var verdict error // a refusal for the client; err below is a failure of the server
	err := s.hashes.do(ctx, func() error {
		now := s.now()
		wait, l, err := s.guard.wait(ctx, s.st, keys, now)
		if err != nil {
			return err
		}
		if wait > 0 {
			s.log.WarnContext(ctx, "password attempt throttled", "client_id", clientID, "username", username, "ip", ip)
			s.recordSignin(r, clientID, username, "", audit.ReasonLimited)
			e := badCredentials()
			e.RetryAfter = wait
			verdict = e
			return nil
		}
		live = l
		u, err := s.st.GetUserByUsername(ctx, username)
		found := err == nil && !u.Disabled() // a disabled user is refused as a wrong password, at the same cost
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("look up user: %w", err)
		}
		hash := s.dummy
		if found {
			hash = u.PasswordHash
		}
		ok, err := password.Check(pw, hash)
		if err != nil {
			s.log.ErrorContext(ctx, "stored password hash is unusable", "user_id", u.ID, "err", err)
		}
		if !found || !ok {
			if err := s.countFailure(ctx, r, s.st, keys, now, clientID); err != nil {
				return err
			}
			s.log.WarnContext(ctx, "password check failed", "client_id", clientID, "username", username, "ip", ip)
			reason := audit.ReasonWrongPassword
			if !found {
				reason = audit.ReasonUnknownUser
			}
			s.recordSignin(r, clientID, username, u.ID, reason)
			verdict = badCredentials()
			return nil
		}
		user = u
		return nil
	})
	if err != nil {
		return store.User{}, err
	}
	if verdict != nil {
		return store.User{}, verdict
	}
	// A success forgets the username's failures; most logins have none,
	// and then nothing is written. Not for a user with a second factor:
	// the password is only half of their sign-in, and its counter is the
	// one their codes are limited by, so knowing the password must not
	// reset the budget for guessing codes (the code's success clears it).
	if slices.Contains(live, keys[0].key) {
		factors, err := s.confirmedFactors(r, user.ID)
		if err != nil {
			return store.User{}, err
		}
		if len(factors) > 0 {
			s.recordSignin(r, clientID, username, user.ID, "")
			return user, nil
		}
		if err := s.guard.clear(ctx, s.st, keys[0].key); err != nil {
			return store.User{}, err
		}
	}
	s.recordSignin(r, clientID, username, user.ID, "")
	return user, nil
}

// recordSignin records a password check: signin.success when reason is
// "", else signin.failure with the reason's category. The endpoint tells
// the login page from the password grant. The password is never passed.
func (s *Server) recordSignin(r *http.Request, clientID, username, userID, reason string) {
	e := audit.Event{Type: audit.SigninSuccess, Actor: userID, ClientID: clientID, UserID: userID,
		Details: map[string]string{"username": username, "endpoint": strings.TrimPrefix(r.URL.Path, s.prefix)}}
	if reason != "" {
		// Whoever failed is not known to be the user: no actor.
		e.Type, e.Reason, e.Actor = audit.SigninFailure, reason, ""
	}
	s.emit(r.Context(), r, e)
}
