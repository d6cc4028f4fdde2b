package admin_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/latchkey/latchkey/internal/admin"
	"github.com/latchkey/latchkey/internal/store"
)

// loadDoc parses and validates the committed OpenAPI 3.1 document with
// kin-openapi.
func loadDoc(t *testing.T) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(admin.OpenAPI())
	if err != nil {
		t.Fatalf("load openapi.json: %v", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("openapi.json is not a valid OpenAPI document: %v", err)
	}
	if !doc.IsOpenAPI31OrLater() {
		t.Fatalf("openapi.json is OpenAPI %s, want 3.1", doc.OpenAPI)
	}
	return doc
}

// TestOpenAPIMatchesRoutes: every registered route is documented and
// every documented operation is a registered route.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	doc := loadDoc(t)
	var documented []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented = append(documented, method+" "+path)
		}
	}
	routes := admin.Routes()
	slices.Sort(documented)
	slices.Sort(routes)
	for _, r := range routes {
		if !slices.Contains(documented, r) {
			t.Errorf("route %s is not in openapi.json", r)
		}
	}
	for _, d := range documented {
		if !slices.Contains(routes, d) {
			t.Errorf("openapi.json documents %s, which is not a route", d)
		}
	}
}

// conformance drives the running server with the document's own
// example requests and checks every request and response against it.
type conformance struct {
	t      *testing.T
	f      *fixture
	doc    *openapi3.T
	router routers.Router
	token  string
	etags  map[string]string // path → ETag of its last answer
	done   map[string]bool   // operationIds exercised
}

