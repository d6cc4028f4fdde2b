package bearer

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// WellKnownMetadataPath is the well-known URI suffix under which a
// protected resource publishes its metadata (RFC 9728 §3).
const WellKnownMetadataPath = "/.well-known/oauth-protected-resource"

// ResourceMetadata is the Protected Resource Metadata document (RFC 9728
// §2) that Validator.MetadataHandler serves.
type ResourceMetadata struct {
	// Resource is the resource identifier: Config.Resource.
	Resource string `json:"resource"`
	// AuthorizationServers are the issuers whose tokens are accepted:
	// Config.Issuer.
	AuthorizationServers []string `json:"authorization_servers"`
	// ScopesSupported are Config.ScopesSupported.
	ScopesSupported []string `json:"scopes_supported,omitempty"`
	// BearerMethodsSupported are the ways a token may be sent: always
	// ["header"], since tokens in the query or a form body are refused
	// (RFC 9700 §4.3.2).
	BearerMethodsSupported []string `json:"bearer_methods_supported"`
	// DPoPSigningAlgValuesSupported are the algorithms accepted for DPoP
	// proofs (RFC 9449 §5.1): Config.DPoP.Algorithms.
	DPoPSigningAlgValuesSupported []string `json:"dpop_signing_alg_values_supported,omitempty"`
	// DPoPBoundAccessTokensRequired is Config.DPoP.Require.
	DPoPBoundAccessTokensRequired bool `json:"dpop_bound_access_tokens_required,omitempty"`
	// ResourceName is Config.ResourceName, for people.
	ResourceName string `json:"resource_name,omitempty"`
}

// MetadataURL returns where the metadata of the protected resource named
// resource is published (RFC 9728 §3.1): the well-known path inserted
// between the host and the resource's path, a terminating slash removed.
// "https://mcp.example/mcp" has its metadata at
// "https://mcp.example/.well-known/oauth-protected-resource/mcp", and
// "https://api.example" at "https://api.example/.well-known/oauth-protected-resource".
// resource must be an absolute https URL (or http on a loopback address)
// without query or fragment.
func MetadataURL(resource string) (string, error) {
	if err := checkURL("Resource", resource); err != nil {
		return "", err
	}
	u, _ := url.Parse(resource) // checked above
	path := strings.TrimSuffix(u.EscapedPath(), "/")
	return u.Scheme + "://" + u.Host + WellKnownMetadataPath + path, nil
}

// ResourceMetadata returns the metadata that MetadataHandler serves.
// Without Config.Resource it is the zero value.
func (v *Validator) ResourceMetadata() ResourceMetadata {
	if v.cfg.Resource == "" {
		return ResourceMetadata{}
	}
	m := ResourceMetadata{
		Resource:               v.cfg.Resource,
		AuthorizationServers:   []string{v.cfg.Issuer},
		ScopesSupported:        append([]string(nil), v.cfg.ScopesSupported...),
		BearerMethodsSupported: []string{"header"},
		// The middleware always accepts DPoP-bound tokens (Config.DPoP).
		DPoPSigningAlgValuesSupported: append([]string(nil), v.cfg.DPoP.Algorithms...),
		DPoPBoundAccessTokensRequired: v.cfg.DPoP.Require,
		ResourceName:                  v.cfg.ResourceName,
	}
	return m
}

// MetadataURL returns the URL of this resource server's metadata (see the
// function MetadataURL), which every challenge of the middleware names in
// resource_metadata; "" without Config.Resource.
func (v *Validator) MetadataURL() string { return v.metadataURL }

// MetadataPath returns the path of MetadataURL, where MetadataHandler
// belongs on this server's mux; "" without Config.Resource:
//
//	mux.Handle(v.MetadataPath(), v.MetadataHandler())
//
// A proxy in front of the server must pass that path through unchanged:
// the metadata lives at the root of the resource's origin, whatever path
// the resource has.
func (v *Validator) MetadataPath() string {
	if v.metadataURL == "" {
		return ""
	}
	u, _ := url.Parse(v.metadataURL) // built by MetadataURL
	return u.Path
}

// MetadataHandler serves ResourceMetadata as JSON (RFC 9728 §3.2) to GET
// and HEAD, with Cache-Control allowing an hour of caching, and to
// browsers of any origin (CORS): the document is public and carries no
// credentials. OPTIONS answers a CORS preflight; other methods get 405.
// Without Config.Resource it answers 404, since the document would name
// no resource.
func (v *Validator) MetadataHandler() http.Handler {
	body, _ := json.MarshalIndent(v.ResourceMetadata(), "", "  ") // strings and a bool: cannot fail
	body = append(body, '\n')
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		switch r.Method {
		case http.MethodGet, http.MethodHead:
		case http.MethodOptions:
			h.Set("Access-Control-Allow-Methods", "GET, HEAD")
			h.Set("Access-Control-Max-Age", "3600")
			w.WriteHeader(http.StatusNoContent)
			return
		default:
			h.Set("Allow", "GET, HEAD, OPTIONS")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if v.cfg.Resource == "" {
			http.NotFound(w, r)
			return
		}
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "public, max-age=3600")
		h.Set("Content-Length", fmt.Sprint(len(body)))
		if r.Method == http.MethodGet {
			_, _ = w.Write(body)
		}
	})
}
