package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/keys"
	"github.com/latchkey/latchkey/internal/protocol"
	"github.com/latchkey/latchkey/internal/safefetch"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/token"
)

// OpenID Connect Back-Channel Logout 1.0: when a user's session ends, every
// client holding a live grant from it that registered a
// backchannel_logout_uri is sent a signed logout token (§2.4), off the
// request path: a bounded queue, a few workers started on demand, retries
// with back-off, every POST through the SSRF guard.

// Logout token constants (§2.4).
const (
	logoutTokenType  = "logout+jwt"
	backchannelEvent = "http://schemas.openid.net/event/backchannel-logout"
	// logoutTokenTTL is short: the token is delivered at once or retried
	// within a minute or so; a later replay must fail.
	logoutTokenTTL = 2 * time.Minute
	// backchannelWorkers bounds concurrent deliveries per instance.
	backchannelWorkers = 4
)

// logoutDelivery is one logout token on its way to one client.
type logoutDelivery struct {
	clientID, uri, token string
}

// backchannel is the delivery queue.
type backchannel struct {
	poster   *safefetch.Client
	log      *slog.Logger
	attempts int
	delay    time.Duration
	queue    chan logoutDelivery
	slots    chan struct{} // one per running worker
	// wg counts running workers, so tests and shutdown can wait.
	wg sync.WaitGroup
}

func newBackchannel(cfg Config, log *slog.Logger) *backchannel {
	b := cfg.BackchannelLogout
	if b.Poster == nil {
		b.Poster = safefetch.New(safefetch.Options{AllowLoopback: cfg.ClientAssertions.AllowLoopbackJWKS})
	}
	if b.Attempts <= 0 {
		b.Attempts = 5
	}
	if b.RetryDelay <= 0 {
		b.RetryDelay = 2 * time.Second
	}
	if b.QueueSize <= 0 {
		b.QueueSize = 1024
	}
	return &backchannel{poster: b.Poster, log: log, attempts: b.Attempts, delay: b.RetryDelay,
		queue: make(chan logoutDelivery, b.QueueSize), slots: make(chan struct{}, backchannelWorkers)}
}

// enqueue hands d to the workers without ever blocking: a full queue drops
// it (and says so).
func (b *backchannel) enqueue(ctx context.Context, d logoutDelivery) {
	select {
	case b.queue <- d:
	default:
		b.log.WarnContext(ctx, "back-channel logout queue full: token dropped", "client_id", d.clientID)
		return
	}
	b.startWorker()
}

// startWorker starts a worker when fewer than backchannelWorkers run.
func (b *backchannel) startWorker() {
	select {
	case b.slots <- struct{}{}:
	default:
		return // enough are running; one of them will take it
	}
	b.wg.Add(1)
	go b.work()
}

// work delivers until the queue is empty, then stops. A delivery queued
// between its last look and its exit starts a worker of its own.
func (b *backchannel) work() {
	defer b.wg.Done()
	for {
		select {
		case d := <-b.queue:
			b.deliver(d)
		default:
			<-b.slots
			if len(b.queue) > 0 {
				b.startWorker()
			}
			return
		}
	}
}

// deliver posts one token, retrying with a doubling delay. A refusal by
// the SSRF guard is final: the address will not become public by waiting.
// The token itself is never logged.
func (b *backchannel) deliver(d logoutDelivery) {
	ctx := context.Background() // the request that queued it has ended
	wait := b.delay
	for attempt := 1; ; attempt++ {
		err := b.poster.PostForm(ctx, d.uri, map[string][]string{"logout_token": {d.token}})
		if err == nil {
			b.log.InfoContext(ctx, "back-channel logout delivered", "client_id", d.clientID, "attempt", attempt)
			return
		}
		if safefetch.Refused(err) || attempt >= b.attempts {
			b.log.WarnContext(ctx, "back-channel logout not delivered", "client_id", d.clientID,
				"attempts", attempt, "err", err)
			return
		}
		time.Sleep(wait)
		wait *= 2
	}
}

// logoutClaims are a logout token's claims (§2.4): never a nonce.
type logoutClaims struct {
	Issuer   string                    `json:"iss"`
	Audience string                    `json:"aud"`
	IssuedAt int64                     `json:"iat"`
	Expiry   int64                     `json:"exp"`
	JTI      string                    `json:"jti"`
	Events   map[string]map[string]any `json:"events"`
	Subject  string                    `json:"sub,omitempty"`
	SID      string                    `json:"sid,omitempty"`
}

