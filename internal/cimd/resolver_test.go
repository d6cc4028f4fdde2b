package cimd_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/cimd"
	"github.com/latchkey/latchkey/internal/safefetch"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/sqlite"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// docHost is a client's web server publishing documents over TLS on a
// loopback listener; handle answers each request and hits counts them.
type docHost struct {
	*httptest.Server
	hits   atomic.Int64
	handle atomic.Pointer[http.HandlerFunc]
}

func newDocHost(t *testing.T) *docHost {
	h := &docHost{}
	h.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.hits.Add(1)
		(*h.handle.Load())(w, r)
	}))
	t.Cleanup(h.Close)
	return h
}

// serve makes the host answer with a document whose client_id is the
// requested URL, and the given headers.
func (h *docHost) serve(extra string, header ...string) {
	f := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		fmt.Fprintf(w, `{"client_id":%q,"client_name":"Agent","redirect_uris":["http://127.0.0.1/cb"],"logo_uri":"https://a.example/l.png","contacts":["x@a.example"]%s}`, h.URL+r.URL.RequestURI(), extra)
	})
	h.handle.Store(&f)
}

func (h *docHost) serveFunc(f http.HandlerFunc) { h.handle.Store(&f) }

// fetcher is the production policy except that loopback is reachable and
// the host's test certificate trusted.
func fetcher(h *docHost, timeout time.Duration) *safefetch.Client {
	pool := x509.NewCertPool()
	pool.AddCert(h.Certificate())
	return safefetch.New(cimd.FetchOptions(safefetch.Options{AllowLoopback: true, Timeout: timeout,
		TLSConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}))
}

type rig struct {
	host  *docHost
	st    *sqlite.Store
	clock *clock
	r     *cimd.Resolver
}

func newRig(t *testing.T, edit func(*cimd.Config)) *rig {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	g := &rig{host: newDocHost(t), st: st, clock: &clock{t: time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)}}
	g.host.serve("")
	cfg := cimd.Config{Fetch: fetcher(g.host, 2*time.Second), Store: st, Now: g.clock.now, Policy: policy}
	if edit != nil {
		edit(&cfg)
	}
	if g.r, err = cimd.NewResolver(cfg); err != nil {
		t.Fatal(err)
	}
	return g
}

func (g *rig) url(path string) string { return g.host.URL + path }

// TestResolverCachesWithinBounds: a document is fetched once, served from
// memory within its max-age, fetched again after it; max-age is clamped
// to MinTTL and MaxTTL; the client's row is written when the document
// first arrives and when it changes, not on a refetch of the same one.
func TestResolverCachesWithinBounds(t *testing.T) {
	g := newRig(t, nil)
	ctx := context.Background()
	id := g.url("/client.json")
	g.host.serve("", "Cache-Control", "max-age=600")
	c, err := g.r.Resolve(ctx, id)
	if err != nil || c.ID != id || !c.Public || c.Source != cimd.Source {
		t.Fatalf("Resolve = %+v, %v", c, err)
	}
	row, err := g.st.GetClient(ctx, id)
	if err != nil || row.Source != cimd.Source || row.Name != "Agent" {
		t.Fatalf("stored row = %+v, %v", row, err)
	}
	g.clock.advance(599 * time.Second)
	if _, err := g.r.Resolve(ctx, id); err != nil || g.host.hits.Load() != 1 {
		t.Fatalf("within max-age: err %v, %d fetches, want 1", err, g.host.hits.Load())
	}
	g.clock.advance(2 * time.Second)
	if _, err := g.r.Resolve(ctx, id); err != nil || g.host.hits.Load() != 2 {
		t.Fatalf("after max-age: err %v, %d fetches, want 2", err, g.host.hits.Load())
	}
	if again, _ := g.st.GetClient(ctx, id); !again.UpdatedAt.Equal(row.UpdatedAt) {
		t.Errorf("an unchanged document rewrote the row (updated %v, was %v)", again.UpdatedAt, row.UpdatedAt)
	}

	// A changed document updates the row.
	g.host.serve(`,"grant_types":["authorization_code","refresh_token"]`, "Cache-Control", "max-age=1")
	g.clock.advance(601 * time.Second)
	c, err = g.r.Resolve(ctx, id)
	if err != nil || len(c.GrantTypes) != 2 {
		t.Fatalf("changed document: %+v, %v", c, err)
	}
	if row, _ := g.st.GetClient(ctx, id); len(row.GrantTypes) != 2 || !row.UpdatedAt.Equal(g.clock.now()) {
		t.Errorf("row after the change = %+v", row)
	}
	// max-age=1 is held for MinTTL.
	g.clock.advance(cimd.DefaultMinTTL - time.Second)
	hits := g.host.hits.Load()
	g.r.Resolve(ctx, id)
	if g.host.hits.Load() != hits {
		t.Error("max-age below MinTTL was not raised to MinTTL")
	}
	// A year's max-age is cut to MaxTTL.
	g.host.serve("", "Cache-Control", "max-age=31536000")
	g.clock.advance(time.Minute)
	g.r.Resolve(ctx, id)
	hits = g.host.hits.Load()
	g.clock.advance(cimd.DefaultMaxTTL + time.Second)
	g.r.Resolve(ctx, id)
	if g.host.hits.Load() != hits+1 {
		t.Error("max-age above MaxTTL was not cut to MaxTTL")
	}
}

