// Package loadgen is a load generator for any OAuth 2 authorization
// server: a fixed number of workers send one kind of request (a grant of
// RFC 6749, a token introspection of RFC 7662, or the whole authorization
// code flow walked headless through the server's HTML forms) as fast as
// the server answers, and the latency of every successful request goes
// into an HDR histogram.
//
// The rules that keep the numbers honest: only successes make the rate;
// failures are counted and grouped by HTTP status and OAuth error code;
// requests count when they complete inside the measured window, which
// starts after the warm-up; requests still in flight when it ends are
// cancelled and not counted.
package loadgen

import (
	"crypto/rand"
	"errors"
	"fmt"
	"github.com/latchkey/latchkey/internal/protocol"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// MaxConcurrency bounds the workers: each keeps its own latency histogram
// (about 150 KiB) so that recording needs no lock.
const MaxConcurrency = 4096

// Grant names what one request of a run is.
type Grant string

// The grants a run can measure.
const (
	// ClientCredentials is one token request with the client credentials grant (RFC 6749 §4.4).
	ClientCredentials Grant = "client-credentials"
	// Password is one token request with the password grant (RFC 6749 §4.3).
	Password Grant = "password"
	// Refresh is one rotation of a refresh token each worker holds (RFC 6749 §6).
	Refresh Grant = "refresh"
	// Introspect is one request to the introspection endpoint (RFC 7662 §2).
	Introspect Grant = "introspect"
	// AuthorizationCode is the whole code flow with PKCE (RFC 6749 §4.1, RFC 7636):
	// authorization request, login and consent forms, and the code exchange.
	AuthorizationCode Grant = "authorization-code"
	// TokenExchange is one token exchange (RFC 8693 §2.1) of a subject
	// access token for a new one.
	TokenExchange Grant = "token-exchange"
	// JWTBearer is one token request with the JWT bearer grant (RFC 7523
	// §2.1), presenting Config.Assertion every time: its issuer must be
	// one that allows token reuse, or every request after the first is
	// refused as a replay.
	JWTBearer Grant = "jwt-bearer"
)

// Grants lists every grant in the order the help text shows them.
func Grants() []Grant {
	return []Grant{ClientCredentials, Password, Refresh, Introspect, AuthorizationCode, TokenExchange, JWTBearer}
}

// Config describes one run. The zero values of the tuning fields take
// the defaults named on each.
type Config struct {
	// Issuer is the authorization server's issuer identifier; the endpoints
	// come from its metadata (RFC 8414, or OpenID Connect discovery).
	Issuer string
	// Grant is what one request is (default ClientCredentials).
	Grant Grant

	ClientID     string
	ClientSecret string
	// AuthMethod is how the client authenticates: protocol.AuthBasic
	// (client_secret_basic, the default; id and secret form-urlencoded
	// first, RFC 6749 §2.3.1) or protocol.AuthPost (client_secret_post). A
	// client without a secret sends only client_id in the body, as a public
	// client does.
	AuthMethod protocol.AuthMethod

	// Username and Password are the resource owner's: for Password, for
	// the login form of AuthorizationCode, and for Refresh, whose workers
	// get their refresh tokens with them (untimed).
	Username, Password string
	// Scope is sent as the scope parameter when not empty.
	Scope string
	// RedirectURI is the client's redirect URI in the code flow. It is
	// required by AuthorizationCode; given to Refresh, the workers get
	// their refresh tokens by the code flow instead of the password grant.
	RedirectURI string
	// Assertion is the JWT that JWTBearer presents (a Kubernetes service
	// account token, a CI provider's OIDC token).
	Assertion string
	// Token is the token Introspect asks about, or the subject token
	// TokenExchange trades (default: one access token taken before the
	// run, by the password grant when there is a username, else by the
	// client credentials grant).
	Token string
	// FreshSession gives every AuthorizationCode flow a new cookie jar, so
	// every request signs in through the login form. By default each worker
	// keeps its cookies, and the server may then skip login and consent.
	FreshSession bool
	// DPoP sends a fresh DPoP proof (RFC 9449 §4) with every token
	// request, made with the worker's own ES256 key (one per worker,
	// generated before the run), so the proof's cost is part of the
	// client's work. The worker takes the server's DPoP-Nonce and retries
	// once when asked to use it (§8). An answer that is not DPoP-bound
	// (token_type other than DPoP) is a failure. Not for Introspect, which
	// takes no proof.
	DPoP bool

	// Concurrency is the number of workers (default 16, at most
	// MaxConcurrency).
	Concurrency int
	// Duration is the length of the measured window (default 10 s) when
	// Requests is zero.
	Duration time.Duration
	// Requests, when not zero, ends the run when that many requests have
	// completed in the measured window, successes and failures together.
	Requests int64
	// Warmup is run, untimed and uncounted, before the window (0: none).
	Warmup time.Duration
	// Timeout bounds each HTTP request (default 10 s).
	Timeout time.Duration
	// Rate, when positive, caps the requests per second that the workers
	// send together, warm-up included: a long run at a fixed load (a soak)
	// then sees the same traffic whatever else the machine does. A worker
	// still waits for each answer, so a slow server gets less than Rate.
	Rate float64

	// Progress, when set, is called about once a second from one goroutine
	// while the run lasts, never after Run returns.
	Progress func(Progress)
	// Transport sends every request (default: a transport made for the run,
	// keep-alive with an idle connection per worker).
	Transport http.RoundTripper
	// Rand is the source of PKCE verifiers and state values (default
	// crypto/rand.Reader). It must be safe for concurrent use.
	Rand io.Reader
}

// Progress is a snapshot of a running measurement.
type Progress struct {
	// Warmup is true before the measured window begins.
	Warmup bool
	// Elapsed is the time since the window began (or, in the warm-up, since
	// the run began).
	Elapsed time.Duration
	// Completed and Failed count the requests of the window so far; Completed
	// includes Failed.
	Completed, Failed int64
	// Rate is the successes per second over the last tick.
	Rate float64
}

// Check reports what makes c unusable, naming the missing input. It
// checks only c itself; discovery and the first requests come later.
func (c Config) Check() error {
	c = c.withDefaults()
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Issuer == "" {
		add("the issuer URL is required")
	} else if u, err := url.Parse(c.Issuer); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		add("the issuer %q is not an http or https URL", c.Issuer)
	}
	if c.ClientID == "" {
		add("the client id is required")
	}
	if !c.AuthMethod.UsesSecret() {
		add("the client authentication method must be %s or %s, not %q", protocol.AuthBasic, protocol.AuthPost, c.AuthMethod)
	}
	errs = append(errs, c.checkGrant()...)
	switch {
	case c.Concurrency < 1 || c.Concurrency > MaxConcurrency:
		add("the concurrency must be from 1 to %d", MaxConcurrency)
	case c.Requests < 0:
		add("the number of requests must be positive")
	case c.Requests == 0 && c.Duration <= 0:
		add("the duration must be positive")
	case c.Warmup < 0:
		add("the warm-up cannot be negative")
	case c.Timeout <= 0:
		add("the timeout must be positive")
	case c.Rate < 0:
		add("the rate cannot be negative")
	}
	return errors.Join(errs...)
}

