// Package cimd resolves OAuth Client ID Metadata Documents
// (draft-ietf-oauth-client-id-metadata-document): a client_id that is an
// https URL names a JSON document of RFC 7591 client metadata, published
// by the client itself, which the authorization server fetches instead of
// holding a registration.
//
// CheckURL applies the draft's rules to such a client_id; Hosts is the
// operator's allowlist and denylist of client hosts; ParseDocument
// validates a fetched document into a store.Client (a public client, or a
// private_key_jwt one with its keys, never one with a shared secret); and
// a Resolver fetches documents through the SSRF guard of safefetch,
// caches them within bounds by their HTTP caching headers, collapses
// concurrent first fetches of one URL into one, and keeps the client's row
// in the store up to date so that codes, grants and tokens can refer to it.
package cimd

// Source is the store.Client Source of clients resolved from metadata
// documents.
const Source = "cimd"

// MaxDocumentBytes caps a fetched document; the draft suggests 5 KiB.
const MaxDocumentBytes = 5 << 10
