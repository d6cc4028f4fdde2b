// Package store defines what Latchkey keeps: the records, and the Store
// interface whose methods follow the use cases of the server (redeem a code,
// rotate a refresh token, revoke a grant) rather than generic CRUD. Backends
// live in subpackages and all pass the conformance suite in storetest.
package store

import (
	"context"
	"errors"
	"time"
)

// Errors every backend returns, compared with errors.Is.
var (
	// ErrNotFound: no such record, or it has expired or been revoked where
	// the method says so.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict: the record exists already (create), or a single-use
	// record was used already (redeem).
	ErrConflict = errors.New("store: conflict")
	// ErrReused: a rotated refresh token was presented again; the whole
	// family has been revoked by the time this is returned.
	ErrReused = errors.New("store: refresh token reused")
	// ErrUnavailable: the backend cannot be reached right now; retrying
	// later may succeed. Backends wrap their driver's error with it.
	ErrUnavailable = errors.New("store: unavailable")
	// ErrLimit: creating the record would pass a limit the caller set (the
	// maximum number of dynamically registered clients).
	ErrLimit = errors.New("store: limit reached")
)

// Store is everything the server needs from persistence. Every method takes
// a context first, works on values, and is safe for concurrent use by many
// goroutines and, for shared backends, many processes.
type Store interface {
	ClientStore
	UserStore
	KeyStore
	TokenStore
	SessionStore
	ThrottleStore
	ReplayStore
	PushedRequestStore
	DeviceStore
	RegistrationStore
	AuditStore
	FactorStore

	// Ping reports whether the backend is reachable (for /readyz).
	Ping(ctx context.Context) error
	// DeleteExpired removes up to limit rows of each kind that expired
	// before now (codes, refresh tokens, opaque access tokens, revoked jtis,
	// sessions, throttles, grants with nothing left, replay records, pushed
	// requests, device codes) and reports how many.
	DeleteExpired(ctx context.Context, now time.Time, limit int) (int, error)
	// Close releases the backend's resources.
	Close() error
}

// ClientStore keeps registered clients.
type ClientStore interface {
	// GetClient returns the client with id, or ErrNotFound.
	GetClient(ctx context.Context, id string) (Client, error)
	// ListClients returns every client ordered by id.
	ListClients(ctx context.Context) ([]Client, error)
	// ListOperatorClients returns the clients an operator made (config
	// file, CLI, admin API), by id: every client except those that
	// registered themselves (source "registration") or were resolved from
	// a metadata document ("cimd"), which may be many. By the source index.
	ListOperatorClients(ctx context.Context) ([]Client, error)
	// RedirectURIsOfOrigin returns up to a few registered redirect URIs of
	// any client that start with origin followed by "/", "?", "#" or
	// nothing: the candidates whose origin is origin (the caller checks),
	// found by an index range, never a scan.
	RedirectURIsOfOrigin(ctx context.Context, origin string) ([]string, error)
	// CreateClient adds c, or returns ErrConflict when its id is taken.
	CreateClient(ctx context.Context, c Client) error
	// UpsertClient creates c or replaces every field of the client with its
	// id except CreatedAt (the config file is the source of truth).
	UpsertClient(ctx context.Context, c Client) error
	// SetClientSecret replaces the secret hash of client id, or ErrNotFound.
	SetClientSecret(ctx context.Context, id, secretHash string, now time.Time) error
	// DeleteClient removes the client and everything issued to it, or
	// returns ErrNotFound.
	DeleteClient(ctx context.Context, id string) error
}

// RegistrationStore keeps what dynamic client registration needs (RFC
// 7591, RFC 7592): the registered clients' life cycle and the initial
// access tokens that allow registering.
type RegistrationStore interface {
	// RegisterClient adds c unless max > 0 and max clients with c's Source
	// exist already (ErrLimit), or its id is taken (ErrConflict). The count
	// and the insert are one atomic step, so concurrent registrations never
	// pass max. Counting uses an index on the source.
	RegisterClient(ctx context.Context, c Client, max int) error
	// UpdateRegisteredClient replaces every field of the client c.ID except
	// ID, Source and CreatedAt, only while its RegistrationTokenHash is
	// still tokenHash (so of two updates presenting one token, one wins);
	// otherwise ErrNotFound.
	UpdateRegisteredClient(ctx context.Context, c Client, tokenHash string) error
	// CreateInitialToken stores t, or returns ErrConflict when its digest
	// or id is taken.
	CreateInitialToken(ctx context.Context, t InitialToken) error
	// UseInitialToken spends one use of the initial access token with
	// digest, atomically: ErrNotFound when it is unknown, revoked, expired
	// at now, or used up. Exactly one of concurrent callers wins its last use.
	UseInitialToken(ctx context.Context, digest string, now time.Time) error
	// ListInitialTokens returns every initial access token ordered by id.
	ListInitialTokens(ctx context.Context) ([]InitialToken, error)
	// DeleteInitialToken removes the token with id, or ErrNotFound.
	DeleteInitialToken(ctx context.Context, id string) error
}

