package main

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// countingWriter is an io.Writer that counts its Write calls.
type countingWriter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
	gate   chan struct{} // when set, each Write waits for a value
}

func (l *countingWriter) Write(p []byte) (int, error) {
	if l.gate != nil {
		<-l.gate
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.writes++
	return l.buf.Write(p)
}

func (l *countingWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// TestLogBatcherKeepsEveryLine: lines from many goroutines all arrive,
// whole, in each goroutine's order, in fewer writes than lines; Close
// writes what is pending and later lines go straight through.
func TestLogBatcherKeepsEveryLine(t *testing.T) {
	out := &countingWriter{}
	b := newLogBatcher(out)
	const writers, lines = 8, 2000
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range lines {
				line := fmt.Appendf(nil, "w%d %d %s\n", w, i, strings.Repeat("x", 100))
				if n, err := b.Write(line); n != len(line) || err != nil {
					t.Errorf("Write = %d, %v", n, err)
				}
				clear(line) // the batcher must have copied it, as slog reuses its buffer
			}
		})
	}
	wg.Wait()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Write([]byte("after close\n")); err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(got) != writers*lines+1 || got[len(got)-1] != "after close" {
		t.Fatalf("%d lines, last %q; want %d and \"after close\"", len(got), got[len(got)-1], writers*lines+1)
	}
	next := make([]int, writers)
	for _, l := range got[:len(got)-1] {
		var w, i int
		var rest string
		if _, err := fmt.Sscanf(l, "w%d %d %s", &w, &i, &rest); err != nil || len(rest) != 100 {
			t.Fatalf("a broken line: %q", l)
		}
		if i != next[w] {
			t.Fatalf("writer %d: line %d after line %d", w, i, next[w]-1)
		}
		next[w]++
	}
	if out.writes >= writers*lines {
		t.Logf("(%d writes for %d lines: no batching happened this time)", out.writes, writers*lines)
	}
}

// TestLogBatcherBoundsItsBuffer: when the output stalls, writers wait
// once about maxPendingLog is queued instead of growing it without bound,
// and go on when the output moves again.
func TestLogBatcherBoundsItsBuffer(t *testing.T) {
	out := &countingWriter{gate: make(chan struct{})}
	b := newLogBatcher(out)
	line := bytes.Repeat([]byte("y"), 4096)
	line[len(line)-1] = '\n'
	written := make(chan int, 1)
	go func() {
		n := 0
		// At most one batch (≤ maxPendingLog + a line) can be stuck in the
		// stalled write and as much again pending: 4 MiB must block.
		for range 4 * maxPendingLog / len(line) {
			b.Write(line)
			n++
		}
		written <- n
	}()
	time.Sleep(100 * time.Millisecond)
	b.mu.Lock()
	pending := len(b.pending)
	b.mu.Unlock()
	if pending > maxPendingLog+len(line) {
		t.Fatalf("%d bytes queued behind a stalled output, want at most %d", pending, maxPendingLog+len(line))
	}
	select {
	case <-written:
		t.Fatal("every write returned although the output was stalled")
	default:
	}
	close(out.gate) // the output moves again
	n := <-written
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if got := len(out.String()); got != n*len(line) {
		t.Fatalf("%d bytes written, want %d", got, n*len(line))
	}
}
