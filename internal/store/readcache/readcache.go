// Package readcache wraps a store.Store with a short read cache for the
// two hot reads of the server: the client record behind every client
// authentication, and the IsRevoked answer behind every introspection and
// userinfo call. A change made through the wrapper purges the cache
// before it returns; a change made through another instance or the CLI
// shows within the TTL (or at once, when the caller purges on the
// store's change announcements).
//
// The wrapper writes out every method of store.Store instead of embedding
// it, so that a method added to the interface does not compile until it
// is decided here whether it purges.
package readcache

import (
	"context"
	"errors"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// Default bounds: a revocation answer is about 150 bytes, a client record
// about 1 KiB.
const (
	defaultClientEntries     = 4096
	defaultRevocationEntries = 16384
)

// Options tune the cache.
type Options struct {
	// TTL is how long an answer is reused; 0 turns the cache off.
	TTL time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// ClientEntries and RevocationEntries bound the two caches; 0 means
	// 4096 and 16384.
	ClientEntries, RevocationEntries int
}

// Store is a store.Store whose GetClient and IsRevoked answers are reused
// for a TTL.
type Store struct {
	st          store.Store
	now         func() time.Time
	clients     *cache[string, store.Client]
	revocations *cache[revocationKey, bool]
}

// revocationKey is one IsRevoked question.
type revocationKey struct{ jti, grantID string }

// New wraps st.
func New(st store.Store, opts Options) *Store {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ClientEntries <= 0 {
		opts.ClientEntries = defaultClientEntries
	}
	if opts.RevocationEntries <= 0 {
		opts.RevocationEntries = defaultRevocationEntries
	}
	return &Store{
		st:          st,
		now:         opts.Now,
		clients:     newCache[string, store.Client](opts.TTL, opts.ClientEntries),
		revocations: newCache[revocationKey, bool](opts.TTL, opts.RevocationEntries),
	}
}

// Purge forgets every cached answer: call it when another instance or
// the CLI announces a change.
func (s *Store) Purge() {
	s.clients.purge()
	s.revocations.purge()
}

// Unwrap returns the wrapped store.
func (s *Store) Unwrap() store.Store { return s.st }

// after purges once a change has been made, whatever its outcome: a
// failed call may still have committed.
func (s *Store) after(err error) error {
	s.Purge()
	return err
}

// GetClient is cached.
func (s *Store) GetClient(ctx context.Context, id string) (store.Client, error) {
	return s.clients.get(ctx, id, s.now(), false, func(ctx context.Context) (store.Client, error) {
		return s.st.GetClient(ctx, id)
	})
}

// GetClientFresh reads the client past the cache and keeps the fresh
// record: a client whose credentials fail is read this way before the
// failure counts, so a secret rotated elsewhere works at once.
func (s *Store) GetClientFresh(ctx context.Context, id string) (store.Client, error) {
	return s.clients.get(ctx, id, s.now(), true, func(ctx context.Context) (store.Client, error) {
		return s.st.GetClient(ctx, id)
	})
}

// IsRevoked is cached.
func (s *Store) IsRevoked(ctx context.Context, jti, grantID string) (bool, error) {
	return s.revocations.get(ctx, revocationKey{jti, grantID}, s.now(), false, func(ctx context.Context) (bool, error) {
		return s.st.IsRevoked(ctx, jti, grantID)
	})
}

// Writes that change a client record or what IsRevoked answers purge.

// CreateClient purges (errors are never cached, so this is for clarity).
func (s *Store) CreateClient(ctx context.Context, c store.Client) error {
	return s.after(s.st.CreateClient(ctx, c))
}

// UpsertClient purges.
func (s *Store) UpsertClient(ctx context.Context, c store.Client) error {
	return s.after(s.st.UpsertClient(ctx, c))
}

// SetClientSecret purges.
func (s *Store) SetClientSecret(ctx context.Context, id, secretHash string, now time.Time) error {
	return s.after(s.st.SetClientSecret(ctx, id, secretHash, now))
}

// DeleteClient purges: the client and its grants are gone.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	return s.after(s.st.DeleteClient(ctx, id))
}

// DeleteUser purges: the user's grants are gone.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	return s.after(s.st.DeleteUser(ctx, id))
}

// RevokeGrant purges.
func (s *Store) RevokeGrant(ctx context.Context, id string, now time.Time) error {
	return s.after(s.st.RevokeGrant(ctx, id, now))
}

// RevokeJTI purges.
func (s *Store) RevokeJTI(ctx context.Context, jti string, exp time.Time) error {
	return s.after(s.st.RevokeJTI(ctx, jti, exp))
}

