package cluster

// Several instances: a round-robin balancer whose URL is their shared
// issuer, a cluster started on one PostgreSQL schema, and a look into
// their request logs.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store/postgres/pgtest"
)

// backendHeader names, in the balancer's answers, the instance (its URL)
// that served the request.
const backendHeader = "X-Test-Backend"

// balancer is a round-robin reverse proxy; its URL is the cluster's issuer.
type balancer struct {
	url      string
	mu       sync.Mutex
	backends []*url.URL
	inflight map[string]int // per backend host, the requests being proxied
	next     atomic.Uint64
}

// pickedKey carries the backend picked for a request to the proxy.
type pickedKey struct{}

// startBalancer listens on a free loopback port; backends are added once
// the instances run (they need the issuer, the balancer's URL, first).
func startBalancer(t *testing.T) *balancer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &balancer{url: "http://" + ln.Addr().String(), inflight: map[string]int{}}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(r.In.Context().Value(pickedKey{}).(*url.URL))
			r.Out.Host = r.In.Host // the instances see the issuer's host
		},
		ModifyResponse: func(resp *http.Response) error {
			resp.Header.Set(backendHeader, "http://"+resp.Request.URL.Host)
			return nil
		},
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := b.pick()
		defer b.done(u)
		proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), pickedKey{}, u)))
	})
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return b
}

// add puts the instances behind the balancer.
func (b *balancer) add(ins ...*instance) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, in := range ins {
		u, err := url.Parse(in.url)
		if err != nil {
			panic(err) // in.url is built from a host:port the process logged
		}
		b.backends = append(b.backends, u)
	}
}

// remove takes the instances out of the balancer: requests already sent
// to them go on, new ones go to the others.
func (b *balancer) remove(ins ...*instance) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.backends = slices.DeleteFunc(b.backends, func(u *url.URL) bool {
		return slices.ContainsFunc(ins, func(in *instance) bool { return "http://"+u.Host == in.url })
	})
}

// drain waits until no request to the instances is in flight (after
// remove, no new one starts), as a balancer's connection draining does
// before the instance is stopped; it fails t after 10 s.
func (b *balancer) drain(t *testing.T, ins ...*instance) {
	t.Helper()
	for start := time.Now(); ; time.Sleep(5 * time.Millisecond) {
		b.mu.Lock()
		n := 0
		for _, in := range ins {
			n += b.inflight[strings.TrimPrefix(in.url, "http://")]
		}
		b.mu.Unlock()
		if n == 0 {
			return
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("%d requests still in flight to the removed instances after 10 s", n)
		}
	}
}

// pick chooses the next backend and counts the request in flight to it
// until done.
func (b *balancer) pick() *url.URL {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.backends) == 0 {
		return &url.URL{Scheme: "http", Host: "127.0.0.1:1"}
	}
	u := b.backends[b.next.Add(1)%uint64(len(b.backends))]
	b.inflight[u.Host]++
	return u
}

// done ends a request that pick counted.
func (b *balancer) done(u *url.URL) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.inflight[u.Host] > 0 {
		b.inflight[u.Host]--
	}
}

// cluster is several instances on one fresh PostgreSQL schema behind a
// balancer whose URL is their shared issuer.
type cluster struct {
	lb      *balancer
	ins     []*instance
	cfgPath string
	storage string
}

// startCluster starts n instances at once on a new schema (skipping the
// test when PostgreSQL cannot be reached, see pgtest.DSN). With migrate,
// latchkey migrate runs first, as a deploy step; without, the instances
// migrate the empty schema themselves as they start.
func startCluster(t *testing.T, n int, migrate bool) *cluster {
	t.Helper()
	dsn := pgtest.DSN(t)
	lb := startBalancer(t)
	path := writeConfig(t, baseConfig(dsn, lb.url))
	if migrate {
		if out := latchkeyCLI(t, path, "migrate"); !strings.Contains(out, "applied 0001_init.sql") {
			t.Fatalf("latchkey migrate on an empty schema printed %q, want \"applied 0001_init.sql\"", out)
		}
	}
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("instance %d", i+1)
	}
	ins := startInstances(t, path, names...)
	lb.add(ins...)
	return &cluster{lb: lb, ins: ins, cfgPath: path, storage: dsn}
}

// requestLogged reports whether in logs a request line for method and
// path with status within 2 seconds (the line is written once the answer
// has gone out).
func requestLogged(in *instance, method, path string, status int) bool {
	for start := time.Now(); time.Since(start) < 2*time.Second; time.Sleep(10 * time.Millisecond) {
		if hasRequestLine(in.logs.String(), method, path, status) {
			return true
		}
	}
	return false
}

// hasRequestLine reports whether logs hold a request line for method and
// path with status.
func hasRequestLine(logs, method, path string, status int) bool {
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var rec struct {
			Msg, Method, Path string
			Status            int
		}
		if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "request" &&
			rec.Method == method && rec.Path == path && rec.Status == status {
			return true
		}
	}
	return false
}

// serverErrors returns the request log lines of in with a 5xx status other
// than 503.
func serverErrors(in *instance) []string {
	var bad []string
	sc := bufio.NewScanner(strings.NewReader(in.logs.String()))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var rec struct {
			Msg    string
			Status int
		}
		if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "request" && rec.Status >= 500 && rec.Status != 503 {
			bad = append(bad, sc.Text())
		}
	}
	return bad
}
