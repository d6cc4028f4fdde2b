// Package notes is a small notes API protected by Latchkey's access
// tokens: each token's subject — a user, or a client acting for itself —
// has its own notes, kept in memory. It uses only the public bearer
// package, as any resource server would.
package notes

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"

	"github.com/latchkey/latchkey/bearer"
)

// Scopes the API asks for.
const (
	ScopeRead  = "read"
	ScopeWrite = "write"
)

// Limits on what a client may send.
const (
	maxBodyBytes = 16 << 10
	maxTextRunes = 1000
)

// Note is one note.
type Note struct {
	ID   int    `json:"id"`
	Text string `json:"text"`
}

// server holds every subject's notes.
type server struct {
	mu    sync.Mutex
	notes map[string][]Note
}

// NewHandler returns the notes API, with v checking every token:
//
//	GET  /notes    the caller's notes (scope read)
//	POST /notes    add a note, {"text": "..."} (scope write)
//	GET  /healthz  "ok", without a token
func NewHandler(v *bearer.Validator) http.Handler {
	s := &server{notes: map[string][]Note{}}
	mux := http.NewServeMux()
	mux.Handle("GET /notes", v.RequireScope(ScopeRead)(http.HandlerFunc(s.list)))
	mux.Handle("POST /notes", v.RequireScope(ScopeWrite)(http.HandlerFunc(s.create)))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	return mux
}

func (s *server) list(w http.ResponseWriter, r *http.Request) {
	sub := subject(r)
	s.mu.Lock()
	notes := append([]Note{}, s.notes[sub]...)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, struct {
		Subject string `json:"subject"`
		Notes   []Note `json:"notes"`
	}{sub, notes})
}

func (s *server) create(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Text string `json:"text"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "send a JSON object {\"text\": \"...\"}"})
		return
	}
	text := strings.TrimSpace(in.Text)
	if err := checkText(text); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	sub := subject(r)
	s.mu.Lock()
	n := Note{ID: len(s.notes[sub]) + 1, Text: text}
	s.notes[sub] = append(s.notes[sub], n)
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, n)
}

func checkText(text string) error {
	switch {
	case text == "":
		return errors.New("text must not be empty")
	case len([]rune(text)) > maxTextRunes:
		return errors.New("text must be at most 1000 characters")
	}
	return nil
}

// subject is the verified token's sub; the middleware guarantees one.
func subject(r *http.Request) string {
	c, _ := bearer.ClaimsFrom(r.Context())
	return c.Subject
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
