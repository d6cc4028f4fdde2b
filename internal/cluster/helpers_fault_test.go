package cluster

// Faults to inject and clients that live through them: a retrying client
// (client-side failover over several instances), a small tmpfs to fill,
// and a TCP proxy to PostgreSQL that can be cut like a network partition.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// resentHeader marks, in a retrier's answer, a request that was sent
// again after an attempt was cut off once it may have reached the server.
const resentHeader = "X-Test-Resent"

// retrier is a client's retry policy as a RoundTripper. It sends each
// request to the next of its hosts in turn (or where it is addressed when
// it has none) and sends it again, to the next one, when an attempt gets
// no complete answer or a 503, until an attempt gets another answer or
// giveUp has passed. After a 503 it waits for Retry-After (at most a
// second); after a connection error it tries the next host at once.
//
// It also records what the server must never do: answer a JSON endpoint's
// 503 without temporarily_unavailable and Retry-After, answer any other
// 5xx, or take longer than attemptTimeout over an attempt.
type retrier struct {
	rt             http.RoundTripper
	giveUp         time.Duration
	attemptTimeout time.Duration

	mu    sync.Mutex
	hosts []string // host:port of the instances; empty: the request's own
	bad   []string
	// slowest is the longest attempt answered 503.
	slowest time.Duration

	next                                    atomic.Uint64
	attempts, unavailable, connErrs, cutOff atomic.Int64 // cutOff: connection errors after the request may have gone out
}

func newRetrier(giveUp, attemptTimeout time.Duration, ins ...*instance) *retrier {
	r := &retrier{rt: newTransport(), giveUp: giveUp, attemptTimeout: attemptTimeout}
	r.setInstances(ins...)
	return r
}

// setInstances replaces the hosts requests go to.
func (r *retrier) setInstances(ins ...*instance) {
	hosts := make([]string, len(ins))
	for i, in := range ins {
		hosts[i] = strings.TrimPrefix(in.url, "http://")
	}
	r.mu.Lock()
	r.hosts = hosts
	r.mu.Unlock()
}

// pick returns the next host, or "" to keep the request's.
func (r *retrier) pick() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.hosts) == 0 {
		return ""
	}
	return r.hosts[r.next.Add(1)%uint64(len(r.hosts))]
}

// problems returns what the server did that it must not.
func (r *retrier) problems() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.bad)
}

func (r *retrier) badAnswer(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.bad) < 20 {
		r.bad = append(r.bad, fmt.Sprintf(format, args...))
	}
}

func (r *retrier) RoundTrip(req *http.Request) (*http.Response, error) {
	deadline := time.Now().Add(r.giveUp)
	resent := false
	for {
		resp, err := r.attempt(req)
		if err == nil && resp.StatusCode != http.StatusServiceUnavailable {
			if resent {
				resp.Header.Set(resentHeader, "1")
			}
			return resp, nil
		}
		if req.Context().Err() != nil || time.Now().After(deadline) {
			if err != nil {
				return nil, fmt.Errorf("gave up after %s: %w", r.giveUp, err)
			}
			return resp, nil
		}
		wait := time.Duration(0)
		if err != nil {
			r.connErrs.Add(1)
			var op *net.OpError
			if !errors.As(err, &op) || op.Op != "dial" {
				resent = true // it may have reached the server
				r.cutOff.Add(1)
			}
		} else {
			r.unavailable.Add(1)
			wait = time.Second
			if s, e := strconv.Atoi(resp.Header.Get("Retry-After")); e == nil && s >= 0 && s < 1 {
				wait = time.Duration(s) * time.Second
			}
		}
		select {
		case <-time.After(wait):
		case <-req.Context().Done():
		}
	}
}

