package bearer

import (
	"testing"
	"time"
)

// The introspection cache stays bounded under a flood of new keys and
// never serves an entry past its expiry.
func TestTTLCacheBounded(t *testing.T) {
	c := newTTLCache[int](100)
	now := time.Unix(1_000_000, 0)
	for i := range 1000 {
		var k digest
		k[0], k[1] = byte(i), byte(i>>8)
		c.put(k, i, now.Add(time.Minute), now)
		if len(c.entries) > 100 {
			t.Fatalf("%d entries after %d puts", len(c.entries), i+1)
		}
	}
	var k digest
	k[0] = 0xff
	c.put(k, 1, now.Add(time.Second), now)
	if v, ok := c.get(k, now); !ok || v != 1 {
		t.Fatal("fresh entry missing")
	}
	if _, ok := c.get(k, now.Add(time.Second)); ok {
		t.Fatal("expired entry served")
	}
}
