package server

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/token"
)

// Cookie names. Under https they carry the __Host- prefix, which browsers
// accept only with Secure, Path=/ and no Domain.
func (s *Server) sessionCookie() string { return s.cookiePrefix() + "latchkey_session" }
func (s *Server) csrfCookie() string    { return s.cookiePrefix() + "latchkey_csrf" }

func (s *Server) cookiePrefix() string {
	if s.httpsIssuer {
		return "__Host-"
	}
	return ""
}

func (s *Server) setCookie(w http.ResponseWriter, name, value string, maxAge time.Duration) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: value, Path: "/", MaxAge: int(maxAge.Seconds()),
		HttpOnly: true, Secure: s.httpsIssuer, SameSite: http.SameSiteLaxMode,
	})
}

func (s *Server) clearCookie(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: s.httpsIssuer, SameSite: http.SameSiteLaxMode})
}

// currentSession returns the browser's live session, or nil. Any instance
// can answer: sessions live in the store.
func (s *Server) currentSession(r *http.Request) (*store.Session, error) {
	c, err := r.Cookie(s.sessionCookie())
	if err != nil || !token.HasPrefix(c.Value, token.PrefixSession) {
		return nil, nil
	}
	sess, err := s.st.GetSession(r.Context(), token.Digest(c.Value), s.now())
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read session: %w", err)
	}
	s.touch(r, &sess)
	return &sess, nil
}

// touchEvery is how stale a session's last seen may grow before a request
// writes it: pages stay free of writes but for one every few minutes.
const touchEvery = 5 * time.Minute

// maxUserAgent bounds the User-Agent kept with a session.
const maxUserAgent = 256

// touch records that sess is in use, at most every touchEvery. A failure
// is logged, never the request's: the session is valid either way.
func (s *Server) touch(r *http.Request, sess *store.Session) {
	now := s.now()
	if now.Sub(sess.LastSeenAt) < touchEvery {
		return
	}
	ip := s.clientIP(r).String()
	if err := s.st.TouchSession(r.Context(), sess.Digest, now, ip); err != nil {
		s.log.WarnContext(r.Context(), "touch session", "err", err)
		return
	}
	sess.LastSeenAt, sess.IP = now, ip
}

// truncate cuts s to at most n bytes, on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// startSession logs the user in: a new session id every time, so a session
// fixed by an attacker before the login is never promoted. It returns the
// new session's digest. amr are the methods the user signed in with.
func (s *Server) startSession(ctx context.Context, w http.ResponseWriter, r *http.Request, user store.User, amr []string) (string, error) {
	if old, err := r.Cookie(s.sessionCookie()); err == nil && old.Value != "" {
		if err := s.st.DeleteSession(ctx, token.Digest(old.Value)); err != nil {
			return "", fmt.Errorf("end old session: %w", err)
		}
	}
	value, digest, err := token.New(token.PrefixSession, s.rand)
	if err != nil {
		return "", err
	}
	sid, err := randomID(s.rand) // public, unrelated to the cookie
	if err != nil {
		return "", err
	}
	now := s.now()
	ttl := s.cfg.SessionTTL
	err = s.st.CreateSession(ctx, store.Session{Digest: digest, UserID: user.ID, SID: sid,
		UserAgent: truncate(r.UserAgent(), maxUserAgent), IP: s.clientIP(r).String(),
		AuthTime: now, AMR: amr, ACR: acrForLevel(levelOfAMR(amr)), CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(ttl)})
	if err != nil {
		return "", fmt.Errorf("create session: %w", err)
	}
	s.setCookie(w, s.sessionCookie(), value, ttl)
	return digest, nil
}

// csrfToken binds a form to a purpose and to a secret the browser holds
// (the session digest, or the pre-login CSRF cookie): a page on another
// site can neither read it nor make the browser send a matching pair.
func (s *Server) csrfToken(purpose, binding string) string {
	mac := hmac.New(sha256.New, s.hmacKey)
	mac.Write([]byte("csrf\x00" + purpose + "\x00" + binding))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func (s *Server) checkCSRF(purpose, binding, got string) bool {
	if binding == "" || got == "" {
		return false
	}
	want := s.csrfToken(purpose, binding)
	return subtle.ConstantTimeCompare([]byte(want), []byte(got)) == 1
}

// loginCSRF returns the browser's pre-login CSRF cookie value, setting a
// fresh one when it has none.
func (s *Server) loginCSRF(w http.ResponseWriter, r *http.Request) (string, error) {
	if c, err := r.Cookie(s.csrfCookie()); err == nil && len(c.Value) >= 43 {
		return c.Value, nil
	}
	value, _, err := token.New("", s.rand)
	if err != nil {
		return "", err
	}
	s.setCookie(w, s.csrfCookie(), value, time.Hour)
	return value, nil
}
