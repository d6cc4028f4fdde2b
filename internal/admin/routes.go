package admin

import (
	"net/http"
	"strings"
)

// route is one endpoint: its method and path pattern, the scope it
// needs, and its handler. routes lists them all; the OpenAPI document
// must describe exactly these (openapi_test.go).
type route struct {
	method, path, scope string
	handle              func(http.ResponseWriter, *http.Request) error
}

func (a *API) table() []route {
	return []route{
		{"GET", "/clients", ScopeClientsRead, a.listClients},
		{"POST", "/clients", ScopeClientsWrite, a.createClient},
		{"GET", "/clients/{id}", ScopeClientsRead, a.getClient},
		{"PUT", "/clients/{id}", ScopeClientsWrite, a.replaceClient},
		{"DELETE", "/clients/{id}", ScopeClientsWrite, a.deleteClient},
		{"POST", "/clients/{id}/secret", ScopeClientsWrite, a.rotateSecret},
		{"GET", "/clients/{id}/grants", ScopeClientsRead, a.listClientGrants},
		{"DELETE", "/clients/{id}/grants/{grant_id}", ScopeClientsWrite, a.revokeClientGrant},
		{"GET", "/users", ScopeUsersRead, a.listUsers},
		{"POST", "/users", ScopeUsersWrite, a.createUser},
		{"GET", "/users/{id}", ScopeUsersRead, a.getUser},
		{"PATCH", "/users/{id}", ScopeUsersWrite, a.patchUser},
		{"PUT", "/users/{id}/password", ScopeUsersWrite, a.setPassword},
		{"DELETE", "/users/{id}", ScopeUsersWrite, a.deleteUser},
		{"POST", "/users/{id}/disable", ScopeUsersWrite, a.disableUser},
		{"POST", "/users/{id}/enable", ScopeUsersWrite, a.enableUser},
		{"GET", "/users/{id}/factors", ScopeUsersRead, a.listFactors},
		{"DELETE", "/users/{id}/factors", ScopeUsersWrite, a.resetFactors},
		{"GET", "/users/{id}/consents", ScopeUsersRead, a.listConsents},
		{"DELETE", "/users/{id}/consents/{client}", ScopeUsersWrite, a.withdrawConsent},
		{"GET", "/users/{id}/sessions", ScopeUsersRead, a.listSessions},
		{"DELETE", "/users/{id}/sessions/{sid}", ScopeUsersWrite, a.endSession},
		{"GET", "/users/{id}/grants", ScopeUsersRead, a.listGrants},
		{"DELETE", "/users/{id}/grants/{gid}", ScopeUsersWrite, a.revokeGrant},
		{"GET", "/keys", ScopeKeysRead, a.listKeys},
		{"POST", "/keys/rotation", ScopeKeysWrite, a.rotateKeys},
		{"GET", "/registration/tokens", ScopeClientsRead, a.listInitialTokens},
		{"POST", "/registration/tokens", ScopeClientsWrite, a.createInitialToken},
		{"DELETE", "/registration/tokens/{id}", ScopeClientsWrite, a.revokeInitialToken},
		{"GET", "/audit", ScopeAuditRead, a.listAudit},
	}
}

// routes registers the table, the OpenAPI document (public: it holds no
// data), and a problem for every other path under the prefix.
func (a *API) routes() *http.ServeMux {
	mux := http.NewServeMux()
	for _, rt := range a.table() {
		mux.Handle(rt.method+" "+Prefix+rt.path, a.guard(rt.scope, rt.handle))
	}
	mux.HandleFunc("GET "+Prefix+"/openapi.json", serveOpenAPI)
	mux.HandleFunc(Prefix+"/", func(w http.ResponseWriter, r *http.Request) {
		if allow := allowed(mux, r); allow != "" {
			w.Header().Set("Allow", allow)
			writeProblem(w, r, a.log, problem(http.StatusMethodNotAllowed, "this route takes "+allow))
			return
		}
		writeProblem(w, r, a.log, problem(http.StatusNotFound, "no such admin API route; GET "+Prefix+"/openapi.json lists them"))
	})
	return mux
}

// allowed lists the methods that mux serves at r's path with a route of
// their own, comma-separated, or "" when there are none (RFC 9110 §15.5.6).
func allowed(mux *http.ServeMux, r *http.Request) string {
	var methods []string
	for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := mux.Handler(probe); strings.HasPrefix(pattern, m+" ") {
			methods = append(methods, m)
		}
	}
	return strings.Join(methods, ", ")
}

// Routes lists every route of the admin API as "METHOD /path" under
// Prefix, with {id} for path parameters (the OpenAPI document's form).
func Routes() []string {
	var a *API // the table only names the handlers
	var out []string
	for _, rt := range a.table() {
		out = append(out, rt.method+" "+rt.path)
	}
	return out
}