// RotateRefreshToken purges when the store detected a reuse and revoked
// the whole grant (RFC 9700 §4.14.2); a rotation that succeeds revokes
// nothing.
func (s *Store) RotateRefreshToken(ctx context.Context, r store.Rotation) (store.RefreshToken, error) {
	rt, err := s.st.RotateRefreshToken(ctx, r)
	if errors.Is(err, store.ErrReused) {
		s.Purge()
	}
	return rt, err
}

// DeleteExpired purges: grants it removes are "gone" to IsRevoked.
func (s *Store) DeleteExpired(ctx context.Context, now time.Time, limit int) (int, error) {
	n, err := s.st.DeleteExpired(ctx, now, limit)
	s.Purge()
	return n, err
}

// Everything else reads past the cache, or writes records under fresh ids
// (codes, grants, tokens, sessions, consents, counters, keys, users) that
// no cached answer can be about, so it does not purge.

// ListClients is not cached.
func (s *Store) ListClients(ctx context.Context) ([]store.Client, error) {
	return s.st.ListClients(ctx)
}

// GetUser is not cached.
func (s *Store) GetUser(ctx context.Context, id string) (store.User, error) {
	return s.st.GetUser(ctx, id)
}

// GetUserByUsername is not cached.
func (s *Store) GetUserByUsername(ctx context.Context, username string) (store.User, error) {
	return s.st.GetUserByUsername(ctx, username)
}

// ListUsers is not cached.
func (s *Store) ListUsers(ctx context.Context) ([]store.User, error) { return s.st.ListUsers(ctx) }

// CreateUser does not purge: users are not cached.
func (s *Store) CreateUser(ctx context.Context, u store.User) error { return s.st.CreateUser(ctx, u) }

// UpsertUser does not purge: users are not cached.
func (s *Store) UpsertUser(ctx context.Context, u store.User) (store.User, error) {
	return s.st.UpsertUser(ctx, u)
}

// SetUserPassword does not purge: users are not cached.
func (s *Store) SetUserPassword(ctx context.Context, id, passwordHash string, now time.Time) error {
	return s.st.SetUserPassword(ctx, id, passwordHash, now)
}

// ListKeys is not cached (the key manager keeps its own snapshot).
func (s *Store) ListKeys(ctx context.Context) ([]store.Key, error) { return s.st.ListKeys(ctx) }

// AddKey does not purge: keys are not cached here.
func (s *Store) AddKey(ctx context.Context, k store.Key, notSince time.Time) (bool, error) {
	return s.st.AddKey(ctx, k, notSince)
}

// DeleteKey does not purge: keys are not cached here.
func (s *Store) DeleteKey(ctx context.Context, kid string) error { return s.st.DeleteKey(ctx, kid) }

// CreateAuthCode does not purge: a fresh code.
func (s *Store) CreateAuthCode(ctx context.Context, c store.AuthCode) error {
	return s.st.CreateAuthCode(ctx, c)
}

// GetAuthCode is not cached.
func (s *Store) GetAuthCode(ctx context.Context, digest string) (store.AuthCode, error) {
	return s.st.GetAuthCode(ctx, digest)
}

// RedeemAuthCode does not purge: it stores a new grant and revokes nothing
// (a replay's revocation goes through RevokeGrant).
func (s *Store) RedeemAuthCode(ctx context.Context, digest string, now time.Time, iss store.Issue) error {
	return s.st.RedeemAuthCode(ctx, digest, now, iss)
}

// SaveIssue does not purge: a new grant and tokens.
func (s *Store) SaveIssue(ctx context.Context, iss store.Issue) error {
	return s.st.SaveIssue(ctx, iss)
}

// GetGrant is not cached.
func (s *Store) GetGrant(ctx context.Context, id string) (store.Grant, error) {
	return s.st.GetGrant(ctx, id)
}

// GetRefreshToken is not cached.
func (s *Store) GetRefreshToken(ctx context.Context, digest string) (store.RefreshToken, error) {
	return s.st.GetRefreshToken(ctx, digest)
}

// GetAccessToken is not cached.
func (s *Store) GetAccessToken(ctx context.Context, digest string) (store.AccessToken, error) {
	return s.st.GetAccessToken(ctx, digest)
}

// CreateSession does not purge.
func (s *Store) CreateSession(ctx context.Context, sess store.Session) error {
	return s.st.CreateSession(ctx, sess)
}

// GetSession is not cached.
func (s *Store) GetSession(ctx context.Context, digest string, now time.Time) (store.Session, error) {
	return s.st.GetSession(ctx, digest, now)
}

// DeleteSession does not purge.
func (s *Store) DeleteSession(ctx context.Context, digest string) error {
	return s.st.DeleteSession(ctx, digest)
}

