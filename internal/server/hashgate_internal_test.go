package server

import (
	"context"
	"crypto/rand"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/password"
)

// TestHashGate: checks through the gate answer correctly when many run
// at once; with every slot busy a check waits, goes on when a slot frees,
// and gives up with errHashWait when its request ends first.
func TestHashGate(t *testing.T) {
	cheap := password.Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1}
	hash, err := password.Hash("right", cheap, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	g := newHashGate(2)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			pw := "wrong"
			if i%2 == 0 {
				pw = "right"
			}
			ok, err := g.check(context.Background(), pw, hash)
			if err != nil || ok != (i%2 == 0) {
				t.Errorf("check %d: %v %v", i, ok, err)
			}
		})
	}
	wg.Wait()

	g <- struct{}{}
	g <- struct{}{} // both slots busy
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if ok, err := g.check(ctx, "right", hash); ok || !errors.Is(err, errHashWait) {
		t.Fatalf("queued check after its request ended: %v %v, want errHashWait", ok, err)
	}
	done := make(chan bool)
	go func() {
		ok, _ := g.check(context.Background(), "right", hash)
		done <- ok
	}()
	select {
	case <-done:
		t.Fatal("a check ran while every slot was busy")
	case <-time.After(50 * time.Millisecond):
	}
	<-g
	if !<-done {
		t.Fatal("the queued check failed once a slot was free")
	}
}
