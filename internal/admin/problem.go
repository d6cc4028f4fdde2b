package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/latchkey/latchkey/internal/store"
)

// Problem types (RFC 9457 §3.1.1) beyond about:blank, which stands for
// "the status code says it all".
const (
	typeValidation = "urn:latchkey:problem:validation"
	typeStale      = "urn:latchkey:problem:stale-etag"
	typeConflict   = "urn:latchkey:problem:conflict"
)

// Problem is an RFC 9457 problem detail: what a handler returns to refuse
// a request. Errors lists field errors of a validation problem.
type Problem struct {
	Type   string       `json:"type"`
	Title  string       `json:"title"`
	Status int          `json:"status"`
	Detail string       `json:"detail,omitempty"`
	Errors []FieldError `json:"errors,omitempty"`
}

// FieldError names one bad member of a request body or query.
type FieldError struct {
	// Field is the member's name (grant_types, claims.email) or the query
	// parameter (limit).
	Field  string `json:"field"`
	Detail string `json:"detail"`
}

func (p *Problem) Error() string { return fmt.Sprintf("%d %s: %s", p.Status, p.Title, p.Detail) }

// problem is a Problem of type about:blank with the status's own title.
func problem(status int, detail string) *Problem {
	return &Problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: detail}
}

// invalid is a 400 validation problem listing field errors.
func invalid(detail string, errs ...FieldError) *Problem {
	return &Problem{Type: typeValidation, Title: "Invalid request", Status: http.StatusBadRequest, Detail: detail, Errors: errs}
}

// conflict is a 409 problem: the request is valid but the record's state
// forbids it (a config-file client, an id taken).
func conflict(detail string) *Problem {
	return &Problem{Type: typeConflict, Title: "Conflict", Status: http.StatusConflict, Detail: detail}
}

// stale is the 412 answer to an If-Match that no longer matches.
func stale(what string) *Problem {
	return &Problem{Type: typeStale, Title: "Precondition Failed", Status: http.StatusPreconditionFailed,
		Detail: what + " changed since you read it: GET it again, reapply your change, and send the new ETag in If-Match"}
}

// writeProblem answers with err as a problem: a *Problem as it is, the
// store's not-found and unavailable errors as 404 and 503, and anything
// else as a 500 that is logged once and never shown.
func writeProblem(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	var p *Problem
	switch {
	case errors.As(err, &p):
	case errors.Is(err, store.ErrNotFound):
		p = problem(http.StatusNotFound, "no such record")
	case errors.Is(err, store.ErrStale):
		p = stale("the record")
	case errors.Is(err, store.ErrUnavailable):
		w.Header().Set("Retry-After", "5")
		p = problem(http.StatusServiceUnavailable, "the store cannot be reached; try again shortly")
	default:
		log.ErrorContext(r.Context(), "admin request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		p = problem(http.StatusInternalServerError, "an internal error happened; it has been logged")
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// writeJSON answers status with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
	return nil
}
