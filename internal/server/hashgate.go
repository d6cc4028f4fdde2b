package server

import (
	"context"
	"errors"
	"fmt"

	"github.com/latchkey/latchkey/internal/password"
)

// hashGate bounds how many password hashes run at once. One argon2id
// check takes passwords.memory_kib (19 MiB by default) and a core for its
// whole run, so with one check per core the CPU is already full: more at
// once would only multiply the memory and stretch every check's latency.
// Waiters queue in arrival order and give up when their request ends.
type hashGate chan struct{}

func newHashGate(slots int) hashGate { return make(hashGate, max(slots, 1)) }

// errHashWait ends a request that left while waiting for a slot.
var errHashWait = errors.New("request ended while waiting for a password check")

// check runs password.Check in a slot.
func (g hashGate) check(ctx context.Context, pw, hash string) (ok bool, err error) {
	err = g.do(ctx, func() error {
		ok, err = password.Check(pw, hash)
		return err
	})
	return ok, err
}

// do runs fn, which checks a password, in a slot.
func (g hashGate) do(ctx context.Context, fn func() error) error {
	select {
	case g <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", errHashWait, context.Cause(ctx))
	}
	defer func() { <-g }()
	return fn()
}
