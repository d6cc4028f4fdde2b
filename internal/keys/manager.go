package keys

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/latchkey/latchkey/internal/audit"
	"io"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey/internal/store"
)

// Options configure a Manager.
type Options struct {
	// ActivationDelay is how long a new key is published before it signs.
	ActivationDelay time.Duration
	// Retention is how long a replaced key stays published: at least the
	// longest lifetime of a token it may have signed.
	Retention time.Duration
	Now       func() time.Time
	Rand      io.Reader
	Logger    *slog.Logger
	// Audit records key.rotated for every key added or removed; nil
	// records nothing.
	Audit audit.Recorder
}

// Manager serves the current signing keys and the JWKS. It reads a snapshot
// of the store's keys and swaps it atomically on Reload, so signing and
// verification take no lock.
type Manager struct {
	st     store.KeyStore
	seal   *Sealer
	opts   Options
	snap   atomic.Pointer[snapshot]
	reload sync.Mutex
}

type snapshot struct {
	// byAlg holds each algorithm's keys ordered by ActiveAt.
	byAlg map[string][]*loaded
	byKID map[string]*loaded
	jwks  []byte
	// builtAt is when the snapshot was read; the JWKS reflects that moment.
	builtAt time.Time
}

// NewManager returns a Manager over st whose private keys are sealed with
// systemSecret. Call Init before use.
func NewManager(st store.KeyStore, systemSecret []byte, opts Options) (*Manager, error) {
	s, err := newSealer(systemSecret, opts.Rand)
	if err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Audit == nil {
		opts.Audit = audit.Nop{}
	}
	return &Manager{st: st, seal: s, opts: opts}, nil
}

// Init makes sure every algorithm has a key (creating them on first start;
// among instances starting together only one key per algorithm is stored)
// and loads them.
func (m *Manager) Init(ctx context.Context) error {
	now := m.opts.Now()
	have, err := m.st.ListKeys(ctx)
	if err != nil {
		return fmt.Errorf("keys: list: %w", err)
	}
	for _, alg := range Algorithms() {
		if hasAlg(have, alg) {
			continue
		}
		k, err := generate(alg, m.opts.Rand, m.seal, now, now)
		if err != nil {
			return err
		}
		added, err := m.st.AddKey(ctx, k, time.Time{})
		if err != nil {
			return fmt.Errorf("keys: add %s key: %w", alg, err)
		}
		if added {
			m.opts.Logger.InfoContext(ctx, "generated signing key", "alg", alg, "kid", k.KID)
			m.recordKey(ctx, "generated", k)
		}
	}
	return m.Reload(ctx)
}

func hasAlg(keys []store.Key, alg string) bool {
	for _, k := range keys {
		if k.Alg == alg {
			return true
		}
	}
	return false
}

// Rotate stages a new key for every algorithm: published at once, signing
// after the activation delay. It returns the new keys.
func (m *Manager) Rotate(ctx context.Context) ([]store.Key, error) {
	now := m.opts.Now()
	var added []store.Key
	for _, alg := range Algorithms() {
		k, err := generate(alg, m.opts.Rand, m.seal, now, now.Add(m.opts.ActivationDelay))
		if err != nil {
			return added, err
		}
		ok, err := m.st.AddKey(ctx, k, now)
		if err != nil {
			return added, fmt.Errorf("keys: add %s key: %w", alg, err)
		}
		if ok {
			added = append(added, k)
			m.opts.Logger.InfoContext(ctx, "staged signing key", "alg", alg, "kid", k.KID, "active_at", k.ActiveAt)
			m.recordKey(ctx, "staged", k)
		}
	}
	return added, m.Reload(ctx)
}

// RotateIfDue stages a new key for each algorithm whose newest key is older
// than period. Several instances may call it at once: the store lets only
// one key per algorithm and period through.
func (m *Manager) RotateIfDue(ctx context.Context, period time.Duration) (int, error) {
	now := m.opts.Now()
	have, err := m.st.ListKeys(ctx)
	if err != nil {
		return 0, fmt.Errorf("keys: list: %w", err)
	}
	n := 0
	for _, alg := range Algorithms() {
		if newest(have, alg).After(now.Add(-period)) {
			continue
		}
		k, err := generate(alg, m.opts.Rand, m.seal, now, now.Add(m.opts.ActivationDelay))
		if err != nil {
			return n, err
		}
		ok, err := m.st.AddKey(ctx, k, now.Add(-period))
		if err != nil {
			return n, fmt.Errorf("keys: add %s key: %w", alg, err)
		}
		if ok {
			n++
			m.opts.Logger.InfoContext(ctx, "rotated signing key", "alg", alg, "kid", k.KID, "active_at", k.ActiveAt)
			m.recordKey(ctx, "rotated", k)
		}
	}
	if n > 0 {
		return n, m.Reload(ctx)
	}
	return 0, nil
}

func newest(keys []store.Key, alg string) time.Time {
	var t time.Time
	for _, k := range keys {
		if k.Alg == alg && k.CreatedAt.After(t) {
			t = k.CreatedAt
		}
	}
	return t
}

