package dpop

// Error codes of RFC 9449.
const (
	// CodeInvalidProof means the DPoP proof is missing, malformed, badly
	// signed, stale, replayed or made for another request (RFC 9449 §5,
	// §7.1). An authorization server answers 400, a resource server 401.
	CodeInvalidProof = "invalid_dpop_proof"
	// CodeUseNonce means the proof must carry a nonce the server gave it,
	// and did not, or carried one that is not (or no longer) valid (RFC
	// 9449 §8, §9). The answer carries a fresh nonce in DPoP-Nonce.
	CodeUseNonce = "use_dpop_nonce"
)

// Error is a refused proof. Code is CodeInvalidProof or CodeUseNonce;
// Description says why, for the client's developer, and never contains
// the proof or a token.
type Error struct {
	Code        string
	Description string
}

// Error describes e.
func (e *Error) Error() string {
	return "dpop: " + e.Code + ": " + e.Description
}

func invalid(description string) *Error {
	return &Error{Code: CodeInvalidProof, Description: description}
}
