// Package safefetch fetches URLs that clients register (a jwks_uri today,
// client metadata documents later) without letting them aim Latchkey at
// its own network: server-side request forgery, STANDARDS.md A25.
//
// A Client fetches only https URLs without userinfo, and connects only to
// public addresses. The address check runs in the dialer, after DNS
// resolution and for every connection of every redirect hop, so neither
// a redirect nor a name that resolves differently the second time (DNS
// rebinding) reaches loopback, private, link-local (169.254.169.254, the
// cloud metadata service), CGNAT, multicast or reserved addresses, nor
// their IPv4-mapped, NAT64 or 6to4 forms. No proxy from the environment
// is used. Bodies are capped (a larger body is an error, never
// truncated), the whole fetch has a deadline, and a non-2xx answer is an
// error.
//
// Errors tell policy from the network: errors.Is(err, ErrForbiddenURL)
// and errors.Is(err, ErrForbiddenAddress) (both reported by Refused) mean
// the URL was not fetched because of these rules; ErrTooLarge and
// *StatusError mean the server answered something unusable; a timeout
// satisfies errors.Is(err, context.DeadlineExceeded); anything else is a
// network failure.
package safefetch

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"time"
)

// Defaults of Options.
const (
	DefaultTimeout      = 5 * time.Second
	DefaultMaxBytes     = 256 << 10
	DefaultMaxRedirects = 3
)

// Errors of policy; wrapped with the detail of the refusal.
var (
	// ErrForbiddenURL: the URL (or a redirect's) breaks a rule that needs
	// no DNS: scheme, userinfo, no host.
	ErrForbiddenURL = errors.New("safefetch: URL not allowed")
	// ErrForbiddenAddress: the host resolved to an address that must not
	// be reached (loopback, private, link-local, …).
	ErrForbiddenAddress = errors.New("safefetch: address not allowed")
	// ErrTooManyRedirects: more redirects than Options.MaxRedirects.
	ErrTooManyRedirects = errors.New("safefetch: too many redirects")
	// ErrTooLarge: the body is larger than Options.MaxBytes.
	ErrTooLarge = errors.New("safefetch: response body too large")
)

// Refused reports whether err means the fetch was refused by policy
// (ErrForbiddenURL, ErrForbiddenAddress or ErrTooManyRedirects) rather
// than failed on the network or at the server.
func Refused(err error) bool {
	return errors.Is(err, ErrForbiddenURL) || errors.Is(err, ErrForbiddenAddress) ||
		errors.Is(err, ErrTooManyRedirects)
}

// StatusError is a response whose status is not 2xx.
type StatusError struct {
	// StatusCode is the HTTP status of the final response.
	StatusCode int
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("safefetch: HTTP status %d", e.StatusCode)
}

// Options configure a Client. The zero value is the production policy.
type Options struct {
	// AllowLoopback, for development and tests only, lets the client
	// reach loopback addresses, and use http when the host is localhost
	// or a loopback literal (127.0.0.1, [::1]). Private and link-local
	// addresses stay refused.
	AllowLoopback bool
	// Timeout bounds a whole Get, redirects and body included. Zero means
	// DefaultTimeout.
	Timeout time.Duration
	// MaxBytes caps a response body; a larger one fails with ErrTooLarge.
	// Zero means DefaultMaxBytes.
	MaxBytes int64
	// MaxRedirects is how many redirects a Get follows. Zero means
	// DefaultMaxRedirects; a negative value follows none.
	MaxRedirects int
	// TLSConfig, when set, replaces the default TLS configuration (tests
	// use it to trust an httptest certificate). It is cloned.
	TLSConfig *tls.Config
}

// Client fetches URLs under the policy of the package documentation. It
// is safe for concurrent use.
type Client struct {
	opts Options
	http *http.Client
	// exempt, set only by this package's tests, lets a dial to one
	// address through as if it were public.
	exempt func(netip.AddrPort) bool
}

// New returns a Client for o, with zero fields replaced by the defaults.
func New(o Options) *Client {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxRedirects == 0 {
		o.MaxRedirects = DefaultMaxRedirects
	}
	c := &Client{opts: o}
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.TLSConfig != nil {
		tlsConf = o.TLSConfig.Clone()
	}
	dialer := &net.Dialer{Timeout: o.Timeout, Control: c.control}
	c.http = &http.Client{
		Transport: &http.Transport{
			Proxy:                  nil, // never HTTPS_PROXY: the policy is about where we connect
			DialContext:            dialer.DialContext,
			TLSClientConfig:        tlsConf,
			TLSHandshakeTimeout:    o.Timeout,
			ResponseHeaderTimeout:  o.Timeout,
			MaxResponseHeaderBytes: 64 << 10,
			ForceAttemptHTTP2:      true,
			MaxIdleConns:           16,
			IdleConnTimeout:        30 * time.Second,
		},
		CheckRedirect: c.checkRedirect,
	}
	return c
}

// PostForm posts form to rawURL (a back-channel logout token, say)
// through Post: the same rules as Get, no redirect followed.
func (c *Client) PostForm(ctx context.Context, rawURL string, form url.Values) error {
	h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	return c.Post(ctx, rawURL, h, []byte(form.Encode()))
}

// Get fetches rawURL and returns the body of its 2xx response and the
// response's header. See the package documentation for what it refuses.
func (c *Client) Get(ctx context.Context, rawURL string) ([]byte, http.Header, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, nil, fmt.Errorf("safefetch: %w: not a URL", ErrForbiddenURL)
	}
	where := u.Scheme + "://" + u.Host + u.EscapedPath()
	if err := c.checkURL(u); err != nil {
		return nil, nil, fmt.Errorf("safefetch: GET %s: %w", where, err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, nil, fmt.Errorf("safefetch: GET %s: %w", where, err)
	}
	req.Header.Set("User-Agent", "latchkey")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("safefetch: GET %s: %w", where, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, nil, fmt.Errorf("safefetch: GET %s: %w", where, &StatusError{StatusCode: resp.StatusCode})
	}
	if resp.ContentLength > c.opts.MaxBytes {
		return nil, nil, fmt.Errorf("safefetch: GET %s: %w (%d bytes announced, %d allowed)",
			where, ErrTooLarge, resp.ContentLength, c.opts.MaxBytes)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.opts.MaxBytes+1))
	if err == nil {
		// A body that ends only because the deadline made the server give
		// up (its request context ended) is not a whole answer.
		err = ctx.Err()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("safefetch: GET %s: reading the body: %w", where, err)
	}
	if int64(len(body)) > c.opts.MaxBytes {
		return nil, nil, fmt.Errorf("safefetch: GET %s: %w (more than %d bytes)", where, ErrTooLarge, c.opts.MaxBytes)
	}
	return body, resp.Header, nil
}

// checkRedirect applies the URL rules to every redirect target; the
// dialer checks its address. It counts hops against MaxRedirects.
func (c *Client) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > c.opts.MaxRedirects {
		return fmt.Errorf("%w (more than %d)", ErrTooManyRedirects, max(c.opts.MaxRedirects, 0))
	}
	if err := c.checkURL(req.URL); err != nil {
		return fmt.Errorf("redirect: %w", err)
	}
	return nil
}
