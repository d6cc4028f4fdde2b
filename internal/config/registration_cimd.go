package config

// ClientIDHosts is an allowlist and a denylist of the hosts of
// client_id URLs (registration.client_id_hosts): exact names or
// *.domain. Empty allow means every host not denied.
type ClientIDHosts struct {
	Allow []string `yaml:"allow"`
	Deny  []string `yaml:"deny"`
}
