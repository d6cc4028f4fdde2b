package safefetch_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/safefetch"
)

// countingServer is a real listener that counts the TCP connections it
// accepts, so a test can prove a refused fetch never reached it.
type countingServer struct {
	*httptest.Server
	conns atomic.Int64
}

func newServer(t *testing.T, tlsOn bool, h http.Handler) *countingServer {
	t.Helper()
	s := &countingServer{}
	s.Server = httptest.NewUnstartedServer(h)
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	if tlsOn {
		s.StartTLS()
	} else {
		s.Start()
	}
	t.Cleanup(s.Close)
	return s
}

// trust returns a TLS configuration that trusts the servers' test certificates.
func trust(servers ...*countingServer) *tls.Config {
	pool := x509.NewCertPool()
	for _, s := range servers {
		pool.AddCert(s.Certificate())
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

func port(s *countingServer) string {
	_, p, _ := net.SplitHostPort(s.Listener.Addr().String())
	return p
}

func ok(body []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write(body) })
}

// TestA25LoopbackListenerReceivesNothing: with the production policy, no
// spelling of a loopback URL makes a connection to a listening loopback
// server (STANDARDS.md A25: "a loopback listener that must receive
// nothing"). The same URLs succeed under AllowLoopback, so the zero count
// is not an accident of the test.
func TestA25LoopbackListenerReceivesNothing(t *testing.T) {
	plain := newServer(t, false, ok([]byte("hello")))
	secure := newServer(t, true, ok([]byte("hello")))
	urls := []string{
		"http://127.0.0.1:" + port(plain) + "/",
		"http://localhost:" + port(plain) + "/",
		"https://127.0.0.1:" + port(secure) + "/",
		"https://localhost:" + port(secure) + "/", // refused after DNS resolution
		"https://[::ffff:127.0.0.1]:" + port(secure) + "/",
	}
	prod := safefetch.New(safefetch.Options{TLSConfig: trust(secure), Timeout: 2 * time.Second})
	for _, u := range urls {
		_, _, err := prod.Get(context.Background(), u)
		if !safefetch.Refused(err) {
			t.Errorf("Get(%s) = %v, want a policy refusal", u, err)
		}
	}
	if n := plain.conns.Load() + secure.conns.Load(); n != 0 {
		t.Fatalf("the loopback listeners accepted %d connections, want 0", n)
	}

	dev := safefetch.New(safefetch.Options{AllowLoopback: true, TLSConfig: trust(secure)})
	for _, u := range urls[:3] {
		body, _, err := dev.Get(context.Background(), u)
		if err != nil || string(body) != "hello" {
			t.Errorf("AllowLoopback: Get(%s) = %q, %v", u, body, err)
		}
	}
}

// TestA25RefusedTargets: metadata services, private networks and other
// schemes are refused before any connection, in production and in
// development alike (AllowLoopback opens loopback only).
func TestA25RefusedTargets(t *testing.T) {
	tests := []struct {
		url  string
		want error
	}{
		{"http://169.254.169.254/latest/meta-data/", safefetch.ErrForbiddenURL},
		{"https://169.254.169.254/latest/meta-data/", safefetch.ErrForbiddenAddress},
		{"https://[::ffff:169.254.169.254]/", safefetch.ErrForbiddenAddress},
		{"https://[::ffff:a9fe:a9fe]/", safefetch.ErrForbiddenAddress},
		{"https://[fe80::1]/", safefetch.ErrForbiddenAddress},
		{"https://10.0.0.1/", safefetch.ErrForbiddenAddress},
		{"https://172.16.0.1/", safefetch.ErrForbiddenAddress},
		{"https://192.168.1.1/", safefetch.ErrForbiddenAddress},
		{"https://100.64.0.1/", safefetch.ErrForbiddenAddress},
		{"https://0.0.0.0/", safefetch.ErrForbiddenAddress},
		{"https://255.255.255.255/", safefetch.ErrForbiddenAddress},
		{"https://[fd00::1]/", safefetch.ErrForbiddenAddress},
		{"https://[::]/", safefetch.ErrForbiddenAddress},
		{"https://[64:ff9b::a9fe:a9fe]/", safefetch.ErrForbiddenAddress},
		{"http://127.0.0.1:5432/", safefetch.ErrForbiddenURL},
		{"file:///etc/passwd", safefetch.ErrForbiddenURL},
		{"gopher://example.com/", safefetch.ErrForbiddenURL},
		{"https://user:pass@example.com/", safefetch.ErrForbiddenURL},
		{"https:///path", safefetch.ErrForbiddenURL},
		{"::not a url", safefetch.ErrForbiddenURL},
	}
	for _, loopback := range []bool{false, true} {
		c := safefetch.New(safefetch.Options{AllowLoopback: loopback, Timeout: 2 * time.Second})
		for _, tt := range tests {
			if loopback && tt.url == "http://127.0.0.1:5432/" {
				continue // development mode allows it
			}
			_, _, err := c.Get(context.Background(), tt.url)
			if !errors.Is(err, tt.want) || !safefetch.Refused(err) {
				t.Errorf("AllowLoopback=%v Get(%s) = %v, want %v", loopback, tt.url, err, tt.want)
			}
		}
	}
}

