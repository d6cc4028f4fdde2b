// Package testkit holds the small helpers that tests all over Latchkey
// share: an output buffer that goroutines and processes may write while
// the test reads it, a start gate that runs N calls at the same moment,
// and a poll of /healthz. It imports only the standard library, so any
// package may use it, the store's conformance suite and the backends'
// tests included; internal/testenv builds on it.
package testkit

import (
	"bytes"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// Buffer is a bytes.Buffer that one or more writers (a logger, a
// goroutine running a command, a child process's output) may fill while
// the test reads it. The zero value is an empty buffer.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// AtOnce calls fn(0) … fn(n-1), each on its own goroutine, all released
// together once every goroutine has started, and returns the results by
// index. It is the start gate of the races that prove single use: the
// calls reach the code under test as close to the same moment as the
// scheduler allows.
func AtOnce[T any](n int, fn func(i int) T) []T {
	out := make([]T, n)
	start := make(chan struct{})
	var ready, done sync.WaitGroup
	ready.Add(n)
	for i := range n {
		done.Go(func() {
			ready.Done()
			<-start
			out[i] = fn(i)
		})
	}
	ready.Wait()
	close(start)
	done.Wait()
	return out
}

// pollInterval is the pause between two requests of PollStatus.
const pollInterval = 20 * time.Millisecond

// PollStatus sends GET url until the answer has status want and returns
// how long that took. After timeout it gives up with an error that names
// the last answer (or the last transport error).
func PollStatus(url string, want int, timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	hc := &http.Client{Timeout: min(3*time.Second, max(timeout, pollInterval))}
	var last string
	for {
		resp, err := hc.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == want {
				return time.Since(start), nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		if time.Since(start) > timeout {
			return 0, fmt.Errorf("%s did not answer %d within %s (last: %s)", url, want, timeout, last)
		}
		time.Sleep(pollInterval)
	}
}

// WaitHealthy polls base's /healthz until it answers 200, for up to
// timeout: a server that answers it is up and serving.
func WaitHealthy(base string, timeout time.Duration) error {
	_, err := PollStatus(base+"/healthz", http.StatusOK, timeout)
	return err
}
