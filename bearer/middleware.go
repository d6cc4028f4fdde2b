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
// with a valid token in its Authorization header, and puts the token's
// claims in its context for ClaimsFrom: a bearer token (RFC 6750 §2.1),
// or a DPoP-bound token ("Authorization: DPoP <token>") with a valid
// proof of its key in the DPoP header (RFC 9449 §7). It answers every
// other request itself, as RFC 6750 §3 and RFC 9449 §7 say:
//
//   - no token, or another scheme: 401 with a challenge for each scheme
//     accepted, without error code;
//   - a token sent twice (two Authorization headers, both schemes, or the
//     header and an access_token query or form parameter): 400
//     invalid_request;
//   - a refused token, a DPoP-bound token sent as a bearer token, or a
//     bearer token sent with the DPoP scheme: 401 invalid_token;
//   - a refused proof: 401 invalid_dpop_proof, or use_dpop_nonce with a
//     DPoP-Nonce header when Config.DPoP.Nonces asks for nonces;
//   - an authorization server that cannot be reached: 503 with Retry-After.
//
// With Config.Resource, every challenge also carries resource_metadata,
// the URL of this server's metadata (RFC 9728 §5.1).
//
// Tokens in the query string (RFC 6750 §2.3) or in a form body (§2.2) are
// never accepted (RFC 9700 §4.3.2).
func (v *Validator) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, e := v.authenticate(r)
		if e != nil {
			v.writeError(w, e)
			return
		}
		next.ServeHTTP(w, r.WithContext(withClaims(r.Context(), v, c)))
	})
}

// RequireScope returns middleware that lets a request through only with a
// valid token granted every one of scopes, answering 403
// insufficient_scope otherwise, with the scopes in the challenge's scope
// attribute so that the client can ask for them (RFC 6750 §3.1). It validates the token as
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
					v.writeError(w, e)
					return
				}
				fc = &fromContext{v: v, claims: c}
				r = r.WithContext(withClaims(r.Context(), v, c))
			}
			for _, s := range scopes {
				if !fc.claims.HasScope(s) {
					v.writeError(w, &Error{
						Code: CodeInsufficientScope, Description: "the token lacks a scope this resource needs",
						Scope: scopes, Err: ErrInsufficientScope, dpop: fc.claims.JKT != "",
					})
					return
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}

// authenticate finds the request's token and validates it: as a bearer
// token, or with its DPoP proof.
func (v *Validator) authenticate(r *http.Request) (*Claims, *Error) {
	scheme, raw, e := v.extractToken(r)
	if e != nil {
		return nil, e
	}
	if scheme == schemeDPoP {
		return v.validateDPoP(r.Context(), raw, r.Header.Values("DPoP"), r.Method, v.requestURL(r))
	}
	return v.validateBearer(r.Context(), raw)
}

// The authorization schemes accepted.
const (
	schemeBearer = "Bearer"
	schemeDPoP   = "DPoP"
)

// extractToken returns the scheme and token of the Authorization header;
// schemes are case-insensitive (RFC 9110 §11.1). A request that carries
// the token in more than one way is refused (RFC 6750 §2, S052), and so is
// one using both schemes (RFC 9449 §7.2, S169). With DPoP.Require, the
// Bearer scheme counts as no token at all.
func (v *Validator) extractToken(r *http.Request) (string, string, *Error) {
	headers := r.Header.Values("Authorization")
	if len(headers) > 1 {
		if a, b := v.schemeOf(headers[0]), v.schemeOf(headers[1]); a != "" && b != "" && a != b {
			return "", "", requestError("the request uses both the Bearer and DPoP schemes")
		}
		return "", "", requestError("the request has more than one Authorization header")
	}
	scheme, token := "", ""
	if len(headers) == 1 {
		_, rest, _ := strings.Cut(headers[0], " ")
		scheme, token = v.schemeOf(headers[0]), strings.TrimLeft(rest, " ")
	}
	if scheme == "" {
		desc := "a bearer token is required"
		if v.cfg.DPoP.Require {
			desc = "a DPoP-bound access token and its proof are required (RFC 9449)"
		}
		return "", "", &Error{Description: desc, Err: ErrNoToken}
	}
	if token == "" {
		return "", "", requestError("the " + scheme + " credentials are empty")
	}
	if queryHasToken(r.URL) {
		return "", "", requestError("the token was sent both in the Authorization header and in the query")
	}
	if formHasToken(r) {
		return "", "", requestError("the token was sent both in the Authorization header and in the body")
	}
	return scheme, token, nil
}

// schemeOf returns the scheme of an Authorization header that v accepts,
// or "".
func (v *Validator) schemeOf(header string) string {
	scheme, _, _ := strings.Cut(header, " ")
	switch {
	case strings.EqualFold(scheme, schemeDPoP):
		return schemeDPoP
	case strings.EqualFold(scheme, schemeBearer) && !v.cfg.DPoP.Require:
		return schemeBearer
	}
	return ""
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
