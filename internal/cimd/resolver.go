package cimd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/latchkey/latchkey/internal/safefetch"
	"github.com/latchkey/latchkey/internal/store"
)

// Defaults of Config.
const (
	DefaultMinTTL     = time.Minute
	DefaultMaxTTL     = 24 * time.Hour
	DefaultTTL        = 5 * time.Minute
	DefaultFailureTTL = 30 * time.Second
	DefaultMaxEntries = 1000
	DefaultTimeout    = 3 * time.Second
)

// ErrRegistered is returned by Resolve when the client_id belongs to a
// client registered by other means (the config file, the CLI): that
// registration wins and no document is fetched.
var ErrRegistered = errors.New("cimd: the client is registered, not resolved from a document")

// ClientStore is where resolved clients are kept: codes, grants and tokens
// refer to clients by id, so a resolved client needs its row.
type ClientStore interface {
	// GetClient returns the client with id, or store.ErrNotFound. It
	// should read past any cache.
	GetClient(ctx context.Context, id string) (store.Client, error)
	// UpsertClient creates c or replaces the client with its id.
	UpsertClient(ctx context.Context, c store.Client) error
}

// Config configures a Resolver. Zero durations and sizes take the defaults.
type Config struct {
	// Fetch fetches documents; build it from FetchOptions so that it
	// follows no redirect and reads at most MaxDocumentBytes.
	Fetch *safefetch.Client
	Store ClientStore
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Hosts are the client hosts allowed.
	Hosts Hosts
	// Policy bounds what resolved clients may be granted.
	Policy Policy
	// MinTTL and MaxTTL bound how long a document is used, whatever its
	// caching headers say; DefaultTTL applies when they say nothing.
	MinTTL, MaxTTL, DefaultTTL time.Duration
	// FailureTTL is how long a failed fetch or an invalid document is
	// remembered before the URL is fetched again.
	FailureTTL time.Duration
	// MaxEntries bounds the URLs remembered.
	MaxEntries int
	Log        *slog.Logger
}

// FetchOptions returns o adjusted for metadata documents: no redirect is
// followed (the draft, §4.1), bodies are capped at MaxDocumentBytes, and
// a fetch lasts DefaultTimeout unless o sets a timeout.
func FetchOptions(o safefetch.Options) safefetch.Options {
	o.MaxBytes, o.MaxRedirects = MaxDocumentBytes, -1
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	return o
}

// Resolver turns client_id URLs into clients. A URL's outcome, a client or
// the reason it is refused, is remembered for its freshness lifetime (or
// FailureTTL), so a cached client costs neither a fetch nor a write;
// concurrent callers share one fetch. It is safe for concurrent use.
type Resolver struct {
	cfg   Config
	group singleflight.Group

	mu      sync.Mutex
	entries map[string]*entry
}

// entry is what is known about one client_id URL until expires.
type entry struct {
	client     store.Client
	err        error
	registered bool
	expires    time.Time
}

// NewResolver returns a Resolver for cfg; cfg.Fetch and cfg.Store are required.
func NewResolver(cfg Config) (*Resolver, error) {
	if cfg.Fetch == nil || cfg.Store == nil {
		return nil, errors.New("cimd: a fetcher and a store are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	setD := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	setD(&cfg.MinTTL, DefaultMinTTL)
	setD(&cfg.MaxTTL, DefaultMaxTTL)
	setD(&cfg.DefaultTTL, DefaultTTL)
	setD(&cfg.FailureTTL, DefaultFailureTTL)
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = DefaultMaxEntries
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Resolver{cfg: cfg, entries: map[string]*entry{}}, nil
}

// Resolve returns the client whose metadata document is at clientID. The
// error wraps ErrNotAllowed, ErrInvalidDocument or ErrUnavailable (all
// the client's fault or its host's), ErrRegistered, or is the store's.
func (r *Resolver) Resolve(ctx context.Context, clientID string) (store.Client, error) {
	// Only URLs that passed the checks below are ever remembered.
	if e := r.cached(clientID, r.cfg.Now()); e != nil {
		return e.result()
	}
	u, err := CheckURL(clientID)
	if err != nil {
		return store.Client{}, err
	}
	if !r.cfg.Hosts.Allowed(u.Hostname()) {
		return store.Client{}, fmt.Errorf("%w: this server does not accept clients from %s", ErrNotAllowed, u.Hostname())
	}
	ch := r.group.DoChan(clientID, func() (any, error) {
		// The fetch outlives a caller that gives up: others may wait
		// for it, and the fetcher bounds its time.
		return r.refresh(context.WithoutCancel(ctx), clientID), nil
	})
	select {
	case res := <-ch:
		return res.Val.(*entry).result()
	case <-ctx.Done():
		return store.Client{}, fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err())
	}
}

func (e *entry) result() (store.Client, error) {
	switch {
	case e.registered:
		return store.Client{}, ErrRegistered
	case e.err != nil:
		return store.Client{}, e.err
	}
	return e.client, nil
}

// cached returns the entry for clientID if it is still fresh at now.
func (r *Resolver) cached(clientID string, now time.Time) *entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e := r.entries[clientID]; e != nil && now.Before(e.expires) {
		return e
	}
	return nil
}