// TestResolverConcurrentFirstFetch: many requests for a URL nobody has
// fetched yet share one fetch.
func TestResolverConcurrentFirstFetch(t *testing.T) {
	g := newRig(t, nil)
	release := make(chan struct{})
	var arrived atomic.Int64
	g.host.serveFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived.Add(1)
		<-release
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"client_id":%q,"redirect_uris":["http://127.0.0.1/cb"]}`, g.host.URL+r.URL.Path)
	})
	id := g.url("/c")
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			_, err := g.r.Resolve(context.Background(), id)
			errs <- err
		})
	}
	for arrived.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // let the others pile up behind the first
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := g.host.hits.Load(); n != 1 {
		t.Errorf("%d fetches for 20 concurrent first requests, want 1", n)
	}
}

// TestResolverRefusals: what makes a document unusable, each refused with
// its error class, remembered for FailureTTL only; a document that turns
// invalid makes its client unusable.
func TestResolverRefusals(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		want    error
	}{
		{"not found", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }, cimd.ErrUnavailable},
		{"html", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprintf(w, `{"client_id":%q,"redirect_uris":["http://127.0.0.1/cb"]}`, "https://"+r.Host+r.URL.Path)
		}, cimd.ErrInvalidDocument},
		{"oversized", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"client_id":%q,"redirect_uris":["http://127.0.0.1/cb"],"pad":"%s"}`, "https://"+r.Host+r.URL.Path, strings.Repeat("x", cimd.MaxDocumentBytes))
		}, cimd.ErrUnavailable},
		{"redirect", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "https://"+r.Host+"/elsewhere", http.StatusFound)
		}, cimd.ErrUnavailable},
		{"other client_id", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"client_id":"https://other.example/c","redirect_uris":["http://127.0.0.1/cb"]}`)
		}, cimd.ErrInvalidDocument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newRig(t, nil)
			g.host.serveFunc(tc.handler)
			id := g.url("/c")
			_, err := g.r.Resolve(context.Background(), id)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Resolve = %v, want %v", err, tc.want)
			}
			if _, gerr := g.st.GetClient(context.Background(), id); !errors.Is(gerr, store.ErrNotFound) {
				t.Errorf("a refused document left a client row: %v", gerr)
			}
			hits := g.host.hits.Load()
			g.r.Resolve(context.Background(), id)
			if g.host.hits.Load() != hits {
				t.Error("a failure was fetched again at once, not remembered")
			}
			g.clock.advance(cimd.DefaultFailureTTL + time.Second)
			g.host.serve("")
			if _, err := g.r.Resolve(context.Background(), id); err != nil {
				t.Errorf("after FailureTTL a fixed document is still refused: %v", err)
			}
		})
	}

	t.Run("turns invalid", func(t *testing.T) {
		g := newRig(t, nil)
		id := g.url("/c")
		if _, err := g.r.Resolve(context.Background(), id); err != nil {
			t.Fatal(err)
		}
		g.host.serve(`,"token_endpoint_auth_method":"client_secret_basic"`)
		g.clock.advance(cimd.DefaultTTL + time.Second)
		if _, err := g.r.Resolve(context.Background(), id); !errors.Is(err, cimd.ErrInvalidDocument) {
			t.Errorf("Resolve after the document turned invalid = %v", err)
		}
	})
}

// TestResolverSlowDocument: a host that never finishes its answer is cut
// off by the fetch timeout (A25: time limits).
func TestResolverSlowDocument(t *testing.T) {
	g := newRig(t, nil)
	g.r, _ = cimd.NewResolver(cimd.Config{Fetch: fetcher(g.host, 300*time.Millisecond), Store: g.st, Now: g.clock.now})
	g.host.serveFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"client_id":`))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	_, err := g.r.Resolve(context.Background(), g.url("/slow"))
	if !errors.Is(err, cimd.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("slow document: %v, want ErrUnavailable from a deadline", err)
	}
}

