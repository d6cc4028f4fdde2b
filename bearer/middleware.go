package bearer

import (
	"bytes"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// maxFormPeek is how much of a form body the middleware reads to look for
// a second copy of the token; longer bodies are passed on unread.
const maxFormPeek = 1 << 20

// Middleware returns a handler that lets a request through to next only
// with a valid bearer token in its Authorization header (RFC 6750 §2.1),
// and puts the token's claims in its context for ClaimsFrom. It answers
// every other request itself, as RFC 6750 §3 says:
//
//   - no token, or another scheme: 401 with a challenge without error code;
//   - a token sent twice (two Authorization headers, or the header and an
//     access_token query or form parameter): 400 invalid_request;
//   - a refused token: 401 invalid_token;
//   - an authorization server that cannot be reached: 503 with Retry-After.
//
// Tokens in the query string (RFC 6750 §2.3) or in a form body (§2.2) are
// never accepted (RFC 9700 §4.3.2).
func (v *Validator) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, e := v.authenticate(r)
		if e != nil {
			writeError(w, v.cfg.Realm, e)
			return
		}
		next.ServeHTTP(w, r.WithContext(withClaims(r.Context(), v, c)))
	})
}

// RequireScope returns middleware that lets a request through only with a
// valid token granted every one of scopes, answering 403
// insufficient_scope otherwise (RFC 6750 §3.1). It validates the token as
// Middleware does, unless Middleware of the same Validator already did for
// this request.
func (v *Validator) RequireScope(scopes ...string) func(http.Handler) http.Handler {
	scopes = slices.Clone(scopes)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fc, ok := r.Context().Value(contextKey{}).(*fromContext)
			if !ok || fc.v != v {
				c, e := v.authenticate(r)
				if e != nil {
					writeError(w, v.cfg.Realm, e)
					return
				}
				fc = &fromContext{v: v, claims: c}
				r = r.WithContext(withClaims(r.Context(), v, c))
			}
			for _, s := range scopes {
				if !fc.claims.HasScope(s) {
					writeError(w, v.cfg.Realm, &Error{
						Code: CodeInsufficientScope, Description: "the token lacks a scope this resource needs",
						Scope: scopes, Err: ErrInsufficientScope,
					})
					return
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}

// authenticate finds the request's token and validates it.
func (v *Validator) authenticate(r *http.Request) (*Claims, *Error) {
	raw, e := extractToken(r)
	if e != nil {
		return nil, e
	}
	return v.validate(r.Context(), raw)
}

// extractToken returns the token of the Authorization header, whose
// scheme is case-insensitive (RFC 9110 §11.1). A request that carries it
// in more than one way is refused (RFC 6750 §2, S052).
func extractToken(r *http.Request) (string, *Error) {
	headers := r.Header.Values("Authorization")
	if len(headers) > 1 {
		return "", requestError("the request has more than one Authorization header")
	}
	token, found := "", false
	if len(headers) == 1 {
		scheme, rest, _ := strings.Cut(headers[0], " ")
		if strings.EqualFold(scheme, "Bearer") {
			token, found = strings.TrimLeft(rest, " "), true
		}
	}
	if !found {
		return "", &Error{Description: "a bearer token is required", Err: ErrNoToken}
	}
	if token == "" {
		return "", requestError("the Bearer credentials are empty")
	}
	if queryHasToken(r.URL) {
		return "", requestError("the token was sent both in the Authorization header and in the query")
	}
	if formHasToken(r) {
		return "", requestError("the token was sent both in the Authorization header and in the body")
	}
	return token, nil
}

// queryHasToken reports whether the query has an access_token parameter;
// it parses the query only when it might.
func queryHasToken(u *url.URL) bool {
	q := u.RawQuery
	if q == "" || !strings.Contains(q, "access_token") && !strings.Contains(q, "%") {
		return false
	}
	vals, _ := url.ParseQuery(q)
	return vals.Has("access_token")
}

// formHasToken reports whether an application/x-www-form-urlencoded body
// has an access_token parameter (RFC 6750 §2.2). It reads at most
// maxFormPeek bytes and puts them back, so next reads the whole body.
func formHasToken(r *http.Request) bool {
	if r.Body == nil || r.Body == http.NoBody {
		return false
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/x-www-form-urlencoded" {
		return false
	}
	buf, _ := io.ReadAll(io.LimitReader(r.Body, maxFormPeek+1))
	r.Body = readCloser{io.MultiReader(bytes.NewReader(buf), r.Body), r.Body}
	if len(buf) > maxFormPeek {
		return false
	}
	vals, _ := url.ParseQuery(string(buf))
	return vals.Has("access_token")
}

// readCloser reads from one reader and closes another.
type readCloser struct {
	io.Reader
	io.Closer
}
