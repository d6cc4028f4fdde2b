package admin

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
)

// Bounds of a request.
const (
	maxBody      = 1 << 20
	defaultLimit = 50
	maxLimit     = 200
)

// decodeJSON reads r's body, a JSON object, into v: refused (415) unless
// it is application/json (or, for PATCH, application/merge-patch+json),
// and refused (400) when it is larger than maxBody, not JSON, has members
// v does not know, or has trailing data.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/json" && !(r.Method == http.MethodPatch && mt == "application/merge-patch+json") {
		return problem(http.StatusUnsupportedMediaType, "send the body as application/json")
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return bodyProblem(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return invalid("the body holds more than one JSON value")
	}
	return nil
}

// bodyProblem explains why a body did not decode.
func bodyProblem(err error) *Problem {
	var tooBig *http.MaxBytesError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &tooBig):
		return problem(http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is larger than %d bytes", maxBody))
	case errors.As(err, &typeErr):
		return invalid("a member has the wrong type", FieldError{Field: typeErr.Field, Detail: "must be a " + typeErr.Type.String()})
	}
	return invalid("the body is not a valid JSON object: " + err.Error())
}

// page is the position and size of a keyset page.
type page struct {
	after string
	limit int
}

// readPage reads ?limit= (1 to maxLimit, default defaultLimit) and
// ?cursor= (the opaque next_cursor of the previous page).
func readPage(r *http.Request) (page, error) {
	p := page{limit: defaultLimit}
	q := r.URL.Query()
	var errs []FieldError
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxLimit {
			errs = append(errs, FieldError{Field: "limit", Detail: fmt.Sprintf("must be a whole number from 1 to %d", maxLimit)})
		}
		p.limit = n
	}
	if s := q.Get("cursor"); s != "" {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil || len(b) == 0 {
			errs = append(errs, FieldError{Field: "cursor", Detail: "must be the next_cursor of an earlier page"})
		}
		p.after = string(b)
	}
	if len(errs) > 0 {
		return p, invalid("the query is not valid", errs...)
	}
	return p, nil
}

// cursorOf is the next_cursor that continues after key.
func cursorOf(key string) string { return base64.RawURLEncoding.EncodeToString([]byte(key)) }

// listing is a page of a list: its items and, when more may follow, the
// cursor that fetches them.
type listing struct {
	Items      []map[string]any `json:"items"`
	NextCursor string           `json:"next_cursor,omitempty"`
}