// UserStore keeps resource owners.
type UserStore interface {
	// GetUser returns the user whose ID (the token subject) is id.
	GetUser(ctx context.Context, id string) (User, error)
	// GetUserByUsername returns the user with username, or ErrNotFound.
	GetUserByUsername(ctx context.Context, username string) (User, error)
	// ListUsers returns every user ordered by username.
	ListUsers(ctx context.Context) ([]User, error)
	// CreateUser adds u, or returns ErrConflict when its ID or username is taken.
	CreateUser(ctx context.Context, u User) error
	// UpsertUser creates u, or, when a user with u.Username exists, replaces
	// its password hash, claims and source, keeping its ID and CreatedAt.
	// It returns the stored user.
	UpsertUser(ctx context.Context, u User) (User, error)
	// SetUserPassword replaces the password hash of user id, or ErrNotFound.
	SetUserPassword(ctx context.Context, id, passwordHash string, now time.Time) error
	// DeleteUser removes the user and everything issued for them, or
	// returns ErrNotFound.
	DeleteUser(ctx context.Context, id string) error
}

// KeyStore keeps signing keys; private parts are stored encrypted.
type KeyStore interface {
	// ListKeys returns every key, oldest first.
	ListKeys(ctx context.Context) ([]Key, error)
	// AddKey stores k unless a key of the same algorithm was created at or
	// after notSince; it reports whether k was stored. Among concurrent
	// callers with the same notSince, at most one stores its key.
	AddKey(ctx context.Context, k Key, notSince time.Time) (bool, error)
	// DeleteKey removes the key with kid, or returns ErrNotFound.
	DeleteKey(ctx context.Context, kid string) error
}

// TokenStore keeps codes, grants, refresh tokens, opaque access tokens and
// revocations. Tokens are identified by the SHA-256 digest of their value.
type TokenStore interface {
	// CreateAuthCode stores a fresh authorization code.
	CreateAuthCode(ctx context.Context, c AuthCode) error
	// GetAuthCode returns the code with digest, consumed or not, expired or
	// not, or ErrNotFound.
	GetAuthCode(ctx context.Context, digest string) (AuthCode, error)
	// RedeemAuthCode atomically marks the code consumed by iss.Grant and
	// stores iss. It returns ErrNotFound when the code is unknown or expired
	// at now, and ErrConflict when it was consumed already; exactly one of
	// several concurrent callers succeeds.
	RedeemAuthCode(ctx context.Context, digest string, now time.Time, iss Issue) error

	// SaveIssue stores a grant with its first tokens (password grant, or
	// client credentials with an opaque access token). A grant with a
	// ParentID is stored only while that parent stands (not revoked, not
	// expired at iss.Grant.CreatedAt); otherwise nothing is stored and
	// ErrNotFound returned. A RevokeGrant of the parent that runs
	// concurrently either sees the child and revokes it, or makes
	// SaveIssue fail.
	SaveIssue(ctx context.Context, iss Issue) error
	// GetGrant returns the grant with id, revoked or not, or ErrNotFound.
	GetGrant(ctx context.Context, id string) (Grant, error)
	// RevokeGrant marks the grant revoked with every refresh token and
	// opaque access token issued under it, and does the same, in the same
	// transaction, for every grant descended from it (ParentID, at any
	// depth). Unknown ids are not an error.
	RevokeGrant(ctx context.Context, id string, now time.Time) error

	// GetRefreshToken returns the refresh token with digest, in any state,
	// with its grant's revocation time, or ErrNotFound.
	GetRefreshToken(ctx context.Context, digest string) (RefreshToken, error)
	// RotateRefreshToken replaces the active refresh token r.OldDigest with
	// r.Next (and stores r.Access when set). See Rotation for the rules.
	RotateRefreshToken(ctx context.Context, r Rotation) (RefreshToken, error)

	// GetAccessToken returns the opaque access token with digest, or
	// ErrNotFound (also once revoked).
	GetAccessToken(ctx context.Context, digest string) (AccessToken, error)
	// RevokeJTI records that the JWT access token jti is revoked until exp.
	// Revoking twice is not an error.
	RevokeJTI(ctx context.Context, jti string, exp time.Time) error
	// IsRevoked reports whether jti is revoked or the grant (when not "")
	// is revoked or gone.
	IsRevoked(ctx context.Context, jti, grantID string) (bool, error)
	// ListUserGrants returns the user's grants that are neither revoked
	// nor expired at now, for clientID only when it is not "", oldest
	// first.
	ListUserGrants(ctx context.Context, userID, clientID string, now time.Time) ([]Grant, error)
}

