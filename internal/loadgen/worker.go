package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/latchkey/latchkey/dpop"
	"github.com/latchkey/latchkey/internal/formflow"
)

// The histograms hold microseconds from 1 µs to 60 s, to 3 significant digits.
const (
	histMin     = 1
	histMax     = int64(60 * time.Second / time.Microsecond)
	histSigFigs = 3
)

func newHistogram() *hdrhistogram.Histogram { return hdrhistogram.New(histMin, histMax, histSigFigs) }

// renewPause is how long a worker waits after a failed renewal of its
// refresh token chain before it tries again.
const renewPause = 100 * time.Millisecond

// outcome is the result of one request.
type outcome struct {
	ok bool
	// status is the HTTP status of the answer that decided, 0 when there was
	// no answer.
	status int
	// code is the OAuth error code, a short description of what was wrong
	// with the answer, or the class of transport failure ("" on success).
	code string
	// pages is the number of requests the code flow sent to the
	// authorization server before it reached the redirect URI.
	pages int
}

func failure(status int, code string) outcome { return outcome{status: status, code: code} }

func transportFailure(err error) outcome { return failure(0, errorClass(err)) }

// String describes a failed outcome.
func (o outcome) String() string {
	switch {
	case o.ok:
		return "ok"
	case o.status == 0:
		return o.code
	case o.code == "":
		return fmt.Sprintf("HTTP %d", o.status)
	}
	return fmt.Sprintf("HTTP %d %s", o.status, o.code)
}

// errKey groups failures.
type errKey struct {
	status int
	code   string
}

// worker sends one request at a time. Everything in it but the two
// counters belongs to its goroutine; Run reads the rest after it ends.
type worker struct {
	r      *runner
	header http.Header
	buf    bytes.Buffer
	lim    io.LimitedReader

	// walker walks the code flow; its client's cookie jar is the worker's
	// session.
	walker *formflow.Walker
	// refreshToken is the latest token of the worker's chain (Refresh).
	refreshToken string

	// prover makes the worker's DPoP proofs (Config.DPoP), with a key of
	// its own; nil without DPoP. proof is the value of the DPoP header in
	// header, replaced for every request; nonce is the server's latest
	// DPoP-Nonce, and nonceRetries counts the requests sent again with it.
	prover       *dpop.Prover
	proof        []string
	nonce        string
	nonceRetries int64

	// okN and failedN count the requests of the window, for the progress line.
	okN, failedN atomic.Int64

	latency, failLatency *hdrhistogram.Histogram
	errs                 map[errKey]int64
	pages                int64
	renewals, renewFails int64
}

func (r *runner) newWorker() *worker {
	return &worker{r: r, header: r.postHeader(), errs: map[errKey]int64{}, latency: newHistogram()}
}

// startWorkers makes the workers, each with its own DPoP key when the
// run uses them; for Refresh each gets its first refresh token, all at
// once, before anything is timed.
func (r *runner) startWorkers(ctx context.Context) ([]*worker, error) {
	workers := make([]*worker, r.cfg.Concurrency)
	for i := range workers {
		workers[i] = r.newWorker()
		if r.cfg.DPoP {
			if err := workers[i].useDPoP(); err != nil {
				return nil, err
			}
		}
	}
	if r.cfg.Grant != Refresh {
		return workers, nil
	}
	errs := make([]error, len(workers))
	var wg sync.WaitGroup
	for i, w := range workers {
		wg.Go(func() { errs[i] = w.newChain(ctx) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("worker %d could not get its first refresh token: %w", i+1, err)
		}
	}
	return workers, nil
}

// do sends one request of the grant.
func (w *worker) do(ctx context.Context) outcome {
	switch w.r.cfg.Grant {
	case Refresh:
		return w.refresh(ctx)
	case Introspect:
		return w.introspect(ctx)
	case AuthorizationCode:
		_, o := w.codeFlow(ctx, w.r.cfg.FreshSession)
		return o
	default: // ClientCredentials, Password, TokenExchange, JWTBearer
		return w.lean(ctx)
	}
}

// lean is a token request with a constant body, judged by leanAnswer.
func (w *worker) lean(ctx context.Context) outcome {
	status, err := w.postToken(ctx, w.r.fixedBody)
	if err != nil {
		return transportFailure(err)
	}
	var a leanAnswer
	jerr := json.Unmarshal(w.buf.Bytes(), &a)
	return w.judge(status, jerr, bool(a.AccessToken), a.TokenType, a.Error)
}

// introspect asks about the token; only "active": true is a success.
func (w *worker) introspect(ctx context.Context) outcome {
	status, err := w.post(ctx, w.r.introspectURL, w.r.fixedBody)
	if err != nil {
		return transportFailure(err)
	}
	var a struct {
		Active *bool  `json:"active"`
		Error  string `json:"error"`
	}
	jerr := json.Unmarshal(w.buf.Bytes(), &a)
	switch {
	case status != http.StatusOK:
		return failure(status, a.Error)
	case jerr != nil:
		return failure(status, "not JSON")
	case a.Active == nil:
		return failure(status, "no active member")
	case !*a.Active:
		return failure(status, "inactive")
	}
	return outcome{ok: true, status: status}
}

// refresh rotates the worker's refresh token, keeping the new one when
// the server sends one (a server that does not rotate sends none).
func (w *worker) refresh(ctx context.Context) outcome {
	a, o := w.exchange(ctx, w.r.refreshBody(w.refreshToken))
	if o.ok && a.RefreshToken != "" {
		w.refreshToken = a.RefreshToken
	}
	return o
}

// newChain gets a new refresh token: by the code flow when there is a
// redirect URI, else by the password grant.
func (w *worker) newChain(ctx context.Context) error {
	var a tokenAnswer
	var o outcome
	if w.r.cfg.RedirectURI != "" {
		a, o = w.codeFlow(ctx, false)
	} else {
		a, o = w.exchange(ctx, w.r.passwordBody)
	}
	if !o.ok {
		return errors.New(o.String())
	}
	if a.RefreshToken == "" {
		return errors.New("the token response has no refresh_token: may the client use the refresh_token grant?")
	}
	w.refreshToken = a.RefreshToken
	return nil
}

// recover follows a failed request: a Refresh worker starts a new chain
// (untimed), so one error does not end it.
func (w *worker) recover(ctx context.Context) {
	if w.r.cfg.Grant != Refresh {
		return
	}
	w.renewals++
	for ctx.Err() == nil {
		if w.newChain(ctx) == nil || ctx.Err() != nil {
			return
		}
		w.renewFails++
		select {
		case <-ctx.Done():
		case <-time.After(renewPause):
		}
	}
}

// record adds a counted request to the worker's results.
func (w *worker) record(o outcome, d time.Duration) {
	us := min(max(d.Microseconds(), histMin), histMax)
	if o.ok {
		_ = w.latency.RecordValue(us) // in range by construction
		w.pages += int64(o.pages)
		w.okN.Add(1)
		return
	}
	if w.failLatency == nil { // most runs have no failures: made on the first
		w.failLatency = newHistogram()
	}
	_ = w.failLatency.RecordValue(us)
	w.errs[errKey{o.status, o.code}]++
	w.failedN.Add(1)
}