// TestResolverPolicy: hosts outside the allowlist, or on the denylist,
// and URLs breaking the draft's rules are refused before any fetch; a
// client registered by other means is never overwritten.
func TestResolverPolicy(t *testing.T) {
	g := newRig(t, func(c *cimd.Config) { c.Hosts = cimd.Hosts{Allow: []string{"*.example.com"}} })
	for _, id := range []string{g.url("/c"), "http://app.example.com/c", "https://app.example.com/c#f"} {
		if _, err := g.r.Resolve(context.Background(), id); !errors.Is(err, cimd.ErrNotAllowed) {
			t.Errorf("Resolve(%q) = %v, want ErrNotAllowed", id, err)
		}
	}
	deny := newRig(t, func(c *cimd.Config) { c.Hosts = cimd.Hosts{Deny: []string{"127.0.0.1"}} })
	if _, err := deny.r.Resolve(context.Background(), deny.url("/c")); !errors.Is(err, cimd.ErrNotAllowed) {
		t.Errorf("denied host: %v", err)
	}
	if g.host.hits.Load()+deny.host.hits.Load() != 0 {
		t.Error("a refused client_id was fetched")
	}

	reg := newRig(t, nil)
	id := reg.url("/configured")
	if err := reg.st.CreateClient(context.Background(), store.Client{ID: id, Source: "config", Name: "Configured"}); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.r.Resolve(context.Background(), id); !errors.Is(err, cimd.ErrRegistered) {
		t.Errorf("configured client: %v, want ErrRegistered", err)
	}
	if c, _ := reg.st.GetClient(context.Background(), id); c.Name != "Configured" || reg.host.hits.Load() != 0 {
		t.Errorf("a configured client was fetched or overwritten: %+v", c)
	}
}

// TestResolverBounded: the number of remembered URLs stays within MaxEntries.
func TestResolverBounded(t *testing.T) {
	g := newRig(t, func(c *cimd.Config) { c.MaxEntries = 3 })
	for i := range 10 {
		if _, err := g.r.Resolve(context.Background(), g.url(fmt.Sprintf("/c%d", i))); err != nil {
			t.Fatal(err)
		}
		if n := g.r.Len(); n > 3 {
			t.Fatalf("%d entries, want at most 3", n)
		}
	}
}

// BenchmarkResolveCached: a remembered document costs one map lookup
// under a mutex: no fetch, no store read, no write.
//
//	go test ./internal/cimd -run '^$' -bench BenchmarkResolveCached -benchmem
func BenchmarkResolveCached(b *testing.B) {
	st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	h := &docHost{}
	h.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.hits.Add(1)
		(*h.handle.Load())(w, r)
	}))
	defer h.Close()
	h.serve("", "Cache-Control", "max-age=86400")
	r, _ := cimd.NewResolver(cimd.Config{Fetch: fetcher(h, 2*time.Second), Store: st, Policy: policy})
	id := h.URL + "/c"
	if _, err := r.Resolve(context.Background(), id); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := r.Resolve(context.Background(), id); err != nil {
			b.Fatal(err)
		}
	}
	if h.hits.Load() != 1 {
		b.Errorf("%d fetches, want 1", h.hits.Load())
	}
}