// ChangeWatcher is implemented by a backend that several instances share
// (PostgreSQL). WatchChanges calls changed whenever any instance or the CLI
// has committed a revocation or a change to a client or user, and once
// each time it starts listening, until ctx ends; connection failures go to
// failed. Instances use it to drop what they cached at once.
type ChangeWatcher interface {
	WatchChanges(ctx context.Context, changed func(), failed func(error))
}

// SessionStore keeps browser sessions and remembered consents.
type SessionStore interface {
	// CreateSession stores s.
	CreateSession(ctx context.Context, s Session) error
	// GetSession returns the session with digest unless it expired at now,
	// or ErrNotFound.
	GetSession(ctx context.Context, digest string, now time.Time) (Session, error)
	// DeleteSession removes the session; unknown digests are not an error.
	DeleteSession(ctx context.Context, digest string) error
	// ListSessions returns the user's sessions that have not expired at
	// now, newest first.
	ListSessions(ctx context.Context, userID string, now time.Time) ([]Session, error)
	// TouchSession records that the session was seen at at from ip;
	// unknown digests are not an error. Callers call it rarely (the server
	// at most every few minutes per session), so pages stay free of writes.
	TouchSession(ctx context.Context, digest string, at time.Time, ip string) error
	// SaveConsent remembers c, replacing the user's earlier consent to the
	// same client.
	SaveConsent(ctx context.Context, c Consent) error
	// GetConsent returns the user's consent to the client, or ErrNotFound.
	GetConsent(ctx context.Context, userID, clientID string) (Consent, error)
	// ListConsents returns the user's consents ordered by client id.
	ListConsents(ctx context.Context, userID string) ([]Consent, error)
	// DeleteConsent forgets the user's consent to the client; an unknown
	// one is not an error.
	DeleteConsent(ctx context.Context, userID, clientID string) error
}

// FactorStore keeps users' second factors and recovery codes.
type FactorStore interface {
	// CreateFactor stores f, unconfirmed, replacing the user's other
	// unconfirmed factors of its kind (one enrolment at a time). An id
	// that exists gives ErrConflict.
	CreateFactor(ctx context.Context, f Factor) error
	// ListFactors returns the user's factors, confirmed or not, oldest
	// first.
	ListFactors(ctx context.Context, userID string) ([]Factor, error)
	// ConfirmFactor completes the enrolment of the user's unconfirmed
	// factor id with the step of its first code as counter, and removes
	// the user's other factors of its kind (a new authenticator replaces
	// the old one). When recovery is not nil it replaces the user's
	// recovery codes, in the same transaction. It returns ErrNotFound when
	// there is no such unconfirmed factor.
	ConfirmFactor(ctx context.Context, userID, id string, counter int64, now time.Time, recovery []string) error
	// UseFactor raises the counter of the user's confirmed factor id to
	// counter, only if counter is above it: the single-use gate of a
	// code, exactly one of concurrent callers wins. It returns ErrConflict
	// when the counter is already there or beyond, ErrNotFound when there
	// is no such confirmed factor.
	UseFactor(ctx context.Context, userID, id string, counter int64, now time.Time) error
	// AddFactor stores f confirmed (f.ConfirmedAt set) beside the user's
	// other factors, of its kind too: a factor proved in one step (a
	// passkey, whose registration is its proof). When recovery is not nil
	// it replaces the user's recovery codes, in the same transaction. An
	// id that exists gives ErrConflict.
	AddFactor(ctx context.Context, f Factor, recovery []string) error
	// UpdateFactor records a use of the user's confirmed factor id: its
	// counter goes from counter to next and its data becomes data, only
	// while the counter is still counter (a compare-and-swap, so of two
	// concurrent uses reading the same counter one wins). It returns
	// ErrConflict when the counter moved, ErrNotFound when there is no
	// such confirmed factor.
	UpdateFactor(ctx context.Context, userID, id string, counter, next int64, data []byte, now time.Time) error
	// DeleteFactor removes the user's factor id and returns how many
	// confirmed factors the user has left; when none is left the recovery
	// codes go too (they recover a factor, alone they would be a second
	// password), in the same transaction. ErrNotFound when there is no
	// such factor of the user.
	DeleteFactor(ctx context.Context, userID, id string) (int, error)
	// DeleteFactors removes every factor and recovery code of the user and
	// reports how many factors there were.
	DeleteFactors(ctx context.Context, userID string) (int, error)
	// ReplaceRecoveryCodes replaces the user's recovery codes by digests.
	ReplaceRecoveryCodes(ctx context.Context, userID string, digests []string, now time.Time) error
	// UseRecoveryCode marks the user's unused code with digest used, or
	// returns ErrNotFound: exactly one of concurrent callers wins.
	UseRecoveryCode(ctx context.Context, userID, digest string, now time.Time) error
	// CountRecoveryCodes returns how many of the user's codes are unused.
	CountRecoveryCodes(ctx context.Context, userID string) (int, error)
}

