package webhook_test

import (
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/latchkey/latchkey/webhook"
)

// A receiver checks every delivery before it trusts the events in it.
func ExampleVerify() {
	secret := []byte("the audit.webhook.secret of the server")
	http.HandleFunc("POST /latchkey", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "unreadable", http.StatusBadRequest)
			return
		}
		if err := webhook.Verify(secret, r.Header.Get(webhook.Header), body, time.Now(), 5*time.Minute); err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		// body is {"events":[{"id":…,"time":…,"type":"token.issued",…}]}
		w.WriteHeader(http.StatusNoContent)
	})
	now := time.Unix(1_800_000_000, 0)
	sig := webhook.Sign(secret, now, []byte(`{"events":[]}`))
	fmt.Println(sig[:13], webhook.Verify(secret, sig, []byte(`{"events":[]}`), now, 5*time.Minute))
	// Output: t=1800000000, <nil>
}
