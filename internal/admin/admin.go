// Package admin is Latchkey's administration API under /admin/v1: clients,
// users and signing keys as JSON resources, for automation (Terraform,
// deploy scripts, back offices) and the remote CLI. Every route needs an
// access token with an admin scope, checked by the public bearer package
// as any resource server would; errors are RFC 9457 problem details,
// updates are guarded by ETag and If-Match, and lists are keyset pages.
package admin

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/latchkey/latchkey/bearer"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/keys"
	"github.com/latchkey/latchkey/internal/password"
	"github.com/latchkey/latchkey/internal/store"
)

// Prefix is where the admin API lives.
const Prefix = "/admin/v1"

// Store is what the admin API needs from persistence: the server's store
// with its admin side. Pass the read cache the server uses, so that its
// writes purge what the server has cached.
type Store interface {
	store.Store
	store.AdminStore
}

// Deps are what the admin API is built from.
type Deps struct {
	// Issuer is the authorization server whose tokens are accepted; they
	// must name it as audience (the default for client credentials).
	Issuer string
	// OAuth is the authorization server's handler: its metadata and JWKS
	// are read from it in-process.
	OAuth http.Handler
	Store Store
	Keys  *keys.Manager
	// Sessions ends a user's session with back-channel logout (the
	// server's EndSession).
	Sessions SessionEnder
	Logger   *slog.Logger
	// Audit receives an admin.change event for every write; nil records
	// nothing.
	Audit audit.Recorder
	// Passwords are the argon2id parameters of new password hashes.
	Passwords password.Params
	Now       func() time.Time
	Rand      io.Reader
}

// SessionEnder ends the session sid of a user, sending back-channel
// logout tokens; ErrNotFound when there is no such live session.
type SessionEnder interface {
	EndSession(ctx context.Context, userID, sid, actor, via string) error
}

// API is the admin API's handler. Close it when done.
type API struct {
	st        Store
	keys      *keys.Manager
	sessions  SessionEnder
	log       *slog.Logger
	v         *bearer.Validator
	passwords password.Params
	audit     audit.Recorder
	now       func() time.Time
	rand      io.Reader
	mux       *http.ServeMux
}

// New builds the admin API; ctx bounds reading the server's metadata.
func New(ctx context.Context, d Deps) (*API, error) {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Store == nil || d.OAuth == nil || d.Keys == nil || d.Sessions == nil || d.Now == nil || d.Rand == nil {
		return nil, errors.New("admin: Store, OAuth, Keys, Sessions, Now and Rand are required")
	}
	v, err := newValidator(ctx, d.Issuer, d.OAuth, d.Now, d.Logger)
	if err != nil {
		return nil, err
	}
	if d.Audit == nil {
		d.Audit = audit.Nop{}
	}
	a := &API{st: d.Store, keys: d.Keys, sessions: d.Sessions, log: d.Logger, v: v, passwords: d.Passwords, audit: d.Audit, now: d.Now, rand: d.Rand}
	a.mux = a.routes()
	return a, nil
}

// Close stops the validator's key refresh.
func (a *API) Close() { a.v.Close() }

// ServeHTTP serves the admin API's routes.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

// Mount serves the admin API under Prefix and everything else with
// oauth: the admin API on the main listener.
func Mount(oauth http.Handler, api http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(Prefix+"/", api)
	mux.Handle("/", oauth)
	return mux
}