// ThrottleStore keeps failure counters that every instance must agree on
// (the guessing limits of the password grant and the login page).
type ThrottleStore interface {
	// AddFailure counts one failure for key at now and returns the updated
	// counter. A counter whose last failure is older than window starts
	// again from zero.
	AddFailure(ctx context.Context, key string, now time.Time, window time.Duration) (Throttle, error)
	// GetThrottles returns the counters of keys that exist and have not
	// expired at now (their last failure is within the window they were
	// recorded with).
	GetThrottles(ctx context.Context, keys []string, now time.Time) ([]Throttle, error)
	// ClearFailures forgets the counter of key.
	ClearFailures(ctx context.Context, key string) error
}

// ReplayStore remembers single-use identifiers that every instance must
// agree on: the jti of DPoP proofs (RFC 9449 §11.1) and of client
// assertions (RFC 7523 §3).
type ReplayStore interface {
	// UseOnce records key until exp and reports true, or reports false when
	// key is recorded already and its record has not expired at now.
	// Exactly one of several concurrent callers with the same key gets
	// true. Callers bound the length of key (digest long values).
	UseOnce(ctx context.Context, key string, exp, now time.Time) (bool, error)
}

// PushedRequestStore keeps pushed authorization requests (RFC 9126).
type PushedRequestStore interface {
	// CreatePushedRequest stores p.
	CreatePushedRequest(ctx context.Context, p PushedRequest) error
	// TakePushedRequest returns the pushed request with digest and deletes
	// it, so it is used once (RFC 9126 §4). It returns ErrNotFound when the
	// request is unknown, was taken already, has expired at now, or belongs
	// to another client than clientID (and then leaves it in place).
	TakePushedRequest(ctx context.Context, digest, clientID string, now time.Time) (PushedRequest, error)
}

// DeviceStore keeps device authorization requests (RFC 8628): created by
// the device, decided by the user on the verification page, polled and
// finally redeemed by the device at the token endpoint, on any instance.
type DeviceStore interface {
	// CreateDeviceCode stores d. A digest or user code digest held by a
	// stored code (live, or expired and not yet collected) gives
	// ErrConflict, so the caller draws a new user code and tries again.
	CreateDeviceCode(ctx context.Context, d DeviceCode) error
	// GetDeviceCodeByUserCode returns the code whose user code digest is
	// userCodeDigest, in any state, unless it expired at now; otherwise
	// ErrNotFound.
	GetDeviceCodeByUserCode(ctx context.Context, userCodeDigest string, now time.Time) (DeviceCode, error)
	// DecideDeviceCode records the user's decision on the undecided code
	// whose user code digest is userCodeDigest. It returns ErrConflict
	// when the code was decided already (even if expired since), and
	// ErrNotFound when it is unknown or expired at d.At; exactly one of
	// several concurrent callers succeeds.
	DecideDeviceCode(ctx context.Context, userCodeDigest string, d DeviceDecision) error
	// PollDeviceCode records a poll of the code digest by clientID at now
	// and returns the code as the poll left it, in any state. A poll that
	// comes more than PollTolerance sooner than Interval after the
	// previous one sets SlowDown and adds SlowDownStep to Interval, for
	// every later poll too (RFC 8628 §3.5); any other poll clears SlowDown. Concurrent polls are counted one
	// after the other. An unknown code, or another client's, gives
	// ErrNotFound and changes nothing.
	PollDeviceCode(ctx context.Context, digest, clientID string, now time.Time) (DeviceCode, error)
	// RedeemDeviceCode atomically marks the approved code digest of
	// clientID consumed by iss.Grant and stores iss. It returns ErrConflict
	// when the code was consumed already, and ErrNotFound when it is
	// unknown, another client's, not approved, or expired at now; exactly
	// one of several concurrent callers succeeds.
	RedeemDeviceCode(ctx context.Context, digest, clientID string, now time.Time, iss Issue) error
}

