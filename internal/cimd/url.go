package cimd

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Errors of Resolve and the functions it is built from, wrapped with the
// reason; the server turns each into invalid_client (or, at the
// authorization endpoint, an error page that redirects nowhere).
var (
	// ErrNotAllowed: the client_id is not a usable metadata document URL,
	// or its host is not allowed by this server's policy.
	ErrNotAllowed = errors.New("cimd: client_id not allowed")
	// ErrInvalidDocument: the document was fetched but is not an
	// acceptable client metadata document.
	ErrInvalidDocument = errors.New("cimd: invalid client metadata document")
	// ErrUnavailable: the document could not be fetched (refused by the
	// SSRF guard, network failure, timeout, non-200, too large, redirect).
	ErrUnavailable = errors.New("cimd: client metadata document unavailable")
)

// LooksLikeURL reports whether clientID is meant as a metadata document
// URL: it starts with https:// (or http://, which CheckURL then refuses
// with a reason rather than treating it as an unknown client id).
func LooksLikeURL(clientID string) bool {
	return strings.HasPrefix(clientID, "https://") || strings.HasPrefix(clientID, "http://")
}

// CheckURL applies the draft's rules for a client identifier URL (§3):
// the https scheme, a host, a path, no single-dot or double-dot path
// segment, no fragment, no user name or password. A port and a query are
// allowed (the draft permits both, though it discourages a query). The
// URL must also be in the form it is compared in: the document's
// client_id must equal it exactly, so no normalisation happens here.
func CheckURL(clientID string) (*url.URL, error) {
	u, err := url.Parse(clientID)
	if err != nil {
		return nil, fmt.Errorf("%w: not a URL", ErrNotAllowed)
	}
	switch {
	case u.Scheme != "https":
		return nil, fmt.Errorf("%w: the scheme must be https", ErrNotAllowed)
	case u.Opaque != "" || u.Host == "" || u.Hostname() == "":
		return nil, fmt.Errorf("%w: the URL has no host", ErrNotAllowed)
	case u.User != nil:
		return nil, fmt.Errorf("%w: the URL must not contain a user name or password", ErrNotAllowed)
	case u.Fragment != "" || strings.Contains(clientID, "#"):
		return nil, fmt.Errorf("%w: the URL must not contain a fragment", ErrNotAllowed)
	case u.Path == "" || u.Path == "/":
		return nil, fmt.Errorf("%w: the URL must have a path", ErrNotAllowed)
	case hasDotSegment(u.EscapedPath()):
		return nil, fmt.Errorf("%w: the path must not contain . or .. segments", ErrNotAllowed)
	case u.String() != clientID:
		return nil, fmt.Errorf("%w: the URL is not in canonical form", ErrNotAllowed)
	}
	return u, nil
}

// hasDotSegment reports whether an escaped path has a "." or ".."
// segment, written plainly or percent-encoded.
func hasDotSegment(path string) bool {
	for seg := range strings.SplitSeq(path, "/") {
		s := strings.ReplaceAll(strings.ToLower(seg), "%2e", ".")
		if s == "." || s == ".." {
			return true
		}
	}
	return false
}
