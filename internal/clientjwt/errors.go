package clientjwt

import "errors"

// The kinds of refusal. Every *Error wraps exactly one, so the server and
// tests can tell them apart with errors.Is; all of them mean
// invalid_client.
var (
	// ErrMalformed: not a compact JWS, too large, or claims that are not
	// a JSON object of the expected types.
	ErrMalformed = errors.New("malformed assertion")
	// ErrAlgorithm: an algorithm outside the allowlist, or one that does
	// not suit the key (A13).
	ErrAlgorithm = errors.New("algorithm not accepted")
	// ErrHeader: a header that brings its own key (jwk, jku, x5u, x5c), a
	// critical extension, or an unaccepted typ.
	ErrHeader = errors.New("header not accepted")
	// ErrKeys: the client's registered keys are unusable (both jwks and
	// jwks_uri, private or symmetric keys, a malformed set) or none of
	// them suits the assertion.
	ErrKeys = errors.New("no usable key")
	// ErrKeysUnavailable: the client's jwks_uri could not be fetched.
	ErrKeysUnavailable = errors.New("client keys unavailable")
	// ErrSignature: the signature does not verify with the client's keys.
	ErrSignature = errors.New("bad signature")
	// ErrSubject: iss or sub is not the client_id.
	ErrSubject = errors.New("wrong issuer or subject")
	// ErrAudience: aud is not one this server accepts.
	ErrAudience = errors.New("wrong audience")
	// ErrExpiry: exp missing, expired or too far ahead; nbf or iat in the
	// future; iat too old.
	ErrExpiry = errors.New("outside its validity")
	// ErrJTI: jti missing or too long.
	ErrJTI = errors.New("bad jti")
	// ErrReplayed: the jti was used before (S214).
	ErrReplayed = errors.New("assertion replayed")
)

// Error is why an assertion was refused: the server answers it
// invalid_client. Description is written by this package and never
// repeats the request's content, so it is safe to send as
// error_description; Err, when set, is the underlying cause for the log
// only.
type Error struct {
	// Kind is one of the Err… values of this package.
	Kind error
	// Description is the client-facing explanation.
	Description string
	// Err is the underlying cause, possibly quoting the input: log it,
	// never send it.
	Err error
}

func (e *Error) Error() string {
	s := "clientjwt: " + e.Kind.Error() + ": " + e.Description
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns Kind and Err, so errors.Is sees both.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

func refuse(kind error, description string) *Error {
	return &Error{Kind: kind, Description: description}
}

func refuseBecause(kind error, description string, err error) *Error {
	return &Error{Kind: kind, Description: description, Err: err}
}
