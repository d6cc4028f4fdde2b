package loadgen

import (
	"cmp"
	"slices"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Result is what a run measured.
type Result struct {
	Issuer      string
	Grant       Grant
	Concurrency int
	// Warmup is the untimed time before the window.
	Warmup time.Duration
	// Elapsed is the length of the measured window: the configured duration,
	// or until the last of the configured requests completed, or until the
	// run was interrupted.
	Elapsed time.Duration
	// Interrupted says the run's context ended before the window did.
	Interrupted bool

	// OK and Failures count the requests that completed in the window.
	OK, Failures int64
	// Latency summarizes the successful requests, FailureLatency the failed.
	Latency, FailureLatency Latency
	// Errors groups the failures, the largest group first.
	Errors []ErrorGroup
	// PagesPerFlow is the mean number of requests a successful code flow
	// sent to the authorization server before reaching the redirect URI:
	// 1 when the server remembered the session and the consent, more when
	// the login and consent forms were walked. 0 for the other grants.
	PagesPerFlow float64
	// Renewals counts how often a Refresh worker started a new chain of
	// refresh tokens after a failed request, RenewalFailures the attempts
	// at it that failed; neither is timed or counted in OK or Failures.
	Renewals, RenewalFailures int64
	// DPoP says every token request carried a DPoP proof (Config.DPoP);
	// every success was then DPoP-bound, since an answer that is not is a
	// failure. NonceRetries counts the requests sent a second time with
	// the server's nonce (RFC 9449 §8).
	DPoP         bool
	NonceRetries int64
}

// Rate is the successes per second of the window: failures never count.
func (r *Result) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.OK) / r.Elapsed.Seconds()
}

// Latency summarizes a histogram of latencies.
type Latency struct {
	P50, P90, P99, Max, Mean time.Duration
}

func latencyOf(h *hdrhistogram.Histogram) Latency {
	us := func(v int64) time.Duration { return time.Duration(v) * time.Microsecond }
	return Latency{P50: us(h.ValueAtQuantile(50)), P90: us(h.ValueAtQuantile(90)), P99: us(h.ValueAtQuantile(99)),
		Max: us(h.Max()), Mean: time.Duration(h.Mean() * float64(time.Microsecond))}
}

// ErrorGroup counts the failures with one HTTP status (0: no answer) and
// one OAuth error code (or a short description of what went wrong).
type ErrorGroup struct {
	Status int    `json:"status"`
	Error  string `json:"error"`
	Count  int64  `json:"count"`
}

// collect merges the workers' histograms, counts and errors.
func (r *runner) collect(workers []*worker, elapsed time.Duration, interrupted bool) *Result {
	res := &Result{Issuer: r.cfg.Issuer, Grant: r.cfg.Grant, Concurrency: r.cfg.Concurrency, Warmup: r.cfg.Warmup,
		Elapsed: elapsed, Interrupted: interrupted, DPoP: r.cfg.DPoP}
	ok, failed := newHistogram(), newHistogram()
	errs := map[errKey]int64{}
	var pages int64
	for _, w := range workers {
		ok.Merge(w.latency)
		if w.failLatency != nil {
			failed.Merge(w.failLatency)
		}
		for k, n := range w.errs {
			errs[k] += n
		}
		pages += w.pages
		res.Renewals += w.renewals
		res.RenewalFailures += w.renewFails
		res.NonceRetries += w.nonceRetries
	}
	res.OK, res.Failures = ok.TotalCount(), failed.TotalCount()
	res.Latency, res.FailureLatency = latencyOf(ok), latencyOf(failed)
	if res.OK > 0 {
		res.PagesPerFlow = float64(pages) / float64(res.OK)
	}
	res.Errors = make([]ErrorGroup, 0, len(errs))
	for k, n := range errs {
		res.Errors = append(res.Errors, ErrorGroup{Status: k.status, Error: k.code, Count: n})
	}
	slices.SortFunc(res.Errors, func(a, b ErrorGroup) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Status, b.Status), cmp.Compare(a.Error, b.Error))
	})
	return res
}