// send makes the request of operation opID on path (parameters filled
// in), with its example body, and checks that the request is valid, that
// the answer has status want, and that the answer is valid too.
func (c *conformance) send(opID, method, path string, want int, headers ...string) reply {
	t := c.t
	t.Helper()
	var body []byte
	var mediaType string
	bare, _, _ := strings.Cut(path, "?")
	item := c.doc.Paths.Find(routeOf(bare))
	if item == nil {
		t.Fatalf("%s: no path item for %s", opID, path)
	}
	op := item.GetOperation(method)
	if op == nil || op.OperationID != opID {
		t.Fatalf("%s is not operation %s %s", opID, method, path)
	}
	if op.RequestBody != nil {
		for _, mt := range []string{"application/json"} {
			m := op.RequestBody.Value.Content.Get(mt)
			if m == nil || m.Example == nil {
				t.Fatalf("%s: no %s example request", opID, mt)
			}
			body, _ = json.Marshal(m.Example)
			mediaType = mt
		}
	}
	req, _ := http.NewRequestWithContext(t.Context(), method, c.f.env.URL+admin.Prefix+path, bytes.NewReader(body))
	if body != nil {
		req.Header.Set("Content-Type", mediaType)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		t.Fatalf("%s: the document has no route for %s %s: %v", opID, method, path, err)
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	if err := openapi3filter.ValidateRequest(t.Context(), in); err != nil && want < 400 {
		t.Fatalf("%s: the example request does not match the document: %v", opID, err)
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s %s: status %d, want %d: %s", opID, method, path, resp.StatusCode, want, got)
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
		Body: io.NopCloser(bytes.NewReader(got)), Options: &openapi3filter.Options{IncludeResponseStatus: true}}
	if err := openapi3filter.ValidateResponse(t.Context(), out); err != nil {
		t.Fatalf("%s: the %d answer does not match the document: %v\n%s", opID, resp.StatusCode, err, got)
	}
	if want < 400 {
		c.done[opID] = true
	}
	if e := resp.Header.Get("ETag"); e != "" {
		c.etags[path] = e
	}
	return reply{Status: resp.StatusCode, Header: resp.Header, Body: got}
}

// routeOf turns a concrete path into the document's template.
func routeOf(path string) string {
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	switch {
	case len(parts) == 4 && parts[0] == "users":
		parts[1] = "{id}"
		parts[3] = map[string]string{"consents": "{client}", "sessions": "{sid}", "grants": "{gid}"}[parts[2]]
	case len(parts) == 4 && parts[0] == "clients":
		parts[1], parts[3] = "{id}", "{grant_id}"
	case len(parts) >= 2 && (parts[0] == "clients" || parts[0] == "users"):
		parts[1] = "{id}"
	case len(parts) == 3 && parts[0] == "registration":
		parts[2] = "{id}"
	}
	return "/" + strings.Join(parts, "/")
}

// TestOpenAPIConformance runs every documented operation against a
// running server with the document's example requests, and checks the
// real answers (successes and problems alike) against the document.
func TestOpenAPIConformance(t *testing.T) {
	f := start(t)
	doc := loadDoc(t)
	doc.Servers = openapi3.Servers{{URL: f.env.URL + admin.Prefix}}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	c := &conformance{t: t, f: f, doc: doc, router: router, token: f.token(t, admin.ScopeAll),
		etags: map[string]string{}, done: map[string]bool{}}

	c.send("createClient", "POST", "/clients", 201)
	c.send("listClients", "GET", "/clients?limit=1", 200)
	c.send("getClient", "GET", "/clients/reports", 200)
	c.send("replaceClient", "PUT", "/clients/reports", 200, "If-Match", c.etags["/clients/reports"])
	c.send("replaceClient", "PUT", "/clients/reports", 412, "If-Match", `"stale"`)
	c.send("replaceClient", "PUT", "/clients/reports", 428)
	c.send("rotateClientSecret", "POST", "/clients/reports/secret", 200)
	docGrant := store.Grant{ID: "g-doc", ClientID: "reports", Scopes: []string{"read"}, CreatedAt: f.env.Clock.Now(),
		ExpiresAt: f.env.Clock.Now().Add(time.Hour)}
	if err := f.env.Store.SaveIssue(t.Context(), store.Issue{Grant: &docGrant}); err != nil {
		t.Fatal(err)
	}
	c.send("listClientGrants", "GET", "/clients/reports/grants?limit=1", 200)
	c.send("revokeClientGrant", "DELETE", "/clients/reports/grants/g-doc", 204)
	c.send("revokeClientGrant", "DELETE", "/clients/reports/grants/nope", 404)
	c.send("createClient", "POST", "/clients", 409)
	c.send("deleteClient", "DELETE", "/clients/reports", 204)
	c.send("getClient", "GET", "/clients/reports", 404)

	created := c.send("createUser", "POST", "/users", 201).json(t)
	user := "/users/" + created["id"].(string)
	c.send("listUsers", "GET", "/users?username_prefix=al", 200)
	c.send("listUsers", "GET", "/users?email=Alice@Example.com&limit=1", 200)
	c.send("getUser", "GET", user, 200)
	c.send("patchUser", "PATCH", user, 200, "If-Match", c.etags[user])
	c.send("setUserPassword", "PUT", user+"/password", 200)
	c.send("disableUser", "POST", user+"/disable", 200)
	c.send("enableUser", "POST", user+"/enable", 200)
	uid := created["id"].(string)
	if err := f.env.Store.CreateFactor(t.Context(), store.Factor{ID: "f-doc", UserID: uid, Kind: store.FactorTOTP,
		Data: []byte("sealed"), CreatedAt: f.env.Clock.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := f.env.Store.ConfirmFactor(t.Context(), uid, "f-doc", 1, f.env.Clock.Now(), []string{"d1"}); err != nil {
		t.Fatal(err)
	}
	if listed := c.send("listUserFactors", "GET", user+"/factors", 200).json(t); listed["recovery_codes_left"] != float64(1) ||
		len(listed["items"].([]any)) != 1 {
		t.Errorf("factors listed: %v", listed)
	}
	if reset := c.send("resetUserFactors", "DELETE", user+"/factors", 200).json(t); reset["factors_removed"] != float64(1) {
		t.Errorf("reset: %v", reset)
	}
	if left, _ := f.env.Store.ListFactors(t.Context(), uid); len(left) != 0 {
		t.Errorf("factors after the reset: %+v", left)
	}
	if n, _ := f.env.Store.CountRecoveryCodes(t.Context(), uid); n != 0 {
		t.Errorf("%d recovery codes after the reset", n)
	}
	c.send("listConsents", "GET", user+"/consents", 200)
	c.send("withdrawConsent", "DELETE", user+"/consents/web", 204)
	c.send("listSessions", "GET", user+"/sessions", 200)
	c.send("endSession", "DELETE", user+"/sessions/nope", 204)
	c.send("listUserGrants", "GET", user+"/grants", 200)
	c.send("revokeUserGrant", "DELETE", user+"/grants/nope", 204)
	c.send("deleteUser", "DELETE", user, 204)
	c.send("listSessions", "GET", user+"/sessions", 404)
	c.send("resetUserFactors", "DELETE", user+"/factors", 404)

	c.send("listKeys", "GET", "/keys", 200)
	c.send("rotateKeys", "POST", "/keys/rotation", 201)

	minted := c.send("createInitialToken", "POST", "/registration/tokens", 201).json(t)
	c.send("listInitialTokens", "GET", "/registration/tokens", 200)
	c.send("revokeInitialToken", "DELETE", "/registration/tokens/"+minted["id"].(string), 204)
	c.send("listAudit", "GET", "/audit?type=admin.change&limit=5", 200)
	c.send("listAudit", "GET", "/audit?type=nope", 400)
	c.send("listClients", "GET", "/clients?limit=0", 400)
	c.token = ""
	c.send("listClients", "GET", "/clients", 401)
	c.token = f.token(t, "read")
	c.send("listUsers", "GET", "/users", 403)

	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			if !c.done[op.OperationID] {
				t.Errorf("operation %s was not exercised: add it to this test", op.OperationID)
			}
		}
	}
}
