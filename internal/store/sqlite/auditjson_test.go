package sqlite

import (
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzEncodeDetails: the hand-written details encoding decodes to what
// encoding/json's encoding of the same map decodes to, for any strings
// (quotes, control characters, invalid UTF-8, U+2028).
func FuzzEncodeDetails(f *testing.F) {
	f.Add("jti", "5f0c2b9d", "username", "ali\"ce\\\n\x01\u2028", "ip", "\xff\xfe<&>")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2, k3, v3 string) {
		d := map[string]string{k1: v1, k2: v2, k3: v3, "scope": "read write"}
		got := encodeDetails(d)
		want, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		var g, w map[string]string
		if err := json.Unmarshal([]byte(got), &g); err != nil {
			t.Fatalf("invalid JSON %q: %v", got, err)
		}
		if err := json.Unmarshal(want, &w); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(g, w) {
			t.Fatalf("decodes to %#v, encoding/json's to %#v", g, w)
		}
		if encodeDetails(nil) != "{}" {
			t.Fatal("no details must store {}")
		}
	})
}