// SaveConsent does not purge.
func (s *Store) SaveConsent(ctx context.Context, c store.Consent) error {
	return s.st.SaveConsent(ctx, c)
}

// GetConsent is not cached.
func (s *Store) GetConsent(ctx context.Context, userID, clientID string) (store.Consent, error) {
	return s.st.GetConsent(ctx, userID, clientID)
}

// AddFailure does not purge.
func (s *Store) AddFailure(ctx context.Context, key string, now time.Time, window time.Duration) (store.Throttle, error) {
	return s.st.AddFailure(ctx, key, now, window)
}

// GetThrottles is not cached.
func (s *Store) GetThrottles(ctx context.Context, keys []string, now time.Time) ([]store.Throttle, error) {
	return s.st.GetThrottles(ctx, keys, now)
}

// ClearFailures does not purge.
func (s *Store) ClearFailures(ctx context.Context, key string) error {
	return s.st.ClearFailures(ctx, key)
}

// AppendAuditEvents does not purge: the audit trail is not cached.
func (s *Store) AppendAuditEvents(ctx context.Context, events []store.AuditEvent) error {
	return s.st.AppendAuditEvents(ctx, events)
}

// ListAuditEvents is not cached: readers of the trail want it as it is.
func (s *Store) ListAuditEvents(ctx context.Context, q store.AuditQuery) ([]store.AuditEvent, error) {
	return s.st.ListAuditEvents(ctx, q)
}

// DeleteAuditEventsBefore does not purge: nothing cached refers to events.
func (s *Store) DeleteAuditEventsBefore(ctx context.Context, before time.Time, limit int) (int, error) {
	return s.st.DeleteAuditEventsBefore(ctx, before, limit)
}

// UseOnce does not purge: single-use records are not cached, and answering
// one from a cache would let a replay through.
func (s *Store) UseOnce(ctx context.Context, key string, exp, now time.Time) (bool, error) {
	return s.st.UseOnce(ctx, key, exp, now)
}

// CreatePushedRequest does not purge: a fresh request.
func (s *Store) CreatePushedRequest(ctx context.Context, p store.PushedRequest) error {
	return s.st.CreatePushedRequest(ctx, p)
}

// TakePushedRequest is not cached: it is used once.
func (s *Store) TakePushedRequest(ctx context.Context, digest, clientID string, now time.Time) (store.PushedRequest, error) {
	return s.st.TakePushedRequest(ctx, digest, clientID, now)
}

// CreateDeviceCode does not purge: a fresh code.
func (s *Store) CreateDeviceCode(ctx context.Context, d store.DeviceCode) error {
	return s.st.CreateDeviceCode(ctx, d)
}

// GetDeviceCodeByUserCode is not cached: the user's decision must show at
// once on every instance.
func (s *Store) GetDeviceCodeByUserCode(ctx context.Context, userCodeDigest string, now time.Time) (store.DeviceCode, error) {
	return s.st.GetDeviceCodeByUserCode(ctx, userCodeDigest, now)
}

// DecideDeviceCode does not purge: nothing it changes is cached.
func (s *Store) DecideDeviceCode(ctx context.Context, userCodeDigest string, d store.DeviceDecision) error {
	return s.st.DecideDeviceCode(ctx, userCodeDigest, d)
}

// PollDeviceCode is not cached: every poll is recorded.
func (s *Store) PollDeviceCode(ctx context.Context, digest, clientID string, now time.Time) (store.DeviceCode, error) {
	return s.st.PollDeviceCode(ctx, digest, clientID, now)
}

// RedeemDeviceCode does not purge: it stores a new grant and revokes
// nothing, like RedeemAuthCode.
func (s *Store) RedeemDeviceCode(ctx context.Context, digest, clientID string, now time.Time, iss store.Issue) error {
	return s.st.RedeemDeviceCode(ctx, digest, clientID, now, iss)
}

// Ping asks the wrapped store.
func (s *Store) Ping(ctx context.Context) error { return s.st.Ping(ctx) }

// Close closes the wrapped store.
func (s *Store) Close() error { return s.st.Close() }

var _ store.Store = (*Store)(nil)

// RegisterClient purges (errors are never cached, so this is for clarity).
func (s *Store) RegisterClient(ctx context.Context, c store.Client, max int) error {
	return s.after(s.st.RegisterClient(ctx, c, max))
}

// UpdateRegisteredClient purges: the record and its registration token
// changed.
func (s *Store) UpdateRegisteredClient(ctx context.Context, c store.Client, tokenHash string) error {
	return s.after(s.st.UpdateRegisteredClient(ctx, c, tokenHash))
}

// CreateInitialToken passes through: initial tokens are not cached.
func (s *Store) CreateInitialToken(ctx context.Context, t store.InitialToken) error {
	return s.st.CreateInitialToken(ctx, t)
}

