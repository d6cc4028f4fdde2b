package loadgen

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Run measures cfg.Grant against cfg.Issuer and returns the result. An
// error means the run could not start: a configuration that does not
// Check, failed discovery, no token to introspect, no first refresh
// token. Failed requests during the run are part of the Result, not
// errors. When ctx ends during the run, Run returns what was measured so
// far, with Interrupted set.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	r, err := newRunner(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer r.close()
	workers, err := r.startWorkers(ctx)
	if err != nil {
		return nil, err
	}
	return r.measure(ctx, workers), nil
}

// window is the measured part of the run: it starts after the warm-up
// and ends at a fixed time or after a number of requests. A request
// counts when it completes inside it.
type window struct {
	start time.Time
	end   time.Time // zero when the run counts requests
	limit int64     // the number of requests, or 0

	claimed atomic.Int64
	// last is when the last counted request completed, after start (limit only).
	last atomic.Int64
	full chan struct{} // closed when limit requests have completed
}

// admit decides about a request that completed at now: whether it
// counts, and whether its worker should send another.
func (win *window) admit(now time.Time) (count, more bool) {
	if now.Before(win.start) {
		return false, true // warm-up
	}
	if win.limit == 0 {
		in := now.Before(win.end)
		return in, in
	}
	n := win.claimed.Add(1)
	if n > win.limit {
		return false, false
	}
	if n == win.limit {
		win.last.Store(int64(now.Sub(win.start)))
		close(win.full)
	}
	return true, n < win.limit
}

// loop sends requests until the window closes or ctx ends. A request
// that failed because ctx ended (the end of the run) is not a result.
func (w *worker) loop(ctx context.Context, win *window) {
	for ctx.Err() == nil {
		if w.r.pace != nil && w.r.pace.Wait(ctx) != nil {
			return // the run is over
		}
		began := time.Now()
		o := w.do(ctx)
		now := time.Now()
		if !o.ok && ctx.Err() != nil {
			return
		}
		count, more := win.admit(now)
		if count {
			w.record(o, now.Sub(began))
		}
		if !more {
			return
		}
		if !o.ok {
			w.recover(ctx)
		}
	}
}

// measure runs the warm-up and the window, then collects the result.
//  1. Start the workers and the progress reports.
//  2. Wait for the end of the window, the last request, or ctx.
//  3. Cancel what is still in flight and wait for every worker.
//  4. Merge the workers' results.
func (r *runner) measure(ctx context.Context, workers []*worker) *Result {
	began := time.Now()
	win := &window{start: began.Add(r.cfg.Warmup), limit: r.cfg.Requests, full: make(chan struct{})}
	var deadline <-chan time.Time
	if win.limit == 0 {
		win.end = win.start.Add(r.cfg.Duration)
		t := time.NewTimer(time.Until(win.end))
		defer t.Stop()
		deadline = t.C
	}
	runCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Go(func() { w.loop(runCtx, win) })
	}
	stopProgress := r.reportProgress(began, win, workers)

	interrupted := false
	select {
	case <-deadline:
	case <-win.full:
	case <-ctx.Done():
		interrupted = true
	}
	stopped := time.Now()
	cancel()
	wg.Wait()
	stopProgress()

	var elapsed time.Duration
	select {
	case <-win.full:
		elapsed, interrupted = time.Duration(win.last.Load()), false
	default:
		elapsed = stopped.Sub(win.start)
		if !win.end.IsZero() && elapsed >= r.cfg.Duration {
			elapsed, interrupted = r.cfg.Duration, false
		}
	}
	return r.collect(workers, max(elapsed, 0), interrupted)
}

// reportProgress calls cfg.Progress every second until the returned
// function is called; that function returns once the reports have stopped.
// The reports of the window fall on whole seconds of it.
func (r *runner) reportProgress(began time.Time, win *window, workers []*worker) (stop func()) {
	if r.cfg.Progress == nil {
		return func() {}
	}
	done, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		var lastOK int64
		lastAt := win.start
		next := nextTick(began, win.start, began)
		t := time.NewTimer(time.Until(next))
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			now := time.Now()
			if !win.end.IsZero() && !now.Before(win.end) {
				return // the window is over: the summary follows
			}
			p := Progress{Warmup: now.Before(win.start), Elapsed: now.Sub(win.start)}
			if p.Warmup {
				p.Elapsed = now.Sub(began)
			} else {
				var ok int64
				for _, w := range workers {
					ok += w.okN.Load()
					p.Failed += w.failedN.Load()
				}
				p.Completed = ok + p.Failed
				p.Rate = float64(ok-lastOK) / now.Sub(lastAt).Seconds()
				lastOK, lastAt = ok, now
			}
			r.cfg.Progress(p)
			next = nextTick(began, win.start, now)
			t.Reset(time.Until(next))
		}
	}()
	return func() { close(done); <-exited }
}

// nextTick is the next whole second after now: of the run during the
// warm-up, of the window from its start on.
func nextTick(began, start, now time.Time) time.Time {
	if now.Before(start) {
		if t := began.Add((now.Sub(began)/time.Second + 1) * time.Second); t.Before(start) {
			return t
		}
	}
	return start.Add((now.Sub(start)/time.Second + 1) * time.Second)
}