// attempt sends req once, to the next host, and reads the whole answer
// (an answer cut off half way is an error, to be sent again).
func (r *retrier) attempt(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(req.Context(), r.attemptTimeout)
	defer cancel()
	out := req.Clone(ctx)
	if req.Body != nil && req.GetBody != nil {
		body, err := req.GetBody()
		if err != nil {
			return nil, err
		}
		out.Body = body
	}
	if host := r.pick(); host != "" {
		out.URL.Host, out.Host = host, ""
	}
	r.attempts.Add(1)
	start := time.Now()
	resp, err := r.rt.RoundTrip(out)
	if err != nil {
		r.timedOut(req, err, start)
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		r.timedOut(req, err, start)
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	took := time.Since(start)
	switch {
	case resp.StatusCode == http.StatusServiceUnavailable:
		r.mu.Lock()
		r.slowest = max(r.slowest, took)
		r.mu.Unlock()
		if jsonEndpoint(req.URL.Path) {
			var e struct{ Error string }
			_ = json.Unmarshal(body, &e)
			if e.Error != "temporarily_unavailable" || resp.Header.Get("Retry-After") == "" {
				r.badAnswer("%s %s: 503 %q (Retry-After %q), want temporarily_unavailable with Retry-After",
					req.Method, req.URL.Path, body, resp.Header.Get("Retry-After"))
			}
		}
	case resp.StatusCode >= 500:
		r.badAnswer("%s %s: %d %.200s", req.Method, req.URL.Path, resp.StatusCode, body)
	}
	return resp, nil
}

// timedOut records an attempt the server did not answer within
// attemptTimeout.
func (r *retrier) timedOut(req *http.Request, err error, start time.Time) {
	if req.Context().Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		r.badAnswer("%s %s: no answer within %s", req.Method, req.URL.Path, time.Since(start).Round(time.Millisecond))
	}
}

// jsonEndpoint reports whether path answers OAuth errors in JSON.
func jsonEndpoint(path string) bool {
	return slices.Contains([]string{"/token", "/revoke", "/introspect"}, path)
}

// holdTokens is what clients hold before a fault: n refresh tokens of
// app's password grants, and m codes received for web, not redeemed yet.
func holdTokens(t *testing.T, base string, n, m int) ([]tokenResult, []codeGrant) {
	t.Helper()
	ctx, hc := context.Background(), newHTTPClient(nil)
	held := make([]tokenResult, n)
	for i := range held {
		r, err := passwordGrant(ctx, hc, base, app, "alice", alicePass)
		mustOK(t, "password grant", r, err)
		held[i] = r
	}
	codes := make([]codeGrant, m)
	for i := range codes {
		g, err := newBrowser(nil, base).authorize(ctx, via(base), "alice", alicePass)
		if err != nil {
			t.Fatalf("code flow: %v", err)
		}
		codes[i] = g
	}
	return held, codes
}

// heldChains are app's refresh chains whose last tokens are held's.
func heldChains(held []tokenResult) []*chain {
	chains := make([]*chain, len(held))
	for i, h := range held {
		chains[i] = &chain{client: app, latest: h.RefreshToken}
	}
	return chains
}

// refreshWhenBack refreshes *held until it works, sending it again while
// it answers 503 temporarily_unavailable, and keeps the new token in
// *held. Any other answer, or none within 15 s, fails the test; after
// names the fault that ended, for the message.
func refreshWhenBack(t *testing.T, base string, held *tokenResult, after string) {
	t.Helper()
	ctx, hc := context.Background(), newHTTPClient(nil)
	start := time.Now()
	for {
		r, err := refresh(ctx, hc, base, app, held.RefreshToken)
		if err == nil && r.ok() {
			*held = r
			return
		}
		if err != nil || !r.is(http.StatusServiceUnavailable, "temporarily_unavailable") || time.Since(start) > 15*time.Second {
			t.Fatalf("a refresh %s (%s): %v %s, want 503 and then 200", after, time.Since(start), err, r)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// mountTmpfs mounts a tmpfs of size bytes on a new directory and unmounts
// it when the test ends (after the instances started later have stopped).
// Without root, or where mounting is not allowed, it skips the test
// (fails it under CI=true).
func mountTmpfs(t *testing.T, size int64) string {
	t.Helper()
	if os.Geteuid() != 0 {
		skipOrFail(t, "mounting a tmpfs takes root; run the test as root")
	}
	dir := filepath.Join(t.TempDir(), "tmpfs")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, fmt.Sprintf("size=%d,mode=0700", size)); err != nil {
		skipOrFail(t, "cannot mount a tmpfs: "+err.Error())
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
			_ = syscall.Unmount(dir, syscall.MNT_DETACH)
		}
	})
	return dir
}