// ErrStale: a compare-and-swap write found the record changed since the
// caller read it (the admin API's If-Match); nothing was written.
var ErrStale = errors.New("store: record changed since it was read")

// AdminStore serves the admin API: keyset pages that never scan a table,
// and read-check-write updates that are one transaction, so of two
// administrators editing one record from the same version exactly one wins.
type AdminStore interface {
	// ListClientsPage returns up to q.Limit clients with an id after
	// q.After, ordered by id, that match q's filters.
	ListClientsPage(ctx context.Context, q ClientQuery) ([]Client, error)
	// ReplaceClient reads client c.ID, locks it, and, when match accepts
	// it, replaces every field but ID, Source and CreatedAt with c's: all
	// in one transaction. It returns ErrNotFound when there is no such
	// client and ErrStale when match refuses the stored one.
	ReplaceClient(ctx context.Context, c Client, match func(Client) bool) error
	// ListUsersPage returns up to q.Limit users with a username after
	// q.After, ordered by username, that match q's filters.
	ListUsersPage(ctx context.Context, q UserQuery) ([]User, error)
	// ReplaceUser is ReplaceClient for users: username, password hash,
	// claims and UpdatedAt are replaced.
	ReplaceUser(ctx context.Context, u User, match func(User) bool) error
	// DeleteClientIf reads client id, locks it, and deletes it when match
	// accepts it, in one transaction (the admin API's DELETE with
	// If-Match): ErrNotFound when there is no such client, ErrStale when
	// match refuses the stored one.
	DeleteClientIf(ctx context.Context, id string, match func(Client) bool) error
	// DeleteUserIf is DeleteClientIf for users.
	DeleteUserIf(ctx context.Context, id string, match func(User) bool) error
	// ListClientGrantsPage returns up to q.Limit of client q.ClientID's
	// live grants (neither revoked nor expired at q.Now) with an id after
	// q.After, ordered by id (index grants_client_id).
	ListClientGrantsPage(ctx context.Context, q GrantQuery) ([]Grant, error)
}

// GrantQuery selects a page of one client's live grants.
type GrantQuery struct {
	ClientID string
	After    string
	Limit    int
	// Now is the time against which expiry is judged.
	Now time.Time
}

// ClientQuery selects a page of clients. Empty filters match everything.
type ClientQuery struct {
	After string
	Limit int
	// IDPrefix keeps ids that start with it (served by the primary key).
	IDPrefix string
	Source   string
	// GrantType keeps clients that may use it.
	GrantType string
}

// UserQuery selects a page of users. Empty filters match everything.
type UserQuery struct {
	After string
	Limit int
	// UsernamePrefix keeps usernames that start with it (served by the
	// unique index on username).
	UsernamePrefix string
	// Email keeps users whose email claim equals it, ignoring case
	// (served by the expression index users_email: lower of the claim;
	// SQLite's lower folds ASCII letters only).
	Email string
}

// PrefixEnd returns the least string greater than every string that
// starts with p, for a range scan id >= p AND id < PrefixEnd(p); "" when
// there is none (p is empty or all 0xff bytes).
func PrefixEnd(p string) string {
	b := []byte(p)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1])
		}
	}
	return ""
}

// ConfigSyncStore serves the sync of the config file at start-up: the
// records an earlier file created, found by an index on their source, and
// the verifiers that let an unchanged typed secret keep its hash without
// running argon2id again.
type ConfigSyncStore interface {
	// SourcedIDs returns the ids of the clients and the usernames of the
	// users whose source is source.
	SourcedIDs(ctx context.Context, source string) (clientIDs, usernames []string, err error)
	// ConfigVerifier returns the verifier stored under key, or "".
	ConfigVerifier(ctx context.Context, key string) (string, error)
	// SetConfigVerifier stores verifier under key, replacing any.
	SetConfigVerifier(ctx context.Context, key, verifier string) error
}
