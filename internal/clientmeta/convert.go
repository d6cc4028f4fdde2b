package clientmeta

import (
	"encoding/json"
	"strings"

	"github.com/latchkey/latchkey/internal/protocol"
	"github.com/latchkey/latchkey/internal/store"
)

// SourceRegistration is the store.Client Source of a dynamically
// registered client.
const SourceRegistration = "registration"

// extra is the self-asserted metadata kept in store.Client.Metadata.
type extra struct {
	PolicyURI       string   `json:"policy_uri,omitempty"`
	TOSURI          string   `json:"tos_uri,omitempty"`
	Contacts        []string `json:"contacts,omitempty"`
	SoftwareID      string   `json:"software_id,omitempty"`
	SoftwareVersion string   `json:"software_version,omitempty"`
}

// Client converts validated metadata into the client record to store
// under id, with Source "registration". The caller sets what metadata
// does not carry: the secret and registration token digests, resources,
// timestamps.
func (m Metadata) Client(id string) store.Client {
	x, _ := json.Marshal(extra{m.PolicyURI, m.TOSURI, m.Contacts, m.SoftwareID, m.SoftwareVersion}) // cannot fail: strings only
	meta := string(x)
	if meta == "{}" {
		meta = ""
	}
	scopes, _ := protocol.ParseScope(m.Scope) // Validate checked it
	return store.Client{
		ID:                      id,
		Name:                    m.ClientName,
		Public:                  m.TokenEndpointAuthMethod == string(protocol.AuthNone),
		TokenEndpointAuthMethod: m.TokenEndpointAuthMethod,
		RedirectURIs:            m.RedirectURIs,
		GrantTypes:              m.GrantTypes,
		Scopes:                  scopes,
		JWKS:                    string(m.JWKS),
		JWKSURI:                 m.JWKSURI,
		ClientURI:               m.ClientURI,
		LogoURI:                 m.LogoURI,
		Metadata:                meta,
		Source:                  SourceRegistration,
	}
}

// FromClient is the registered metadata of a stored client, as a
// registration response shows it (RFC 7591 §3.2.1, RFC 7592 §3).
func FromClient(c store.Client) Metadata {
	var x extra
	if c.Metadata != "" {
		_ = json.Unmarshal([]byte(c.Metadata), &x) // written by Client; a damaged value shows as absent
	}
	m := Metadata{
		RedirectURIs:            c.RedirectURIs,
		TokenEndpointAuthMethod: c.TokenEndpointAuthMethod,
		GrantTypes:              c.GrantTypes,
		ClientName:              c.Name,
		ClientURI:               c.ClientURI,
		LogoURI:                 c.LogoURI,
		Scope:                   strings.Join(c.Scopes, " "),
		Contacts:                x.Contacts,
		TOSURI:                  x.TOSURI,
		PolicyURI:               x.PolicyURI,
		JWKSURI:                 c.JWKSURI,
		SoftwareID:              x.SoftwareID,
		SoftwareVersion:         x.SoftwareVersion,
		ClientID:                c.ID,
	}
	if c.JWKS != "" {
		m.JWKS = json.RawMessage(c.JWKS)
	}
	for _, g := range c.GrantTypes {
		if g == protocol.GrantAuthorizationCode {
			m.ResponseTypes = []string{"code"}
		}
	}
	return m
}
