// Package clientmeta reads and checks OAuth client metadata (RFC 7591 §2):
// the JSON a client sends to register itself (RFC 7591 §3.1), to replace
// its registration (RFC 7592 §2.2), or publishes as a Client ID Metadata
// Document.
//
// It has one job. Parse reads the JSON strictly (bounded size, one object,
// no repeated member, every known member of the right type) and ignores
// members it does not know (RFC 7591 §3.1, S199). Validate applies the
// defaults of RFC 7591 §2 (S197) and the rules a server holds every
// self-asserted client to (S198, S202, S203) under a Policy: which grant
// types, authentication methods, scopes and redirect URI forms the caller
// allows. What passes converts to a store.Client, and back for a response.
//
// Every refusal is a *protocol.Error with code invalid_redirect_uri or
// invalid_client_metadata (RFC 7591 §3.2.2) and a description a developer
// can act on.
//
// Callers other than registration set the Policy's options:
//
//   - RFC 7592 update: Policy.ClientID is the client's id; the body must
//     carry the same client_id (RFC 7592 §2.2). The client_secret, when
//     present, is in Metadata.ClientSecret for the caller to compare.
//   - Client ID Metadata Documents: Policy.ClientID is the document's URL
//     (the document must name itself), AuthMethods lists only none and
//     private_key_jwt, and DefaultAuthMethod is none.
//
// Nothing here fetches a URL: jwks_uri is checked against safefetch's
// address rules when its host is an IP literal (A25); names are checked
// when they are dialed, by safefetch. logo_uri, client_uri, policy_uri and
// tos_uri are never fetched at all (S202).
package clientmeta