// checkGrant reports the inputs c.Grant needs and does not have.
func (c Config) checkGrant() []error {
	var errs []error
	needLogin := func(what string) {
		if c.Username == "" || c.Password == "" {
			errs = append(errs, fmt.Errorf("%s needs the user's username and password", what))
		}
	}
	needRedirect := func(what string) {
		if c.RedirectURI == "" {
			errs = append(errs, fmt.Errorf("%s needs the client's redirect URI", what))
		} else if u, err := url.Parse(c.RedirectURI); err != nil || !u.IsAbs() {
			errs = append(errs, fmt.Errorf("the redirect URI %q is not an absolute URI", c.RedirectURI))
		}
	}
	switch c.Grant {
	case ClientCredentials, Introspect, TokenExchange:
		if c.ClientSecret == "" {
			errs = append(errs, fmt.Errorf("%s needs the client secret", c.Grant))
		}
	case Password:
		needLogin("the password grant")
	case Refresh:
		needLogin("refresh (to get each worker's first refresh token)")
		if c.RedirectURI != "" {
			needRedirect("refresh through the code flow")
		}
	case AuthorizationCode:
		needRedirect("the authorization code flow")
		needLogin("the authorization code flow (to sign in)")
	case JWTBearer:
		if c.ClientSecret == "" {
			errs = append(errs, fmt.Errorf("%s needs the client secret", c.Grant))
		}
		if c.Assertion == "" {
			errs = append(errs, fmt.Errorf("%s needs the assertion to present", c.Grant))
		}
	default:
		errs = append(errs, fmt.Errorf("unknown grant %q: use one of %s", c.Grant, joinGrants()))
	}
	if c.Assertion != "" && c.Grant != JWTBearer {
		errs = append(errs, errors.New("an assertion is only for the jwt-bearer grant"))
	}
	if c.Token != "" && c.Grant != Introspect && c.Grant != TokenExchange {
		errs = append(errs, errors.New("a token is only for the introspect and token-exchange grants"))
	}
	if c.DPoP && c.Grant == Introspect {
		errs = append(errs, errors.New("DPoP proofs are for token requests, not for the introspect grant"))
	}
	if c.FreshSession && c.Grant != AuthorizationCode {
		errs = append(errs, errors.New("fresh sessions are only for the authorization-code grant"))
	}
	return errs
}

func joinGrants() string {
	var s []string
	for _, g := range Grants() {
		s = append(s, string(g))
	}
	return strings.Join(s, ", ")
}

// withDefaults fills the zero tuning fields.
func (c Config) withDefaults() Config {
	if c.Grant == "" {
		c.Grant = ClientCredentials
	}
	if c.AuthMethod == "" {
		c.AuthMethod = protocol.AuthBasic
	}
	if c.Concurrency == 0 {
		c.Concurrency = 16
	}
	if c.Duration == 0 && c.Requests == 0 {
		c.Duration = 10 * time.Second
	}
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Second
	}
	if c.Rand == nil {
		c.Rand = rand.Reader
	}
	c.Issuer = strings.TrimSuffix(c.Issuer, "/")
	return c
}