// TestBodyCap: a body larger than MaxBytes fails whether or not its length
// is announced (10 MiB against the default 256 KiB, A25's size cap); one
// of exactly MaxBytes is accepted whole.
func TestBodyCap(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 10<<20)
	srv := newServer(t, true, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		if r.URL.Query().Has("stream") {
			w.(http.Flusher).Flush() // no Content-Length: chunked
		}
		w.Write(big[:n])
	}))
	c := safefetch.New(safefetch.Options{AllowLoopback: true, TLSConfig: trust(srv)})
	base := srv.URL + "/?n="
	tests := []struct {
		query string
		size  int
		ok    bool
	}{
		{strconv.Itoa(10 << 20), 0, false},
		{strconv.Itoa(10<<20) + "&stream", 0, false},
		{strconv.Itoa(safefetch.DefaultMaxBytes + 1), 0, false},
		{strconv.Itoa(safefetch.DefaultMaxBytes+1) + "&stream", 0, false},
		{strconv.Itoa(safefetch.DefaultMaxBytes), safefetch.DefaultMaxBytes, true},
		{strconv.Itoa(safefetch.DefaultMaxBytes) + "&stream", safefetch.DefaultMaxBytes, true},
		{strconv.Itoa(safefetch.DefaultMaxBytes - 1), safefetch.DefaultMaxBytes - 1, true},
	}
	for _, tt := range tests {
		body, _, err := c.Get(context.Background(), base+tt.query)
		switch {
		case tt.ok && (err != nil || len(body) != tt.size):
			t.Errorf("n=%s: %d bytes, %v; want %d bytes", tt.query, len(body), err, tt.size)
		case !tt.ok && !errors.Is(err, safefetch.ErrTooLarge):
			t.Errorf("n=%s: %d bytes, %v; want ErrTooLarge", tt.query, len(body), err)
		}
	}
}

// TestTimeout: a server that does not answer, or stops sending its body,
// costs at most Options.Timeout, and the error says it was a deadline.
func TestTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := newServer(t, true, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/body" {
			w.Write([]byte("{"))
			w.(http.Flusher).Flush()
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer close(release)
	c := safefetch.New(safefetch.Options{AllowLoopback: true, TLSConfig: trust(srv), Timeout: 200 * time.Millisecond})
	for _, path := range []string{"/head", "/body"} {
		start := time.Now()
		_, _, err := c.Get(context.Background(), srv.URL+path)
		if !errors.Is(err, context.DeadlineExceeded) || safefetch.Refused(err) {
			t.Errorf("%s: %v, want a deadline error", path, err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%s took %v", path, d)
		}
	}
}

// TestStatusAndRedirects: non-2xx is an error carrying the status;
// redirects are followed up to MaxRedirects, and each target's URL must
// pass the rules (no file:, no plain http off loopback).
func TestStatusAndRedirects(t *testing.T) {
	srv := newServer(t, true, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/missing":
			http.NotFound(w, r)
		case "/file":
			http.Redirect(w, r, "file:///etc/passwd", http.StatusFound)
		case "/metadata":
			http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		case "/hop":
			n, _ := strconv.Atoi(r.URL.Query().Get("n"))
			if n > 0 {
				http.Redirect(w, r, "/hop?n="+strconv.Itoa(n-1), http.StatusFound)
				return
			}
			w.Write([]byte("arrived"))
		}
	}))
	c := safefetch.New(safefetch.Options{AllowLoopback: true, TLSConfig: trust(srv)})
	get := func(path string) ([]byte, error) {
		b, _, err := c.Get(context.Background(), srv.URL+path)
		return b, err
	}
	var se *safefetch.StatusError
	if _, err := get("/missing"); !errors.As(err, &se) || se.StatusCode != 404 || safefetch.Refused(err) {
		t.Errorf("/missing: %v", err)
	}
	if _, err := get("/file"); !errors.Is(err, safefetch.ErrForbiddenURL) {
		t.Errorf("/file: %v", err)
	}
	if _, err := get("/metadata"); !errors.Is(err, safefetch.ErrForbiddenURL) {
		t.Errorf("/metadata: %v", err)
	}
	if _, err := get("/loop"); !errors.Is(err, safefetch.ErrTooManyRedirects) {
		t.Errorf("/loop: %v", err)
	}
	if b, err := get("/hop?n=3"); err != nil || string(b) != "arrived" {
		t.Errorf("three redirects: %q, %v", b, err)
	}
	if _, err := get("/hop?n=4"); !errors.Is(err, safefetch.ErrTooManyRedirects) {
		t.Errorf("four redirects: %v", err)
	}
	none := safefetch.New(safefetch.Options{AllowLoopback: true, TLSConfig: trust(srv), MaxRedirects: -1})
	if _, _, err := none.Get(context.Background(), srv.URL+"/hop?n=1"); !errors.Is(err, safefetch.ErrTooManyRedirects) {
		t.Errorf("MaxRedirects -1: %v", err)
	}
}

// TestNoProxyFromEnvironment: HTTPS_PROXY is ignored; a proxy would
// decide where we connect, outside the address policy.
func TestNoProxyFromEnvironment(t *testing.T) {
	proxy := newServer(t, false, ok(nil))
	t.Setenv("HTTPS_PROXY", proxy.URL)
	t.Setenv("HTTP_PROXY", proxy.URL)
	srv := newServer(t, true, ok([]byte("direct")))
	c := safefetch.New(safefetch.Options{AllowLoopback: true, TLSConfig: trust(srv)})
	b, _, err := c.Get(context.Background(), srv.URL)
	if err != nil || string(b) != "direct" || proxy.conns.Load() != 0 {
		t.Fatalf("got %q, %v; proxy connections %d", b, err, proxy.conns.Load())
	}
}
