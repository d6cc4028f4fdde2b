package safefetch

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync/atomic"
	"testing"
)

// TestA25CheckAddr is the address policy as a table (A25): what the
// dialer's Control function refuses after DNS resolution.
func TestA25CheckAddr(t *testing.T) {
	refused := []string{
		"127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1",
		"10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.0.1", "fc00::1", "fd12:3456::1",
		"169.254.169.254", "169.254.0.1", "fe80::1", "::ffff:169.254.169.254", "::ffff:10.0.0.1",
		"0.0.0.0", "0.1.2.3", "::", "255.255.255.255", "240.0.0.1",
		"224.0.0.1", "239.255.255.250", "ff02::1", "ff05::2",
		"100.64.0.1", "100.127.255.254", "192.0.0.8", "198.18.0.1", "192.0.2.1",
		"64:ff9b::a9fe:a9fe", "64:ff9b::a00:1", "2002:a9fe:a9fe::1", "2002:7f00:1::1",
		"2001::1", "2001:db8::1", "::a9fe:a9fe", "fec0::1", "100::1",
	}
	allowed := []string{
		"1.1.1.1", "8.8.8.8", "93.184.215.14", "100.63.255.255", "100.128.0.0", "172.32.0.1",
		"2606:4700:4700::1111", "2001:4860:4860::8888", "::ffff:8.8.8.8", "64:ff9b::808:808",
		"2002:808:808::1",
	}
	for _, s := range refused {
		if err := checkAddr(netip.MustParseAddr(s), false); !errors.Is(err, ErrForbiddenAddress) {
			t.Errorf("checkAddr(%s) = %v, want refused", s, err)
		}
	}
	for _, s := range allowed {
		if err := checkAddr(netip.MustParseAddr(s), false); err != nil {
			t.Errorf("checkAddr(%s) = %v, want allowed", s, err)
		}
	}
	for _, s := range []string{"127.0.0.1", "::1", "::ffff:127.0.0.1"} {
		if err := checkAddr(netip.MustParseAddr(s), true); err != nil {
			t.Errorf("AllowLoopback: checkAddr(%s) = %v", s, err)
		}
	}
	for _, s := range []string{"10.0.0.1", "169.254.169.254", "fe80::1"} {
		if err := checkAddr(netip.MustParseAddr(s), true); err == nil {
			t.Errorf("AllowLoopback: checkAddr(%s) allowed", s)
		}
	}
}

// TestA25ControlFunction checks the dialer hook itself, as the net
// package calls it: resolved "ip:port" strings, TCP only.
func TestA25ControlFunction(t *testing.T) {
	c := New(Options{})
	for _, tt := range []struct {
		network, address string
		ok               bool
	}{
		{"tcp4", "8.8.8.8:443", true},
		{"tcp6", "[2606:4700:4700::1111]:443", true},
		{"tcp4", "169.254.169.254:80", false},
		{"tcp6", "[::ffff:169.254.169.254]:80", false},
		{"tcp6", "[fe80::1%eth0]:443", false},
		{"tcp4", "127.0.0.1:5432", false},
		{"udp4", "8.8.8.8:53", false},
		{"tcp4", "example.com:443", false},
	} {
		err := c.control(tt.network, tt.address, nil)
		if (err == nil) != tt.ok {
			t.Errorf("control(%s, %s) = %v, want ok=%v", tt.network, tt.address, err, tt.ok)
		}
	}
}

// TestA25RedirectToLoopbackNeverConnects: a public server that redirects
// to loopback must not get us there. Every listener here is on loopback,
// so the "public" first hop is let through by the exempt hook for its one
// address and port only; the redirect target, another real listener, is
// judged by the unmodified policy and must see no connection.
func TestA25RedirectToLoopbackNeverConnects(t *testing.T) {
	var targetConns atomic.Int64
	target := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("secret"))
	}))
	target.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			targetConns.Add(1)
		}
	}
	target.StartTLS()
	defer target.Close()
	_, tport, _ := net.SplitHostPort(target.Listener.Addr().String())

	public := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/direct" {
			w.Write([]byte("public"))
			return
		}
		http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
	}))
	defer public.Close()
	publicAddr := netip.MustParseAddrPort(public.Listener.Addr().String())

	pool := x509.NewCertPool()
	pool.AddCert(public.Certificate())
	pool.AddCert(target.Certificate())
	c := New(Options{TLSConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}})
	c.exempt = func(ap netip.AddrPort) bool { return ap == publicAddr }

	if b, _, err := c.Get(context.Background(), public.URL+"/direct"); err != nil || string(b) != "public" {
		t.Fatalf("the exempted first hop itself: %q, %v", b, err)
	}
	for _, to := range []string{
		"https://127.0.0.1:" + tport + "/",
		"https://localhost:" + tport + "/",
		"https://[::ffff:127.0.0.1]:" + tport + "/",
		"http://127.0.0.1:" + tport + "/",
		"https://169.254.169.254/latest/meta-data/",
	} {
		_, _, err := c.Get(context.Background(), public.URL+"/r?to="+to)
		if !Refused(err) {
			t.Errorf("redirect to %s: %v, want a policy refusal", to, err)
		}
	}
	if n := targetConns.Load(); n != 0 {
		t.Fatalf("the redirect target accepted %d connections, want 0", n)
	}
}
