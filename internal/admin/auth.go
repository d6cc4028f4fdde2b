package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/latchkey/latchkey/bearer"
	"github.com/latchkey/latchkey/internal/store"
)

// Scopes of the admin API. ScopeAll grants everything; the finer ones
// grant one area, and an area's write scope grants its read scope too.
const (
	ScopeAll          = "latchkey:admin"
	ScopeClientsRead  = "latchkey:admin:clients:read"
	ScopeClientsWrite = "latchkey:admin:clients:write"
	ScopeUsersRead    = "latchkey:admin:users:read"
	ScopeUsersWrite   = "latchkey:admin:users:write"
	ScopeKeysRead     = "latchkey:admin:keys:read"
	ScopeKeysWrite    = "latchkey:admin:keys:write"
	ScopeAuditRead    = "latchkey:admin:audit:read"
)

// Scopes lists every admin scope, for documentation and clients.
func Scopes() []string {
	return []string{ScopeAll, ScopeClientsRead, ScopeClientsWrite, ScopeUsersRead, ScopeUsersWrite, ScopeKeysRead, ScopeKeysWrite, ScopeAuditRead}
}

// realm names the admin API in WWW-Authenticate challenges.
const realm = "latchkey-admin"

// newValidator is the bearer Validator any resource server would use,
// pointed at this server: it reads the metadata and the JWKS from the
// authorization server's own handler in-process, so checking a token
// never makes an HTTP round trip to ourselves.
func newValidator(ctx context.Context, issuer string, oauth http.Handler, now func() time.Time, log *slog.Logger) (*bearer.Validator, error) {
	v, err := bearer.New(ctx, bearer.Config{
		Issuer: issuer, Audience: issuer, Realm: realm, Now: now, Logger: log,
		HTTPClient: &http.Client{Transport: inProcess{oauth}, Timeout: 10 * time.Second},
	})
	if err != nil {
		return nil, fmt.Errorf("admin: validate tokens of %s: %w", issuer, err)
	}
	return v, nil
}

// inProcess is an http.RoundTripper that serves requests with a handler
// instead of the network.
type inProcess struct{ h http.Handler }

func (t inProcess) RoundTrip(r *http.Request) (*http.Response, error) {
	in := r.Clone(r.Context())
	in.RequestURI = r.URL.RequestURI()
	in.RemoteAddr = "127.0.0.1:0"
	in.Host = r.URL.Host
	rec := httptest.NewRecorder() // a ResponseWriter that keeps what it is given
	t.h.ServeHTTP(rec, in)
	return rec.Result(), nil
}

// guard lets a request through to h only with a valid, unrevoked access
// token that a still-registered client obtained for itself and that
// grants scope, ScopeAll, or (for a read scope) the area's write scope.
// Token errors are bearer's own: 401 or 403 with WWW-Authenticate.
func (a *API) guard(scope string, h func(http.ResponseWriter, *http.Request) error) http.Handler {
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			writeProblem(w, r, a.log, err)
		}
	})
	fine := a.v.RequireScope(scope)(inner)
	return a.v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := bearer.ClaimsFrom(r.Context())
		if err := a.stillValid(r.Context(), c); err != nil {
			a.refuse(w, r, err)
			return
		}
		if c.HasScope(ScopeAll) || writeScopeOf(scope) != "" && c.HasScope(writeScopeOf(scope)) {
			inner.ServeHTTP(w, r)
			return
		}
		fine.ServeHTTP(w, r)
	}))
}

// writeScopeOf returns the write scope that implies a read scope, or "".
func writeScopeOf(scope string) string {
	switch scope {
	case ScopeClientsRead:
		return ScopeClientsWrite
	case ScopeUsersRead:
		return ScopeUsersWrite
	case ScopeKeysRead:
		return ScopeKeysWrite
	}
	return ""
}

// tokenRefusal is why a signature-valid token is refused.
type tokenRefusal struct {
	status      int
	code, about string
}

func (e *tokenRefusal) Error() string { return e.about }

// stillValid checks what a signature cannot: the token has not been
// revoked, its client still exists, and it is the client's own token
// (client credentials), not one a user delegated.
func (a *API) stillValid(ctx context.Context, c *bearer.Claims) error {
	if !c.IsClient() {
		return &tokenRefusal{http.StatusForbidden, "insufficient_scope",
			"the admin API takes tokens a client obtained for itself (client credentials), not a user's"}
	}
	gid, _ := c.Raw["gid"].(string)
	revoked, err := a.st.IsRevoked(ctx, c.JTI, gid)
	if err != nil {
		return err
	}
	if revoked {
		return &tokenRefusal{http.StatusUnauthorized, "invalid_token", "the token has been revoked"}
	}
	if _, err := a.st.GetClient(ctx, c.ClientID); errors.Is(err, store.ErrNotFound) {
		return &tokenRefusal{http.StatusUnauthorized, "invalid_token", "the token's client no longer exists"}
	} else if err != nil {
		return err
	}
	return nil
}

// refuse answers a token that stillValid refused, with bearer's
// challenge shape (RFC 6750 §3) and a problem body.
func (a *API) refuse(w http.ResponseWriter, r *http.Request, err error) {
	var tr *tokenRefusal
	if !errors.As(err, &tr) {
		writeProblem(w, r, a.log, err)
		return
	}
	w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm=%q, error=%q, error_description=%q`, realm, tr.code, tr.about))
	writeProblem(w, r, a.log, problem(tr.status, tr.about))
}
