package main

import (
	"io"
	"sync"
)

// maxPendingLog is how much log output may wait for the writer goroutine
// before a logging request waits too (a stalled stderr must not let the
// buffer grow without bound).
const maxPendingLog = 1 << 20

// logBatcher writes the server's log lines to out from one goroutine. A
// busy server logs a line per request; the lines that arrive while a
// write is in progress go out together in the next one, so the server
// makes one write call per batch instead of one per request, and no
// request waits for a write. An idle server's lines go out at once.
// Close writes what is left.
type logBatcher struct {
	out       io.Writer
	kick      chan struct{}
	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once

	mu      sync.Mutex
	drained *sync.Cond // signalled when pending was taken for writing
	pending []byte
	spare   []byte
	closed  bool
}

func newLogBatcher(out io.Writer) *logBatcher {
	b := &logBatcher{out: out, kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	b.drained = sync.NewCond(&b.mu)
	go b.run()
	return b
}

// Write queues a copy of p (slog reuses its buffer).
func (b *logBatcher) Write(p []byte) (int, error) {
	b.mu.Lock()
	for len(b.pending) >= maxPendingLog && !b.closed {
		b.drained.Wait()
	}
	if b.closed {
		defer b.mu.Unlock()
		return b.out.Write(p)
	}
	b.pending = append(b.pending, p...)
	b.mu.Unlock()
	select {
	case b.kick <- struct{}{}:
	default: // a write is due already; it will take p along
	}
	return len(p), nil
}

func (b *logBatcher) run() {
	defer close(b.done)
	for {
		select {
		case <-b.kick:
			b.flush()
		case <-b.stop:
			b.flush()
			return
		}
	}
}

// flush writes everything pending, swapping buffers so that Write can go
// on appending meanwhile. A failed write has nowhere to be reported.
func (b *logBatcher) flush() {
	b.mu.Lock()
	buf := b.pending
	b.pending, b.spare = b.spare[:0], nil
	b.drained.Broadcast()
	b.mu.Unlock()
	if len(buf) > 0 {
		_, _ = b.out.Write(buf)
	}
	b.mu.Lock()
	if cap(buf) <= maxPendingLog {
		b.spare = buf[:0]
	}
	b.mu.Unlock()
}

// Close writes what is pending; later writes go straight to out.
func (b *logBatcher) Close() error {
	var err error
	b.closeOnce.Do(func() {
		close(b.stop)
		<-b.done
		b.mu.Lock()
		defer b.mu.Unlock()
		b.closed = true
		b.drained.Broadcast()
		if len(b.pending) > 0 { // written after the last flush began
			_, err = b.out.Write(b.pending)
			b.pending = nil
		}
	})
	return err
}
