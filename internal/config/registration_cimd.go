package config

// Registration is how clients may appear without being configured. The
// client_id_* keys are Client ID Metadata Documents
// (draft-ietf-oauth-client-id-metadata-document): a client_id that is an
// https URL names the client's own metadata, fetched through the SSRF
// guard.
type Registration struct {
	// Enabled accepts https URLs as client_ids and advertises
	// client_id_metadata_document_supported.
	Enabled bool `yaml:"client_id_metadata_documents"`
	// Hosts limit which hosts may publish documents.
	Hosts ClientIDHosts `yaml:"client_id_hosts"`
	// Scopes are the most such a client may be granted; a document's
	// scope narrows them. Empty grants none.
	Scopes []string `yaml:"client_id_scopes"`
	// Resources are the resource indicators (RFC 8707) such clients may
	// ask tokens for: the MCP servers and APIs behind this server.
	Resources []string `yaml:"client_id_resources"`
	// AllowLoopback lets documents be fetched from loopback addresses,
	// for development only.
	AllowLoopback bool `yaml:"client_id_allow_loopback"`
}

// ClientIDHosts is an allowlist and a denylist of client_id hosts: exact
// names or *.domain. Empty allow means every host not denied.
type ClientIDHosts struct {
	Allow []string `yaml:"allow"`
	Deny  []string `yaml:"deny"`
}