// mintLogout signs a logout token for client about sub and sid with the
// key that signs the client's ID tokens.
func (s *Server) mintLogout(c store.Client, sub, sid string, now time.Time) (string, error) {
	jti, err := randomID(s.rand)
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(logoutClaims{
		Issuer: s.issuer, Audience: c.ID, IssuedAt: now.Unix(), Expiry: now.Add(logoutTokenTTL).Unix(), JTI: jti,
		Events: map[string]map[string]any{backchannelEvent: {}}, Subject: sub, SID: sid,
	})
	if err != nil {
		return "", fmt.Errorf("logout token: %w", err)
	}
	return token.Sign(s.keys, s.idTokenAlg(c), logoutTokenType, payload)
}

// idTokenAlg is the algorithm of the client's ID tokens.
func (s *Server) idTokenAlg(c store.Client) string {
	switch {
	case c.IDTokenAlg != "":
		return c.IDTokenAlg
	case c.Profile == protocol.ProfileFAPI2:
		return keys.ES256 // FAPI 2.0 §5.4 refuses RS256
	default:
		return keys.RS256 // OpenID Connect's default
	}
}

// sidFor is the sid claim of the client's ID tokens: only for clients
// that registered for back-channel logout, which can use it.
func sidFor(c store.Client, sid string) string {
	if c.BackchannelLogoutURI == "" {
		return ""
	}
	return sid
}

// notifyLogout queues a logout token for every client with a live grant
// of the user approved in the session sess, and registered for
// back-channel logout. It never fails the caller: the session is ended
// already, and a problem reaching a client is logged.
func (s *Server) notifyLogout(ctx context.Context, sess store.Session) {
	grants, err := s.st.ListUserGrants(ctx, sess.UserID, "", s.now())
	if err != nil {
		s.log.ErrorContext(ctx, "back-channel logout: list grants", "err", err)
		return
	}
	seen := map[string]bool{}
	for _, g := range grants {
		if sess.SID == "" || g.SessionID != sess.SID || seen[g.ClientID] {
			continue
		}
		seen[g.ClientID] = true
		s.notifyClient(ctx, g.ClientID, sess)
	}
}

// notifyClient queues one client's logout token, when it registered for
// one.
func (s *Server) notifyClient(ctx context.Context, clientID string, sess store.Session) {
	c, err := s.st.GetClient(ctx, clientID)
	if err != nil || c.BackchannelLogoutURI == "" {
		return
	}
	raw, err := s.mintLogout(c, sess.UserID, sess.SID, s.now())
	if err != nil {
		s.log.ErrorContext(ctx, "back-channel logout: sign", "client_id", c.ID, "err", err)
		return
	}
	s.backchannel.enqueue(ctx, logoutDelivery{clientID: c.ID, uri: c.BackchannelLogoutURI, token: raw})
}

// EndSession ends the session of userID whose sid is sid: the session is
// deleted, so its browser is signed out at its next request on any
// instance; a session.ended audit event names actor (a user id,
// "admin:<name>") and via (what ended it: "account", "admin"); and every
// client that got a grant in the session and registered for back-channel
// logout is sent a logout token. It returns store.ErrNotFound when the
// user has no such live session. The account page and the admin API both
// end sessions through it.
func (s *Server) EndSession(ctx context.Context, userID, sid, actor, via string) error {
	sessions, err := s.st.ListSessions(ctx, userID, s.now())
	if err != nil {
		return fmt.Errorf("end session: %w", err)
	}
	for _, sess := range sessions {
		if sid != "" && sess.SID == sid {
			return s.endSession(ctx, nil, sess, actor, via)
		}
	}
	return store.ErrNotFound
}

// endSession deletes sess, records it (r, when not nil, gives the
// address) and notifies its clients.
func (s *Server) endSession(ctx context.Context, r *http.Request, sess store.Session, actor, via string) error {
	if err := s.st.DeleteSession(ctx, sess.Digest); err != nil {
		return fmt.Errorf("end session: %w", err)
	}
	s.log.InfoContext(ctx, "session ended", "user_id", sess.UserID, "sid", sess.SID, "via", via)
	s.emit(ctx, r, audit.Event{Type: audit.SessionEnded, Actor: actor, UserID: sess.UserID,
		Details: map[string]string{"via": via, "sid": sess.SID}})
	s.notifyLogout(ctx, sess)
	return nil
}
