package testkit_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/testkit"
)

// Lines written by many goroutines all arrive whole; run with -race.
func TestBufferConcurrentWriters(t *testing.T) {
	var b testkit.Buffer
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 100 {
				fmt.Fprintf(&b, "writer %d line %d\n", i, j)
				_ = b.String()
			}
		})
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 800 {
		t.Fatalf("%d lines, want 800", len(lines))
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "writer ") {
			t.Fatalf("a torn line: %q", l)
		}
	}
}

// Every call runs once, its result lands at its index, and the calls run
// at the same time.
func TestAtOnce(t *testing.T) {
	const n = 16
	var calls atomic.Int32
	got := testkit.AtOnce(n, func(i int) int { calls.Add(1); return i * i })
	for i, v := range got {
		if v != i*i {
			t.Errorf("result %d is %d, want %d", i, v, i*i)
		}
	}
	if calls.Load() != n {
		t.Errorf("%d calls ran, want %d", calls.Load(), n)
	}
	// Each call waits inside fn until every call has arrived: that only
	// ends if all n run at once.
	var arrived sync.WaitGroup
	arrived.Add(n)
	done := make(chan struct{})
	go func() {
		testkit.AtOnce(n, func(int) struct{} { arrived.Done(); arrived.Wait(); return struct{}{} })
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the calls did not all run at the same time")
	}
	if got := testkit.AtOnce(0, func(int) int { return 1 }); len(got) != 0 {
		t.Errorf("AtOnce(0) = %v, want nothing", got)
	}
}

// PollStatus waits for the status it wants and reports the last answer
// when it never comes; WaitHealthy asks /healthz.
func TestPollStatus(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" || calls.Add(1) < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	if err := testkit.WaitHealthy(srv.URL, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if n := calls.Load(); n != 3 {
		t.Errorf("%d requests, want 3 (two 503s, then 200)", n)
	}
	_, err := testkit.PollStatus(srv.URL+"/readyz", http.StatusOK, 100*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "503 Service Unavailable") {
		t.Errorf("a server that keeps answering 503: %v, want an error naming the 503", err)
	}
	srv.Close()
	if _, err := testkit.PollStatus(srv.URL+"/healthz", http.StatusOK, 50*time.Millisecond); err == nil {
		t.Error("a closed server: no error")
	}
}
