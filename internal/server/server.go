// Package server is Latchkey's HTTP side: every endpoint of the
// authorization server, wired in routes.go, as handlers that close over
// their dependencies.
package server

import (
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/trace"

	"github.com/latchkey/latchkey/internal/cimd"
	"github.com/latchkey/latchkey/internal/clientmeta"
	"github.com/latchkey/latchkey/internal/keys"
	"github.com/latchkey/latchkey/internal/password"
	"github.com/latchkey/latchkey/internal/protocol"
	"github.com/latchkey/latchkey/internal/safefetch"
	"github.com/latchkey/latchkey/internal/web"
)

// Deps are what the server is built from. Time and randomness are injected
// so that tests control expiry and rotation.
type Deps struct {
	Config Config
	// Store is the server's persistence; wrap it in readcache to spare the
	// hot paths a database round trip.
	Store  Store
	Keys   *keys.Manager
	Logger *slog.Logger
	// Metrics receives the server's collectors; it is also what /metrics
	// serves when it is a prometheus.Gatherer.
	Metrics prometheus.Registerer
	// SystemSecret keys the server's HMACs (refresh-token successors, CSRF).
	SystemSecret []byte
	Now          func() time.Time
	Rand         io.Reader
	// Tracing, when set, traces every request: a server span, spans for
	// token signing, and whatever spans the store makes (wrap it in
	// storetrace). Nil turns tracing off at no cost.
	Tracing trace.TracerProvider
}

// Server holds the dependencies every handler shares.
type Server struct {
	cfg         Config
	issuer      string
	prefix      string // the issuer's path, under which every endpoint lives
	st          Store
	keys        *keys.Manager
	log         *slog.Logger
	now         func() time.Time
	rand        io.Reader
	hmacKey     []byte
	grants      map[string]grantDef
	auth        map[protocol.AuthMethod]ClientAuthenticator
	proofs      *proofs
	secrets     *secretCache
	guard       *guard
	metrics     *metrics
	gatherer    prometheus.Gatherer
	promHandler http.Handler
	dummy       string // a password hash checked when the user is unknown
	hashes      hashGate
	meta        metadataCache
	origins     originCache
	pages       *web.Pages
	// httpsIssuer makes cookies Secure and __Host- prefixed.
	httpsIssuer bool
	// userCodeKey keys the stored digests of device user codes (RFC 8628).
	userCodeKey []byte
	// issuers are the trusted external issuers whose JWTs are grants (RFC 7523).
	issuers *trustedIssuers
	// cimd resolves URL client_ids (Client ID Metadata Documents), or is nil.
	cimd *cimd.Resolver
	// regPolicy is the registration policy in clientmeta's terms (RFC 7591).
	regPolicy clientmeta.Policy
	// backchannel delivers logout tokens (Back-Channel Logout 1.0).
	backchannel *backchannel
	// draining is set by Drain: /readyz answers 503.
	draining atomic.Bool
	// tracer is nil with tracing off; tracerProvider made it.
	tracer         trace.Tracer
	tracerProvider trace.TracerProvider
	// factorSeal seals TOTP secrets at rest as the signing keys are
	// sealed (the system secret, a key of its own); recoveryKey keys the
	// digests of recovery codes.
	factorSeal *keys.Sealer
	// rp is the WebAuthn relying party (passkeys), nil when the issuer's
	// host cannot be one.
	rp          *webauthn.WebAuthn
	recoveryKey []byte
}

// New returns the server's http.Handler.
func New(d Deps) (http.Handler, error) {
	s, err := newServer(d)
	if err != nil {
		return nil, err
	}
	return s.routes(), nil
}

// NewServer returns the server, for what other packages call on it (the
// admin API ends sessions with EndSession), and its http.Handler.
func NewServer(d Deps) (*Server, http.Handler, error) {
	s, err := newServer(d)
	if err != nil {
		return nil, nil, err
	}
	return s, s.routes(), nil
}

func newServer(d Deps) (*Server, error) {
	if d.Store == nil || d.Keys == nil || d.Now == nil || d.Rand == nil || len(d.SystemSecret) < 16 {
		return nil, errMissingDeps
	}
	cfg, err := d.Config.withDefaults()
	if err != nil {
		return nil, err
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Metrics == nil {
		d.Metrics = prometheus.NewRegistry()
	}
	u, _ := url.Parse(cfg.Issuer) // withDefaults parsed it
	// One SSRF guard fetches every key set: clients' and trusted issuers'.
	if cfg.JWKSFetcher == nil {
		cfg.JWKSFetcher = safefetch.New(safefetch.Options{AllowLoopback: cfg.ClientAssertions.AllowLoopbackJWKS})
	}
	s := &Server{
		cfg:     cfg,
		issuer:  cfg.Issuer,
		prefix:  strings.TrimSuffix(u.Path, "/"),
		st:      d.Store,
		keys:    d.Keys,
		log:     d.Logger,
		now:     d.Now,
		rand:    d.Rand,
		hmacKey: deriveKey(d.SystemSecret, "latchkey server hmac v1"),
		grants:  grantsByType(),
		secrets: newSecretCache(4096, 5*time.Minute),
		hashes:  newHashGate(runtime.GOMAXPROCS(0)),
		guard:   newGuard(d.Store, cfg.Limits),
	}
	// A key of its own: a user code digest must never equal a MAC the
	// server hands out under hmacKey (a CSRF token).
	s.userCodeKey = deriveKey(d.SystemSecret, "latchkey device user code v1")
	s.recoveryKey = deriveKey(d.SystemSecret, "latchkey recovery codes v1")
	if s.factorSeal, err = keys.NewSealer(d.SystemSecret, "latchkey totp secrets v1", d.Rand); err != nil {
		return nil, err
	}
	s.proofs = newProofs(cfg.DPoP, d.Store, d.Now, d.SystemSecret)
	s.auth = s.authenticators(cfg.ClientAuthenticators)
	s.regPolicy = s.registrationPolicy()
	s.backchannel = newBackchannel(cfg, d.Logger)
	if s.issuers, err = newTrustedIssuers(s, cfg, cfg.JWKSFetcher); err != nil {
		return nil, err
	}
	if s.cimd, err = s.newResolver(d.Store); err != nil {
		return nil, err
	}
	if s.metrics, err = newMetrics(d.Metrics); err != nil {
		return nil, err
	}
	if g, ok := d.Metrics.(prometheus.Gatherer); ok {
		s.gatherer = g
		s.promHandler = promhttp.HandlerFor(g, promhttp.HandlerOpts{})
	}
	if d.Tracing != nil {
		s.tracerProvider, s.tracer = d.Tracing, d.Tracing.Tracer(scope)
	}
	s.httpsIssuer = u.Scheme == "https"
	if s.rp, err = newRelyingParty(cfg.Issuer); err != nil {
		// An issuer at an IP address cannot be a relying party: no passkeys.
		s.log.Warn("passkeys are off", "err", err)
		s.rp, err = nil, nil
	}
	if s.pages, err = web.Parse(); err != nil {
		return nil, err
	}
	if s.dummy, err = password.Hash("latchkey-timing-equaliser", cfg.Passwords, d.Rand); err != nil {
		return nil, err
	}
	return s, nil
}

// endpoint is the absolute URL of one of the server's paths.
func (s *Server) endpoint(path string) string { return s.issuer + path }