// Prune deletes keys that were replaced longer than Retention ago, so
// nothing they signed can still be valid. It returns how many went.
func (m *Manager) Prune(ctx context.Context) (int, error) {
	now := m.opts.Now()
	have, err := m.st.ListKeys(ctx)
	if err != nil {
		return 0, fmt.Errorf("keys: list: %w", err)
	}
	n := 0
	for _, k := range have {
		if retiredAt, ok := retirement(have, k); ok && !now.Before(retiredAt.Add(m.opts.Retention)) {
			if err := m.st.DeleteKey(ctx, k.KID); err != nil && !errors.Is(err, store.ErrNotFound) {
				return n, fmt.Errorf("keys: delete %s: %w", k.KID, err)
			}
			m.recordKey(ctx, "retired", k)
			n++
		}
	}
	if n > 0 {
		return n, m.Reload(ctx)
	}
	return 0, nil
}

// recordKey records key.rotated for k (its kid and algorithm, never key
// material); action is generated, staged, rotated or retired.
func (m *Manager) recordKey(ctx context.Context, action string, k store.Key) {
	m.opts.Audit.Record(ctx, audit.Event{Time: m.opts.Now(), Type: audit.KeyRotated, Actor: "system",
		Details: map[string]string{"action": action, "kid": k.KID, "alg": k.Alg}})
}

// retirement is when k stopped signing: when the next key of its algorithm
// became active, if one has.
func retirement(all []store.Key, k store.Key) (time.Time, bool) {
	var next time.Time
	found := false
	for _, o := range all {
		if o.Alg != k.Alg || o.KID == k.KID || !o.ActiveAt.After(k.ActiveAt) {
			continue
		}
		if !found || o.ActiveAt.Before(next) {
			next, found = o.ActiveAt, true
		}
	}
	return next, found
}

// Reload reads the keys from the store and swaps in a new snapshot.
func (m *Manager) Reload(ctx context.Context) error {
	m.reload.Lock()
	defer m.reload.Unlock()
	recs, err := m.st.ListKeys(ctx)
	if err != nil {
		return fmt.Errorf("keys: list: %w", err)
	}
	old := m.snap.Load()
	snap := &snapshot{byAlg: map[string][]*loaded{}, byKID: map[string]*loaded{}, builtAt: m.opts.Now()}
	for _, rec := range recs {
		var l *loaded
		if old != nil && old.byKID[rec.KID] != nil {
			l = old.byKID[rec.KID]
		} else if l, err = load(rec, m.seal); err != nil {
			return err
		}
		snap.byAlg[rec.Alg] = append(snap.byAlg[rec.Alg], l)
		snap.byKID[rec.KID] = l
	}
	for _, ls := range snap.byAlg {
		sort.Slice(ls, func(i, j int) bool { return ls[i].rec.ActiveAt.Before(ls[j].rec.ActiveAt) })
	}
	if snap.jwks, err = m.buildJWKS(snap, recs); err != nil {
		return err
	}
	m.snap.Store(snap)
	return nil
}

func (m *Manager) buildJWKS(snap *snapshot, recs []store.Key) ([]byte, error) {
	now := snap.builtAt
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	for _, alg := range Algorithms() {
		for _, l := range snap.byAlg[alg] {
			if retiredAt, ok := retirement(recs, l.rec); ok && !now.Before(retiredAt.Add(m.opts.Retention)) {
				continue
			}
			set.Keys = append(set.Keys, l.public)
		}
	}
	b, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("keys: marshal JWKS: %w", err)
	}
	return b, nil
}

// ErrNoKey reports that no key of the requested algorithm is loaded.
var ErrNoKey = errors.New("keys: no signing key")

// Signer returns the signer of the current key of alg for JWTs of type typ
// ("at+jwt" or "JWT"): the newest key whose activation time has passed, or,
// if none has, the oldest staged one (it is published already).
func (m *Manager) Signer(alg, typ string) (jose.Signer, error) {
	snap := m.snap.Load()
	if snap == nil {
		return nil, ErrNoKey
	}
	ls := snap.byAlg[alg]
	if len(ls) == 0 {
		return nil, fmt.Errorf("%w for %s", ErrNoKey, alg)
	}
	now := m.opts.Now()
	cur := ls[0]
	for _, l := range ls[1:] {
		if !l.rec.ActiveAt.After(now) {
			cur = l
		}
	}
	s, ok := cur.signers[typ]
	if !ok {
		return nil, fmt.Errorf("keys: no signer for typ %q", typ)
	}
	return s, nil
}

// PublicKey returns the public key with kid, for verifying tokens Latchkey
// signed itself.
func (m *Manager) PublicKey(kid string) (jose.JSONWebKey, bool) {
	snap := m.snap.Load()
	if snap == nil {
		return jose.JSONWebKey{}, false
	}
	l, ok := snap.byKID[kid]
	if !ok {
		return jose.JSONWebKey{}, false
	}
	return l.public, true
}

// JWKS returns the JSON Web Key Set to publish: public keys only.
func (m *Manager) JWKS() []byte {
	if snap := m.snap.Load(); snap != nil {
		return snap.jwks
	}
	return []byte(`{"keys":[]}`)
}

// Run reloads the keys every interval (so keys another instance staged are
// published here within that bound), rotates them when period is positive,
// and prunes old ones, until ctx ends.
func (m *Manager) Run(ctx context.Context, interval, period time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if period > 0 {
			if _, err := m.RotateIfDue(ctx, period); err != nil {
				m.opts.Logger.ErrorContext(ctx, "key rotation failed", "err", err)
			}
		}
		if _, err := m.Prune(ctx); err != nil {
			m.opts.Logger.ErrorContext(ctx, "key pruning failed", "err", err)
		}
		if err := m.Reload(ctx); err != nil {
			m.opts.Logger.ErrorContext(ctx, "key reload failed", "err", err)
		}
	}
}
