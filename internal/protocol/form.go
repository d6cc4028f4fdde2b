package protocol

import (
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"
)

// MaxFormBytes caps the body of every form POST to an OAuth endpoint (A15).
const MaxFormBytes = 64 << 10

// Form is a parsed form body in which every parameter appears at most
// once, except the few that RFC 8707 and RFC 8693 make repeatable (read
// those with All). An empty value reads as an omitted parameter (RFC 6749
// §3.1).
type Form map[string]string

// repeatable are the parameters that may appear more than once: resource
// (RFC 8707 §2) and audience (RFC 8693 §2.1). Their values are kept joined
// by NUL, which no accepted value contains.
var repeatable = map[string]bool{"resource": true, "audience": true}

// Get returns the value of key, or "". For a repeatable parameter sent
// more than once use All.
func (f Form) Get(key string) string { return f[key] }

// All returns every value of a repeatable parameter, in order, or nil.
func (f Form) All(key string) []string {
	v, ok := f[key]
	if !ok {
		return nil
	}
	return strings.Split(v, "\x00")
}

// Has reports whether key has a non-empty value.
func (f Form) Has(key string) bool { return f[key] != "" }

// ParseForm reads an application/x-www-form-urlencoded POST body (RFC 6749
// §3.2, S013): the media type may carry a UTF-8 charset, the body is capped at
// max bytes (413 beyond it), repeated parameters are refused (S007, S153),
// and so are invalid UTF-8 and NUL bytes. It never reads the query string.
func ParseForm(r *http.Request, max int64) (Form, *Error) {
	if r.Method != http.MethodPost {
		return nil, &Error{Code: ErrInvalidRequest, Description: "the request must use POST", Status: http.StatusMethodNotAllowed}
	}
	if enc := r.Header.Get("Content-Encoding"); enc != "" && !strings.EqualFold(enc, "identity") {
		return nil, &Error{Code: ErrInvalidRequest, Description: "compressed bodies are not accepted", Status: http.StatusUnsupportedMediaType}
	}
	if err := checkFormType(r.Header.Values("Content-Type")); err != nil {
		return nil, err
	}
	if r.ContentLength > max {
		return nil, &Error{Code: ErrInvalidRequest, Description: "the request body is too large", Status: http.StatusRequestEntityTooLarge}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, max+1))
	if err != nil {
		return nil, Errorf(ErrInvalidRequest, "the request body could not be read")
	}
	if int64(len(body)) > max {
		return nil, &Error{Code: ErrInvalidRequest, Description: "the request body is too large", Status: http.StatusRequestEntityTooLarge}
	}
	return ParseFormBody(string(body))
}

func checkFormType(values []string) *Error {
	if len(values) != 1 {
		return &Error{Code: ErrInvalidRequest, Description: "the body must be application/x-www-form-urlencoded", Status: http.StatusUnsupportedMediaType}
	}
	mt, params, err := mime.ParseMediaType(values[0])
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return &Error{Code: ErrInvalidRequest, Description: "the body must be application/x-www-form-urlencoded", Status: http.StatusUnsupportedMediaType}
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return &Error{Code: ErrInvalidRequest, Description: "the body must be UTF-8", Status: http.StatusUnsupportedMediaType}
	}
	return nil
}

// ParseFormBody parses a form-urlencoded string with the rules of ParseForm.
func ParseFormBody(body string) (Form, *Error) {
	values, err := url.ParseQuery(body)
	if err != nil {
		return nil, Errorf(ErrInvalidRequest, "the body is not valid form encoding")
	}
	return onceEach(values)
}

// ParseQuery parses a URL query with the rules of ParseForm (for GET
// requests to the authorization endpoint).
func ParseQuery(raw string) (Form, *Error) {
	values, err := url.ParseQuery(raw)
	if err != nil {
		return nil, Errorf(ErrInvalidRequest, "the query is not valid form encoding")
	}
	return onceEach(values)
}

func onceEach(values url.Values) (Form, *Error) {
	form := make(Form, len(values))
	for k, vs := range values {
		if len(vs) > 1 && !repeatable[k] {
			return nil, Errorf(ErrInvalidRequest, "parameter %s is repeated", printable(k))
		}
		kept := vs[:0:0]
		for _, v := range vs {
			if !clean(k) || !clean(v) {
				return nil, Errorf(ErrInvalidRequest, "parameters must be valid UTF-8 without NUL bytes")
			}
			if v != "" {
				kept = append(kept, v)
			}
		}
		if len(kept) > 0 {
			form[k] = strings.Join(kept, "\x00")
		}
	}
	return form, nil
}

func clean(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// printable shortens an attacker-chosen name for use in a description.
func printable(s string) string {
	if len(s) > 40 {
		s = s[:40]
	}
	return SafeDescription(s)
}

// ErrNoBasic reports that a request carries no Basic credentials.
var ErrNoBasic = errors.New("no basic credentials")

// ParseBasic reads client credentials from an Authorization header value
// (RFC 6749 §2.3.1). The scheme is case-insensitive; id and secret are
// form-urlencoded before Base64 (Appendix B), so both are decoded (S003).
// It returns ErrNoBasic when the header is not a Basic one.
func ParseBasic(header string) (id, secret string, err error) {
	scheme, rest, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "basic") {
		return "", "", ErrNoBasic
	}
	raw, decErr := base64.StdEncoding.DecodeString(strings.TrimSpace(rest))
	if decErr != nil {
		return "", "", errors.New("basic credentials are not valid base64")
	}
	rawID, rawSecret, ok := strings.Cut(string(raw), ":")
	if !ok {
		return "", "", errors.New("basic credentials have no colon")
	}
	if id, err = url.QueryUnescape(rawID); err != nil {
		return "", "", errors.New("client id is not form-urlencoded")
	}
	if secret, err = url.QueryUnescape(rawSecret); err != nil {
		return "", "", errors.New("client secret is not form-urlencoded")
	}
	if id == "" || !clean(id) || !clean(secret) {
		return "", "", errors.New("basic credentials are malformed")
	}
	return id, secret, nil
}