// refresh finds out what clientID is now and remembers it.
func (r *Resolver) refresh(ctx context.Context, clientID string) *entry {
	now := r.cfg.Now()
	if e := r.cached(clientID, now); e != nil { // a flight that ended just before ours began
		return e
	}
	e := r.lookup(ctx, clientID, now)
	if e.expires.After(now) {
		r.remember(clientID, e, now)
	}
	return e
}

// lookup fetches and validates the document and brings the client's row
// up to date.
func (r *Resolver) lookup(ctx context.Context, clientID string, now time.Time) *entry {
	existing, err := r.cfg.Store.GetClient(ctx, clientID)
	switch {
	case err == nil && existing.Source != Source:
		return &entry{registered: true, expires: now.Add(r.cfg.MinTTL)}
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return &entry{err: fmt.Errorf("cimd: look up client: %w", err)} // not remembered
	}
	c, ttl, err := r.fetch(ctx, clientID, now)
	if err != nil {
		r.cfg.Log.WarnContext(ctx, "client metadata document refused", "client_id", clientID, "reason", err.Error())
		return &entry{err: err, expires: now.Add(r.cfg.FailureTTL)}
	}
	if existing.ID != "" && sameRegistration(existing, c) {
		c = existing
	} else {
		c.CreatedAt, c.UpdatedAt = now, now
		if existing.ID != "" {
			c.CreatedAt = existing.CreatedAt
		}
		if err := r.cfg.Store.UpsertClient(ctx, c); err != nil {
			return &entry{err: fmt.Errorf("cimd: save client: %w", err)} // not remembered
		}
	}
	return &entry{client: c, expires: now.Add(ttl)}
}

// fetch gets and validates the document, and says how long it may be used.
func (r *Resolver) fetch(ctx context.Context, clientID string, now time.Time) (store.Client, time.Duration, error) {
	body, h, err := r.cfg.Fetch.Get(ctx, clientID)
	if err != nil {
		return store.Client{}, 0, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if len(body) > MaxDocumentBytes {
		return store.Client{}, 0, fmt.Errorf("%w: larger than %d bytes", ErrInvalidDocument, MaxDocumentBytes)
	}
	if err := CheckContentType(h.Get("Content-Type")); err != nil {
		return store.Client{}, 0, err
	}
	c, err := ParseDocument(clientID, body, r.cfg.Policy)
	if err != nil {
		return store.Client{}, 0, err
	}
	ttl := min(max(freshness(h, now, r.cfg.DefaultTTL), r.cfg.MinTTL), r.cfg.MaxTTL)
	return c, ttl, nil
}

// remember stores e, making room by dropping expired entries and then
// the one that expires first.
func (r *Resolver) remember(clientID string, e *entry, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.entries[clientID]; !ok && len(r.entries) >= r.cfg.MaxEntries {
		var first string
		for id, old := range r.entries {
			if !now.Before(old.expires) {
				delete(r.entries, id)
				continue
			}
			if first == "" || old.expires.Before(r.entries[first].expires) {
				first = id
			}
		}
		if len(r.entries) >= r.cfg.MaxEntries {
			delete(r.entries, first)
		}
	}
	r.entries[clientID] = e
}

// Forget drops what is remembered about clientID, so the next Resolve
// fetches it again.
func (r *Resolver) Forget(clientID string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.entries, clientID)
}

// Len is how many URLs are remembered.
func (r *Resolver) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.entries)
}

// sameRegistration reports whether two records describe the same client,
// timestamps aside (the store gives empty lists back as nil).
func sameRegistration(a, b store.Client) bool {
	norm := func(c store.Client) store.Client {
		c.CreatedAt, c.UpdatedAt = time.Time{}, time.Time{}
		for _, l := range []*[]string{&c.RedirectURIs, &c.PostLogoutRedirectURIs, &c.GrantTypes, &c.Scopes,
			&c.DefaultScopes, &c.Audience, &c.Resources, &c.TokenExchange.AllowedSubjectClients} {
			if len(*l) == 0 {
				*l = nil
			}
		}
		return c
	}
	return reflect.DeepEqual(norm(a), norm(b))
}