// UseInitialToken passes through.
func (s *Store) UseInitialToken(ctx context.Context, digest string, now time.Time) error {
	return s.st.UseInitialToken(ctx, digest, now)
}

// ListInitialTokens passes through.
func (s *Store) ListInitialTokens(ctx context.Context) ([]store.InitialToken, error) {
	return s.st.ListInitialTokens(ctx)
}

// DeleteInitialToken passes through.
func (s *Store) DeleteInitialToken(ctx context.Context, id string) error {
	return s.st.DeleteInitialToken(ctx, id)
}

// The account page's reads and writes pass through: they change nothing
// the cache keeps (a withdrawn consent revokes grants through RevokeGrant,
// which purges).

// ListSessions passes through.
func (s *Store) ListSessions(ctx context.Context, userID string, now time.Time) ([]store.Session, error) {
	return s.st.ListSessions(ctx, userID, now)
}

// TouchSession passes through.
func (s *Store) TouchSession(ctx context.Context, digest string, at time.Time, ip string) error {
	return s.st.TouchSession(ctx, digest, at, ip)
}

// ListConsents passes through.
func (s *Store) ListConsents(ctx context.Context, userID string) ([]store.Consent, error) {
	return s.st.ListConsents(ctx, userID)
}

// DeleteConsent passes through.
func (s *Store) DeleteConsent(ctx context.Context, userID, clientID string) error {
	return s.st.DeleteConsent(ctx, userID, clientID)
}

// ListUserGrants passes through: it reads the grants' state, which the
// cache does not keep.
func (s *Store) ListUserGrants(ctx context.Context, userID, clientID string, now time.Time) ([]store.Grant, error) {
	return s.st.ListUserGrants(ctx, userID, clientID, now)
}

// ListOperatorClients is not cached.
func (s *Store) ListOperatorClients(ctx context.Context) ([]store.Client, error) {
	return s.st.ListOperatorClients(ctx)
}

// RedirectURIsOfOrigin is not cached here: the server caches its answer
// per origin.
func (s *Store) RedirectURIsOfOrigin(ctx context.Context, origin string) ([]string, error) {
	return s.st.RedirectURIsOfOrigin(ctx, origin)
}

// Second factors are never cached: every sign-in reads them fresh, and a
// code's single use is the backend's conditional write.

// CreateFactor is not cached.
func (s *Store) CreateFactor(ctx context.Context, f store.Factor) error {
	return s.st.CreateFactor(ctx, f)
}

// ListFactors is not cached.
func (s *Store) ListFactors(ctx context.Context, userID string) ([]store.Factor, error) {
	return s.st.ListFactors(ctx, userID)
}

// ConfirmFactor is not cached.
func (s *Store) ConfirmFactor(ctx context.Context, userID, id string, counter int64, now time.Time, recovery []string) error {
	return s.st.ConfirmFactor(ctx, userID, id, counter, now, recovery)
}

// UseFactor is not cached.
func (s *Store) UseFactor(ctx context.Context, userID, id string, counter int64, now time.Time) error {
	return s.st.UseFactor(ctx, userID, id, counter, now)
}

// AddFactor is not cached.
func (s *Store) AddFactor(ctx context.Context, f store.Factor, recovery []string) error {
	return s.st.AddFactor(ctx, f, recovery)
}

// UpdateFactor is not cached.
func (s *Store) UpdateFactor(ctx context.Context, userID, id string, counter, next int64, data []byte, now time.Time) error {
	return s.st.UpdateFactor(ctx, userID, id, counter, next, data, now)
}

// DeleteFactor is not cached.
func (s *Store) DeleteFactor(ctx context.Context, userID, id string) (int, error) {
	return s.st.DeleteFactor(ctx, userID, id)
}

// DeleteFactors is not cached.
func (s *Store) DeleteFactors(ctx context.Context, userID string) (int, error) {
	return s.st.DeleteFactors(ctx, userID)
}

// ReplaceRecoveryCodes is not cached.
func (s *Store) ReplaceRecoveryCodes(ctx context.Context, userID string, digests []string, now time.Time) error {
	return s.st.ReplaceRecoveryCodes(ctx, userID, digests, now)
}

// UseRecoveryCode is not cached.
func (s *Store) UseRecoveryCode(ctx context.Context, userID, digest string, now time.Time) error {
	return s.st.UseRecoveryCode(ctx, userID, digest, now)
}

// CountRecoveryCodes is not cached.
func (s *Store) CountRecoveryCodes(ctx context.Context, userID string) (int, error) {
	return s.st.CountRecoveryCodes(ctx, userID)
}