// fillDisk writes path until the filesystem has no byte left and returns
// how much it wrote.
func fillDisk(t *testing.T, path string) int64 {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var n int64
	for _, size := range []int{1 << 20, 4 << 10, 1} {
		buf := bytes.Repeat([]byte{'x'}, size)
		for {
			w, err := f.Write(buf)
			n += int64(w)
			if errors.Is(err, syscall.ENOSPC) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	return n
}

// partitionProxy forwards TCP connections from its address to target
// until cut: then it stops forwarding in both directions and closes
// nothing, as a network partition does (connections hang, they are not
// reset); new connections are accepted and hang too. heal forwards again
// and closes the connections that lived through the partition, as their
// ends would have given up on them by then.
//
// The cut is ordered: what goes to the target stops first, and its
// answers still come back for replyGrace. So a COMMIT that reached
// PostgreSQL has its answer delivered, and the test does not meet the
// one case no server can tell apart, a commit whose reply was lost (a
// client's retry of that refresh is a replay; refresh_grace is for it).
type partitionProxy struct {
	addr   string
	target string
	ln     net.Listener

	mu     sync.Mutex
	cutUp  bool // nothing reaches the target
	cut    bool // nothing comes back either
	cond   *sync.Cond
	conns  map[net.Conn]bool // both ends of every connection pair
	upward map[net.Conn]bool // the ends connected to the target
}

// replyGrace is how long answers still come back after the cut.
const replyGrace = 100 * time.Millisecond

func startPartitionProxy(t *testing.T, target string) *partitionProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &partitionProxy{addr: ln.Addr().String(), target: target, ln: ln,
		conns: map[net.Conn]bool{}, upward: map[net.Conn]bool{}}
	p.cond = sync.NewCond(&p.mu)
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		p.cut, p.cutUp = false, false
		for c := range p.conns {
			c.Close()
		}
		p.cond.Broadcast()
		p.mu.Unlock()
	})
	return p
}

func (p *partitionProxy) serve() {
	for {
		down, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.handle(down)
	}
}

// handle waits out a partition, connects to the target and copies both ways.
func (p *partitionProxy) handle(down net.Conn) {
	p.track(down)
	if !p.waitHealed(down) {
		return
	}
	up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		down.Close()
		p.untrack(down)
		return
	}
	p.track(up)
	p.mu.Lock()
	p.upward[up] = true
	p.mu.Unlock()
	go p.copy(up, down)
	p.copy(down, up)
}

// copy forwards src to dst; during a partition, what it read is dropped
// and it waits for the partition to end.
func (p *partitionProxy) copy(dst, src net.Conn) {
	defer func() {
		dst.Close()
		src.Close()
		p.untrack(dst)
		p.untrack(src)
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			dropped := p.cut || p.cutUp && p.upward[dst]
			p.mu.Unlock()
			if !dropped {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
		}
		if err != nil {
			if p.isCut() {
				p.waitHealed(src) // a closed end is not seen across a partition
			}
			return
		}
	}
}

func (p *partitionProxy) isCut() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cut || p.cutUp
}

// waitHealed waits until the partition, if any, ends; it reports whether
// c is still open (heal closes the connections that lived through one).
func (p *partitionProxy) waitHealed(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.cut || p.cutUp {
		p.cond.Wait()
	}
	return p.conns[c]
}

func (p *partitionProxy) track(c net.Conn) {
	p.mu.Lock()
	p.conns[c] = true
	p.mu.Unlock()
}

func (p *partitionProxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.upward, c)
	p.mu.Unlock()
}

// partition stops forwarding: to the target at once, back from it
// replyGrace later.
func (p *partitionProxy) partition() {
	p.mu.Lock()
	p.cutUp = true
	p.mu.Unlock()
	time.Sleep(replyGrace)
	p.mu.Lock()
	p.cut = true
	p.mu.Unlock()
}

// heal closes every connection that lived through the partition and
// forwards again.
func (p *partitionProxy) heal() {
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
		delete(p.upward, c)
	}
	p.cut, p.cutUp = false, false
	p.cond.Broadcast()
	p.mu.Unlock()
}
