package cimd

import (
	"net/http"
	"testing"
	"time"
)

// TestFreshness: Cache-Control max-age wins over Expires; no-store,
// no-cache and a malformed max-age mean stale; no header means the default
// (RFC 9111 §4.2.1, §5.2.2).
func TestFreshness(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	def := 5 * time.Minute
	for _, tc := range []struct {
		h    http.Header
		want time.Duration
	}{
		{http.Header{}, def},
		{http.Header{"Cache-Control": {"public, max-age=600"}}, 10 * time.Minute},
		{http.Header{"Cache-Control": {`max-age="60"`}}, time.Minute},
		{http.Header{"Cache-Control": {"no-store"}}, 0},
		{http.Header{"Cache-Control": {"max-age=600, no-cache"}}, 0},
		{http.Header{"Cache-Control": {"max-age=-1"}}, 0},
		{http.Header{"Cache-Control": {"max-age=abc"}}, 0},
		{http.Header{"Cache-Control": {"max-age=99999999999999"}}, 365 * 24 * time.Hour},
		{http.Header{"Cache-Control": {"public"}, "Expires": {now.Add(time.Hour).Format(http.TimeFormat)}}, time.Hour},
		{http.Header{"Cache-Control": {"max-age=60"}, "Expires": {now.Add(time.Hour).Format(http.TimeFormat)}}, time.Minute},
		{http.Header{"Expires": {now.Add(-time.Hour).Format(http.TimeFormat)}}, 0},
		{http.Header{"Expires": {"0"}}, 0},
	} {
		if got := freshness(tc.h, now, def); got != tc.want {
			t.Errorf("freshness(%v) = %v, want %v", tc.h, got, tc.want)
		}
	}
}
