package cimd

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// freshness is how long a response may be used, read from its
// Cache-Control (max-age; no-store and no-cache mean not at all) or else
// its Expires header (RFC 9111 §4.2.1); def when it says neither. The
// caller clamps the result to its bounds.
func freshness(h http.Header, now time.Time, def time.Duration) time.Duration {
	if cc := h.Values("Cache-Control"); len(cc) > 0 {
		maxAge, found := time.Duration(0), false
		for _, line := range cc {
			for dir := range strings.SplitSeq(line, ",") {
				name, val, _ := strings.Cut(strings.TrimSpace(dir), "=")
				switch strings.ToLower(name) {
				case "no-store", "no-cache":
					return 0
				case "max-age":
					n, err := strconv.ParseInt(strings.Trim(val, `"`), 10, 64)
					if err != nil || n < 0 {
						return 0 // an invalid max-age is stale (RFC 9111 §4.2.1)
					}
					maxAge, found = time.Duration(min(n, int64(365*24*3600)))*time.Second, true
				}
			}
		}
		if found {
			return maxAge
		}
	}
	if exp := h.Get("Expires"); exp != "" {
		t, err := http.ParseTime(exp)
		if err != nil || !t.After(now) {
			return 0
		}
		return t.Sub(now)
	}
	return def
}
