package config

import "testing"

// TestClientIDDocumentRules: the registration.client_id_* keys of Client
// ID Metadata Documents.
func TestClientIDDocumentRules(t *testing.T) {
	checkRules(t, []ruleCase{
		{"host with a scheme", y("registration:", "  client_id_metadata_documents: true", "  client_id_hosts:", "    allow: [https://x.example.com]"),
			"4: registration.client_id_hosts.allow[0]: \"https://x.example.com\" is not a host name or *.domain"},
		{"host with a port", y("registration:", "  client_id_metadata_documents: true", "  client_id_hosts:", "    deny: [x.example.com:443]"),
			"4: registration.client_id_hosts.deny[0]: \"x.example.com:443\" is not a host name"},
		{"inner wildcard", y("registration:", "  client_id_metadata_documents: true", "  client_id_hosts:", "    allow: [a.*.example.com]"),
			"4: registration.client_id_hosts.allow[0]:"},
		{"bad scope", y("registration:", "  client_id_metadata_documents: true", "  client_id_scopes: [\"two words\"]"),
			"3: registration.client_id_scopes[0]: must be one scope token"},
		{"resource with a fragment", y("registration:", "  client_id_metadata_documents: true", "  client_id_resources: [\"https://mcp.example.com/mcp#x\"]"),
			"3: registration.client_id_resources[0]:"},
		{"keys set while off", y("registration:", "  client_id_scopes: [read]"),
			"1: registration.client_id_metadata_documents: is off, but other client_id_* keys are set"},
		{"unknown key", y("registration:", "  client_id_metadata_document: true"), "2: registration.client_id_metadata_document: unknown key; did you mean \"client_id_metadata_documents\"?"},
	})
	for _, ok := range []string{
		y("registration:", "  client_id_metadata_documents: true"),
		y("registration:", "  client_id_metadata_documents: true", "  client_id_hosts:", "    allow: [\"*.example.com\", tools.example.org]",
			"    deny: [evil.example.com]", "  client_id_scopes: [openid, \"mcp:tools\"]", "  client_id_resources: [https://mcp.example.com/mcp]"),
	} {
		if probs := loadProblems(t, ok); len(probs) != 0 {
			t.Errorf("refused %s: %v", ok, probs)
		}
	}
}
