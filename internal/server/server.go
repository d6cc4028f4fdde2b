// Package server is Latchkey's HTTP side: every endpoint of the
// authorization server, wired in routes.go, as handlers that close over
// their dependencies.
package server

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"runtime"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/keys"
	"github.com/latchkey/latchkey/internal/password"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/web"
)

// Deps are what the server is built from. Time and randomness are injected
// so that tests control expiry and rotation.
type Deps struct {
	Config config.Config
	Store  store.Store
	Keys   *keys.Manager
	Logger *slog.Logger
	// Metrics receives the server's collectors; it is also what /metrics
	// serves when it is a prometheus.Gatherer.
	Metrics prometheus.Registerer
	// SystemSecret keys the server's HMACs (refresh-token successors, CSRF).
	SystemSecret []byte
	Now          func() time.Time
	Rand         io.Reader
	// Changes, when set, carries a value whenever another instance or the
	// CLI changed what the server may have in its read caches (clients,
	// revocations); the server then drops them. Closing it stops the
	// goroutine that reads it.
	Changes <-chan struct{}
}

// Server holds the dependencies every handler shares.
type Server struct {
	cfg         config.Config
	issuer      string
	prefix      string // the issuer's path, under which every endpoint lives
	st          store.Store
	keys        *keys.Manager
	log         *slog.Logger
	now         func() time.Time
	rand        io.Reader
	hmacKey     []byte
	hashing     password.Params
	proxies     []netip.Prefix
	secrets     *secretCache
	guard       *guard
	metrics     *metrics
	gatherer    prometheus.Gatherer
	promHandler http.Handler
	dummy       string // a password hash checked when the user is unknown
	hashes      hashGate
	revocations *readCache[revocationKey, bool]
	clients     *readCache[string, store.Client]
	meta        metadataCache
	origins     originCache
	pages       *web.Pages
	// httpsIssuer makes cookies Secure and __Host- prefixed.
	httpsIssuer bool
}

// New returns the server's http.Handler.
func New(d Deps) (http.Handler, error) {
	s, err := newServer(d)
	if err != nil {
		return nil, err
	}
	return s.routes(), nil
}

func newServer(d Deps) (*Server, error) {
	if d.Store == nil || d.Keys == nil || d.Now == nil || d.Rand == nil || len(d.SystemSecret) < 16 {
		return nil, errors.New("server: store, keys, clock, randomness and a system secret are required")
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Metrics == nil {
		d.Metrics = prometheus.NewRegistry()
	}
	issuer := d.Config.IssuerURL()
	u, err := url.Parse(issuer)
	if err != nil {
		return nil, fmt.Errorf("server: issuer: %w", err)
	}
	s := &Server{
		cfg:     d.Config,
		issuer:  issuer,
		prefix:  strings.TrimSuffix(u.Path, "/"),
		st:      d.Store,
		keys:    d.Keys,
		log:     d.Logger,
		now:     d.Now,
		rand:    d.Rand,
		hmacKey: deriveKey(d.SystemSecret, "latchkey server hmac v1"),
		hashing: password.Params{
			MemoryKiB:   d.Config.Passwords.MemoryKiB,
			Iterations:  d.Config.Passwords.Iterations,
			Parallelism: d.Config.Passwords.Parallelism,
		},
		secrets: newSecretCache(4096, 5*time.Minute),
		hashes:  newHashGate(runtime.GOMAXPROCS(0)),
	}
	ttl := d.Config.Database.CacheTTL.D()
	s.revocations = newReadCache[revocationKey, bool](ttl, revocationCacheSize)
	s.clients = newReadCache[string, store.Client](ttl, clientCacheSize)
	purge := func() { s.revocations.purge(); s.clients.purge() }
	s.st = purgingStore{Store: d.Store, purge: purge}
	if d.Changes != nil {
		go func() {
			for range d.Changes {
				purge()
			}
		}()
	}
	if s.proxies, err = parsePrefixes(d.Config.TrustedProxies); err != nil {
		return nil, err
	}
	if s.metrics, err = newMetrics(d.Metrics); err != nil {
		return nil, err
	}
	if g, ok := d.Metrics.(prometheus.Gatherer); ok {
		s.gatherer = g
		s.promHandler = promhttp.HandlerFor(g, promhttp.HandlerOpts{})
	}
	s.guard = newGuard(d.Store, d.Config.Limits)
	s.httpsIssuer = u.Scheme == "https"
	if s.pages, err = web.Parse(); err != nil {
		return nil, err
	}
	if s.dummy, err = password.Hash("latchkey-timing-equaliser", s.hashing, d.Rand); err != nil {
		return nil, err
	}
	return s, nil
}

func parsePrefixes(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, p := range list {
		if pfx, err := netip.ParsePrefix(p); err == nil {
			out = append(out, pfx.Masked())
			continue
		}
		addr, err := netip.ParseAddr(p)
		if err != nil {
			return nil, fmt.Errorf("server: trusted proxy %q is neither an IP nor a CIDR", p)
		}
		out = append(out, netip.PrefixFrom(addr.Unmap(), addr.Unmap().BitLen()))
	}
	return out, nil
}

// endpoint is the absolute URL of one of the server's paths.
func (s *Server) endpoint(path string) string { return s.issuer + path }
