package config

import (
	"fmt"

	"github.com/latchkey/latchkey/internal/cimd"
	"github.com/latchkey/latchkey/internal/protocol"
)

// clientIDDocuments checks the Client ID Metadata Document keys of
// registration:.
func (v *validator) clientIDDocuments() {
	d := v.c.Registration
	lists := map[string][]string{"registration.client_id_hosts.allow": d.ClientIDHosts.Allow, "registration.client_id_hosts.deny": d.ClientIDHosts.Deny}
	for path, list := range lists {
		for i, h := range list {
			if err := cimd.CheckHostPattern(h); err != nil {
				v.add(fmt.Sprintf("%s[%d]", path, i), "%v: write a host such as tools.example.com, or *.example.com for its subdomains", err)
			}
		}
	}
	for i, s := range d.ClientIDScopes {
		if sc, ok := protocol.ParseScope(s); !ok || len(sc) != 1 {
			v.add(fmt.Sprintf("registration.client_id_scopes[%d]", i), "must be one scope token (RFC 6749 §3.3), like read or mcp:tools")
		}
	}
	for i, r := range d.ClientIDResources {
		if msg := protocol.ResourceProblem(r); msg != "" {
			v.add(fmt.Sprintf("registration.client_id_resources[%d]", i), "%s", msg)
		}
	}
	set := len(d.ClientIDHosts.Allow)+len(d.ClientIDHosts.Deny)+len(d.ClientIDScopes)+len(d.ClientIDResources) > 0 ||
		d.ClientIDAllowLoopback
	if set && !d.ClientIDDocuments {
		v.add("registration.client_id_metadata_documents", "is off, but other client_id_* keys are set: turn it on (true) or remove them")
	}
}
