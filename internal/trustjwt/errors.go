package trustjwt

import (
	"errors"

	"github.com/latchkey/latchkey/internal/clientjwt"
)

// The kinds of refusal. Every *Error wraps exactly one; those shared with
// clientjwt are the same values, so errors.Is works across both.
var (
	ErrMalformed       = clientjwt.ErrMalformed
	ErrAlgorithm       = clientjwt.ErrAlgorithm
	ErrHeader          = clientjwt.ErrHeader
	ErrKeys            = clientjwt.ErrKeys
	ErrKeysUnavailable = clientjwt.ErrKeysUnavailable
	ErrSignature       = clientjwt.ErrSignature
	ErrAudience        = clientjwt.ErrAudience
	ErrExpiry          = clientjwt.ErrExpiry
	ErrJTI             = clientjwt.ErrJTI
	ErrReplayed        = clientjwt.ErrReplayed
	// ErrIssuer: iss is not the configured issuer.
	ErrIssuer = errors.New("wrong issuer")
	// ErrSubject: the subject claim is missing, empty, too long or not
	// a plain string.
	ErrSubject = errors.New("bad subject")
)

// Error is why a token was refused. Description is written by this
// package and never repeats the token's content, so it is safe to send
// as error_description; Err, when set, is the cause, for the log only.
type Error struct {
	// Kind is one of the Err… values of this package.
	Kind error
	// Description is the client-facing explanation.
	Description string
	// Err is the underlying cause: log it, never send it.
	Err error
}

func (e *Error) Error() string {
	s := "trustjwt: " + e.Kind.Error() + ": " + e.Description
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

// fromClientJWT turns a refusal of clientjwt's key or header machinery
// into one of this package, with a description about the issuer rather
// than a client; any other error is returned as it is (a server failure).
func fromClientJWT(err error) error {
	var ce *clientjwt.Error
	if !errors.As(err, &ce) {
		return err
	}
	desc := ce.Description
	switch ce.Kind {
	case ErrKeys:
		desc = "no key of the issuer suits the token's kid and alg"
	case ErrKeysUnavailable:
		desc = "the issuer's keys could not be fetched"
	case ErrAlgorithm:
		desc = "the token's alg is not accepted for this issuer"
	}
	return &Error{Kind: ce.Kind, Description: desc, Err: ce}
}
