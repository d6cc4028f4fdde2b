package server

import (
	"slices"

	"github.com/latchkey/latchkey/internal/protocol"
)

// exchangeRequest is the parameters of a token exchange request (RFC 8693
// §2.1), checked for form but not yet against any token or policy.
type exchangeRequest struct {
	subjectToken, subjectType string
	actorToken, actorType     string // both "" when no actor token was sent
	// requestedType is what the client asks for: access token by default.
	requestedType string
	resources     []string // absolute URIs without fragment, deduplicated
	audiences     []string // logical names or URIs, deduplicated
	scopes        []string // nil when none was asked for
}

// subjectTypes are the token types Latchkey accepts as subject or actor
// token (RFC 8693 §3).
var subjectTypes = map[string]bool{
	protocol.TokenTypeAccessToken:  true,
	protocol.TokenTypeRefreshToken: true,
	protocol.TokenTypeIDToken:      true,
	protocol.TokenTypeJWT:          true,
}

// maxTargets bounds how many resource and how many audience values one
// request may name.
const maxTargets = 10

// parseExchange reads a token exchange request. It checks only what the
// request says by itself: a subject token with a known type, an actor
// token type exactly when an actor token is sent, a requested type
// Latchkey can issue, well-formed resources and scope. ParseForm has
// already refused repeated parameters other than resource and audience.
// Every failure is invalid_request, except a malformed resource
// (invalid_target, RFC 8707 §2) and a malformed scope (invalid_scope).
func parseExchange(form protocol.Form) (exchangeRequest, *protocol.Error) {
	x := exchangeRequest{
		subjectToken: form.Get("subject_token"), subjectType: form.Get("subject_token_type"),
		actorToken: form.Get("actor_token"), actorType: form.Get("actor_token_type"),
		requestedType: form.Get("requested_token_type"),
	}
	if err := x.checkTypes(); err != nil {
		return exchangeRequest{}, err
	}
	res, err := parseResourceList(form.All("resource"))
	if err != nil {
		return exchangeRequest{}, err
	}
	x.resources = res
	aud := form.All("audience")
	if len(aud) > maxTargets {
		return exchangeRequest{}, protocol.Errorf(protocol.ErrInvalidRequest, "at most %d audience parameters may be sent", maxTargets)
	}
	x.audiences = dedupe(aud)
	scopes, ok := protocol.ParseScope(form.Get("scope"))
	if !ok {
		return exchangeRequest{}, protocol.Errorf(protocol.ErrInvalidScope, "the scope is malformed")
	}
	x.scopes = scopes
	return x, nil
}

// checkTypes applies RFC 8693 §2.1's rules on the token parameters.
func (x *exchangeRequest) checkTypes() *protocol.Error {
	switch {
	case x.subjectToken == "":
		return protocol.Errorf(protocol.ErrInvalidRequest, "subject_token is required")
	case x.subjectType == "":
		return protocol.Errorf(protocol.ErrInvalidRequest, "subject_token_type is required")
	case !subjectTypes[x.subjectType]:
		return protocol.Errorf(protocol.ErrInvalidRequest, "subject_token_type is not a token type Latchkey accepts")
	case x.actorToken != "" && x.actorType == "":
		return protocol.Errorf(protocol.ErrInvalidRequest, "actor_token_type is required with actor_token")
	case x.actorToken == "" && x.actorType != "":
		return protocol.Errorf(protocol.ErrInvalidRequest, "actor_token_type must not be sent without actor_token")
	case x.actorType != "" && !subjectTypes[x.actorType]:
		return protocol.Errorf(protocol.ErrInvalidRequest, "actor_token_type is not a token type Latchkey accepts")
	}
	switch x.requestedType {
	case "":
		x.requestedType = protocol.TokenTypeAccessToken
	case protocol.TokenTypeAccessToken, protocol.TokenTypeRefreshToken:
	default:
		return protocol.Errorf(protocol.ErrInvalidRequest, "requested_token_type must be an access token or a refresh token")
	}
	return nil
}

// parseResourceList checks each resource indicator's form (RFC 8707 §2:
// an absolute URI without fragment, else invalid_target) and drops
// duplicates; whether the client may have them is decided later.
func parseResourceList(values []string) ([]string, *protocol.Error) {
	if len(values) > maxTargets {
		return nil, protocol.Errorf(protocol.ErrInvalidTarget, "at most %d resource parameters may be sent", maxTargets)
	}
	for _, r := range values {
		if msg := protocol.ResourceProblem(r); msg != "" {
			return nil, protocol.Errorf(protocol.ErrInvalidTarget, "resource %s", msg)
		}
	}
	return dedupe(values), nil
}

// dedupe returns values without repeats, in order, or nil when empty.
func dedupe(values []string) []string {
	var out []string
	for _, v := range values {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}
