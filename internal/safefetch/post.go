package safefetch

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// Post sends body to rawURL (a webhook) under the same rules as Get, with
// header added to the request, and returns nil for a 2xx answer or a
// *StatusError otherwise. Redirects are not followed: a POST must reach
// the URL that was configured. The answer's body is read up to MaxBytes
// and discarded.
func (c *Client) Post(ctx context.Context, rawURL string, header http.Header, body []byte) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("safefetch: %w: not a URL", ErrForbiddenURL)
	}
	where := u.Scheme + "://" + u.Host + u.EscapedPath()
	if err := c.checkURL(u); err != nil {
		return fmt.Errorf("safefetch: POST %s: %w", where, err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("safefetch: POST %s: %w", where, err)
	}
	for k, vs := range header {
		req.Header[k] = append([]string(nil), vs...)
	}
	req.Header.Set("User-Agent", "latchkey")
	noRedirect := *c.http
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := noRedirect.Do(req)
	if err != nil {
		return fmt.Errorf("safefetch: POST %s: %w", where, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, c.opts.MaxBytes))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("safefetch: POST %s: %w", where, &StatusError{StatusCode: resp.StatusCode})
	}
	return nil
}
