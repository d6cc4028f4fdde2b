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
	lists := map[string][]string{"registration.client_id_hosts.allow": d.Hosts.Allow, "registration.client_id_hosts.deny": d.Hosts.Deny}
	for path, list := range lists {
		for i, h := range list {
			if err := cimd.CheckHostPattern(h); err != nil {
				v.add(fmt.Sprintf("%s[%d]", path, i), "%v: write a host such as tools.example.com, or *.example.com for its subdomains", err)
			}
		}
	}
	for i, s := range d.Scopes {
		if sc, ok := protocol.ParseScope(s); !ok || len(sc) != 1 {
			v.add(fmt.Sprintf("registration.client_id_scopes[%d]", i), "must be one scope token (RFC 6749 §3.3), like read or mcp:tools")
		}
	}
	for i, r := range d.Resources {
		if msg := protocol.ResourceProblem(r); msg != "" {
			v.add(fmt.Sprintf("registration.client_id_resources[%d]", i), "%s", msg)
		}
	}
	set := len(d.Hosts.Allow)+len(d.Hosts.Deny)+len(d.Scopes)+len(d.Resources) > 0 || d.AllowLoopback
	if set && !d.Enabled {
		v.add("registration.client_id_metadata_documents", "is off, but other client_id_* keys are set: turn it on (true) or remove them")
	}
}
