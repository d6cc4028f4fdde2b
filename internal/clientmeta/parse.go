package clientmeta

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/latchkey/latchkey/internal/protocol"
)

// MaxSize bounds the JSON Parse reads: generous for any real client (a
// JWK Set with a few RSA keys fits many times over), small enough that a
// flood of large bodies costs the server little.
const MaxSize = 64 << 10

// Metadata is client metadata as RFC 7591 §2 names it. Parse fills it from
// a request; Validate returns it with defaults applied, which is also what
// a registration response carries (RFC 7591 §3.2.1).
type Metadata struct {
	RedirectURIs            []string `json:"redirect_uris,omitempty"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method,omitempty"`
	GrantTypes              []string `json:"grant_types,omitempty"`
	ResponseTypes           []string `json:"response_types,omitempty"`
	ClientName              string   `json:"client_name,omitempty"`
	ClientURI               string   `json:"client_uri,omitempty"`
	LogoURI                 string   `json:"logo_uri,omitempty"`
	Scope                   string   `json:"scope,omitempty"`
	Contacts                []string `json:"contacts,omitempty"`
	TOSURI                  string   `json:"tos_uri,omitempty"`
	PolicyURI               string   `json:"policy_uri,omitempty"`
	JWKSURI                 string   `json:"jwks_uri,omitempty"`
	// JWKS is the client's JWK Set as JSON, checked by Validate.
	JWKS            json.RawMessage `json:"jwks,omitempty"`
	SoftwareID      string          `json:"software_id,omitempty"`
	SoftwareVersion string          `json:"software_version,omitempty"`

	// ClientID is the client_id member: absent in a registration request
	// (and ignored there: the server chooses the id, S202), required in an
	// RFC 7592 update and in a Client ID Metadata Document.
	ClientID string `json:"-"`
	// ClientSecret is the client_secret member of an RFC 7592 update,
	// which must match the issued secret when present. It never leaves the
	// package in a response.
	ClientSecret string `json:"-"`
}

// field decodes one known member into its place in Metadata.
type field func(m *Metadata, raw json.RawMessage) error

// fields are the members Parse knows; every other member is ignored.
func fields() map[string]field {
	str := func(get func(*Metadata) *string) field {
		return func(m *Metadata, raw json.RawMessage) error { return decodeString(raw, get(m)) }
	}
	list := func(get func(*Metadata) *[]string) field {
		return func(m *Metadata, raw json.RawMessage) error { return decodeStrings(raw, get(m)) }
	}
	return map[string]field{
		"redirect_uris":              list(func(m *Metadata) *[]string { return &m.RedirectURIs }),
		"token_endpoint_auth_method": str(func(m *Metadata) *string { return &m.TokenEndpointAuthMethod }),
		"grant_types":                list(func(m *Metadata) *[]string { return &m.GrantTypes }),
		"response_types":             list(func(m *Metadata) *[]string { return &m.ResponseTypes }),
		"client_name":                str(func(m *Metadata) *string { return &m.ClientName }),
		"client_uri":                 str(func(m *Metadata) *string { return &m.ClientURI }),
		"logo_uri":                   str(func(m *Metadata) *string { return &m.LogoURI }),
		"scope":                      str(func(m *Metadata) *string { return &m.Scope }),
		"contacts":                   list(func(m *Metadata) *[]string { return &m.Contacts }),
		"tos_uri":                    str(func(m *Metadata) *string { return &m.TOSURI }),
		"policy_uri":                 str(func(m *Metadata) *string { return &m.PolicyURI }),
		"jwks_uri":                   str(func(m *Metadata) *string { return &m.JWKSURI }),
		"jwks":                       decodeObject,
		"software_id":                str(func(m *Metadata) *string { return &m.SoftwareID }),
		"software_version":           str(func(m *Metadata) *string { return &m.SoftwareVersion }),
		"client_id":                  str(func(m *Metadata) *string { return &m.ClientID }),
		"client_secret":              str(func(m *Metadata) *string { return &m.ClientSecret }),
	}
}

// Parse reads client metadata: one JSON object of at most MaxSize bytes,
// no member twice, every known member of its RFC 7591 type (a JSON null
// counts as absent), unknown members ignored (S199). It checks types only;
// Validate checks values.
func Parse(data []byte) (Metadata, error) {
	var m Metadata
	if len(data) > MaxSize {
		return m, invalid("the client metadata is larger than %d bytes", MaxSize)
	}
	members, err := objectMembers(data)
	if err != nil {
		return m, invalid("the body must be one JSON object of client metadata (RFC 7591 section 2): %v", err)
	}
	known := fields()
	for _, mem := range members {
		decode, ok := known[mem.name]
		if !ok || bytes.Equal(mem.raw, []byte("null")) {
			continue
		}
		if err := decode(&m, mem.raw); err != nil {
			return Metadata{}, invalid("%s %v", mem.name, err)
		}
	}
	return m, nil
}

type member struct {
	name string
	raw  json.RawMessage
}

// objectMembers splits one JSON object into its members, in order,
// refusing a repeated name (RFC 8259 §4 leaves its meaning open; a
// registration must mean one thing) and anything after the object.
func objectMembers(data []byte) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	seen := make(map[string]bool)
	var out []member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, errors.New("malformed JSON")
		}
		name, _ := tok.(string) // inside an object the decoder yields names as strings
		if seen[name] {
			return nil, fmt.Errorf("member '%s' appears twice", truncate(name, 40))
		}
		seen[name] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, errors.New("malformed JSON")
		}
		out = append(out, member{name, raw})
	}
	if _, err := dec.Token(); err != nil {
		return nil, errors.New("malformed JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON object")
	}
	return out, nil
}

func decodeString(raw json.RawMessage, dst *string) error {
	if len(raw) == 0 || raw[0] != '"' {
		return errors.New("must be a string")
	}
	return json.Unmarshal(raw, dst)
}

func decodeStrings(raw json.RawMessage, dst *[]string) error {
	if len(raw) == 0 || raw[0] != '[' {
		return errors.New("must be an array of strings")
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return errors.New("must be an array of strings")
	}
	out := make([]string, len(items))
	for i, it := range items {
		if err := decodeString(it, &out[i]); err != nil {
			return errors.New("must be an array of strings")
		}
	}
	*dst = out
	return nil
}

func decodeObject(m *Metadata, raw json.RawMessage) error {
	if len(raw) == 0 || raw[0] != '{' {
		return errors.New("must be a JSON object (a JWK Set)")
	}
	m.JWKS = append(json.RawMessage(nil), raw...)
	return nil
}

// invalid is an invalid_client_metadata error (RFC 7591 §3.2.2).
func invalid(format string, args ...any) *protocol.Error {
	return protocol.Errorf(protocol.ErrInvalidClientMetadata, format, args...)
}

// badRedirect is an invalid_redirect_uri error (RFC 7591 §3.2.2).
func badRedirect(format string, args ...any) *protocol.Error {
	return protocol.Errorf(protocol.ErrInvalidRedirectURI, format, args...)
}

// truncate cuts an attacker's string before it is echoed in a description.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
