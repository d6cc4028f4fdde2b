package main

import (
	"encoding/json"
	"net/http"

	"github.com/latchkey/latchkey/bearer"
)

// calendarHandler is the demo's second resource server, a calendar API
// that the notes API calls for the user with a token it got by token
// exchange (RFC 8693). It answers GET /events (scope read) with the
// token's subject and its act claim, so the demo can show who the token
// is for and who is acting.
func calendarHandler(v *bearer.Validator) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /events", v.RequireScope("read")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := bearer.ClaimsFrom(r.Context())
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(struct {
			Subject string   `json:"subject"`
			Act     any      `json:"act,omitempty"`
			Events  []string `json:"events"`
		}{c.Subject, c.Raw["act"], []string{"09:30 stand-up", "14:00 dentist"}})
	})))
	return mux
}
