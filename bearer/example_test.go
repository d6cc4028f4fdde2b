package bearer_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/latchkey/latchkey/bearer"
	"github.com/latchkey/latchkey/dpop"
)

// Protect a whole API: every request needs a valid access token issued by
// the authorization server for https://notes.example. (The examples run
// against a stand-in authorization server on a loopback address; in
// production Issuer is, say, "https://login.example".)
func Example() {
	issuer := newExampleIssuer()
	defer issuer.Close()

	v, err := bearer.New(context.Background(), bearer.Config{
		Issuer:   issuer.URL,
		Audience: "https://notes.example",
	})
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()

	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello", func(w http.ResponseWriter, r *http.Request) {
		claims, _ := bearer.ClaimsFrom(r.Context())
		fmt.Fprintf(w, "hello, %s\n", claims.Subject)
	})
	api := httptest.NewServer(v.Middleware(mux)) // or http.ListenAndServe(addr, v.Middleware(mux))
	defer api.Close()

	status, _, body := exampleCall("GET", api.URL+"/hello", issuer.token("alice", "read"))
	fmt.Print(status, " ", body)
	status, challenge, _ := exampleCall("GET", api.URL+"/hello", "")
	fmt.Println(status, challenge)
	// Output:
	// 200 hello, alice
	// 401 Bearer realm="https://notes.example"
}

// Require scopes per route: reading needs "read", writing needs "write".
// A token without them gets 403 with error="insufficient_scope".
func ExampleValidator_RequireScope() {
	issuer := newExampleIssuer()
	defer issuer.Close()
	v, err := bearer.New(context.Background(), bearer.Config{
		Issuer:   issuer.URL,
		Audience: "https://notes.example",
	})
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()

	list := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "[]") })
	create := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusCreated) })

	mux := http.NewServeMux()
	mux.Handle("GET /notes", v.RequireScope("read")(list))
	mux.Handle("POST /notes", v.RequireScope("write")(create))
	api := httptest.NewServer(mux)
	defer api.Close()

	reader := issuer.token("alice", "read")
	status, _, body := exampleCall("GET", api.URL+"/notes", reader)
	fmt.Print(status, " ", body)
	status, challenge, _ := exampleCall("POST", api.URL+"/notes", reader)
	fmt.Println(status, challenge)
	status, _, _ = exampleCall("POST", api.URL+"/notes", issuer.token("alice", "read", "write"))
	fmt.Println(status)
	// Output:
	// 200 []
	// 403 Bearer realm="https://notes.example", error="insufficient_scope", error_description="the token lacks a scope this resource needs", scope="write"
	// 201
}

// Accept opaque tokens too: they are checked at the issuer's introspection
// endpoint (RFC 7662) with the resource server's own client credentials.
// JWTs are still verified locally.
func ExampleIntrospectionConfig() {
	issuer := newExampleIssuer()
	defer issuer.Close()
	v, err := bearer.New(context.Background(), bearer.Config{
		Issuer:   issuer.URL,
		Audience: "https://notes.example",
		Introspection: &bearer.IntrospectionConfig{
			ClientID: "notes-api",
			// In production, read the secret from the environment or a
			// secret store, never from source code.
			ClientSecret: "notes-api-secret",
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()

	claims, err := v.Validate(context.Background(), issuer.opaqueToken("alice", "read"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(claims.Subject, claims.Scopes)
	_, err = v.Validate(context.Background(), "an-opaque-token-the-issuer-never-issued")
	fmt.Println(errors.Is(err, bearer.ErrInactive))
	// Output:
	// alice [read]
	// true
}

// Read the verified claims in a handler, and tell a token a client got for
// itself from one it got on behalf of a user.
func ExampleClaimsFrom() {
	issuer := newExampleIssuer()
	defer issuer.Close()
	v, err := bearer.New(context.Background(), bearer.Config{Issuer: issuer.URL, Audience: "https://notes.example"})
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()

	handler := func(w http.ResponseWriter, r *http.Request) {
		claims, ok := bearer.ClaimsFrom(r.Context())
		if !ok {
			http.Error(w, "not behind bearer middleware", http.StatusInternalServerError)
			return
		}
		if claims.IsClient() {
			http.Error(w, "this endpoint is for users", http.StatusForbidden)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{
			"user":      claims.Subject,
			"client":    claims.ClientID,
			"can_write": claims.HasScope("write"),
			"auth_time": claims.Raw["auth_time"], // claims without a field
		})
	}
	api := httptest.NewServer(v.Middleware(http.HandlerFunc(handler)))
	defer api.Close()

	_, _, body := exampleCall("GET", api.URL, issuer.token("alice", "read"))
	fmt.Print(body)
	status, _, body := exampleCall("GET", api.URL, issuer.token("client:web", "read"))
	fmt.Print(status, " ", body)
	// Output:
	// {"auth_time":null,"can_write":false,"client":"web","user":"alice"}
	// 403 this endpoint is for users
}

// Validate a token that did not come over HTTP, and tell why it failed.
func ExampleValidator_Validate() {
	issuer := newExampleIssuer()
	defer issuer.Close()
	v, err := bearer.New(context.Background(), bearer.Config{
		Issuer:   issuer.URL,
		Audience: "https://notes.example",
	})
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()

	for _, raw := range []string{issuer.token("alice"), issuer.expiredToken("bob"), "not-a-token"} {
		claims, err := v.Validate(context.Background(), raw)
		switch {
		case errors.Is(err, bearer.ErrExpired):
			fmt.Println("expired: get a new token")
		case errors.Is(err, bearer.ErrUnavailable):
			fmt.Println("the issuer is unreachable: retry later")
		case err != nil:
			fmt.Println("refused:", err)
		default:
			fmt.Println("welcome", claims.Subject)
		}
	}
	// Output:
	// welcome alice
	// expired: get a new token
	// refused: bearer: invalid token: malformed: the token is not a JWT
}

// Accept DPoP-bound access tokens (RFC 9449): the client proves with each
// request that it holds the key the token is bound to. PublicURL is the
// URL clients call, which proofs are checked against; behind a proxy the
// request's own Host and scheme cannot be trusted.
func ExampleDPoPConfig() {
	issuer := newExampleIssuer()
	defer issuer.Close()
	nonces := &dpop.NonceSource{Key: []byte("32 or more random bytes, secret!")}
	v, err := bearer.New(context.Background(), bearer.Config{
		Issuer:    issuer.URL,
		Audience:  "https://notes.example",
		PublicURL: "https://notes.example",
		DPoP:      bearer.DPoPConfig{Require: true, Nonces: nonces},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()
	api := v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, _ := bearer.ClaimsFrom(r.Context())
		fmt.Fprintf(w, "hello, %s\n", claims.Subject)
	}))

	// The client's key, and a token bound to it (cnf.jkt).
	key, _ := dpop.GenerateKey()
	client, _ := dpop.NewProver(key)
	claims := issuer.claims("alice", time.Now(), "read")
	claims["cnf"] = map[string]any{"jkt": client.Thumbprint()}
	token := issuer.sign(claims)

	call := func(nonce string) *httptest.ResponseRecorder {
		proof, _ := client.Proof("GET", "https://notes.example/hello", token, nonce)
		r := httptest.NewRequest("GET", "/hello", nil)
		r.Header.Set("Authorization", "DPoP "+token)
		r.Header.Set("DPoP", proof)
		w := httptest.NewRecorder()
		api.ServeHTTP(w, r)
		return w
	}
	w := call("") // the first call learns the nonce
	fmt.Println(w.Code, w.Header().Get("WWW-Authenticate"))
	w = call(w.Header().Get("DPoP-Nonce"))
	fmt.Print(w.Code, " ", w.Body)
	// Output:
	// 401 DPoP error="use_dpop_nonce", error_description="the DPoP proof must carry the nonce the server gives in DPoP-Nonce", algs="ES256 EdDSA PS256"
	// 200 hello, alice
}

// Publish Protected Resource Metadata (RFC 9728) so that a client, an MCP
// client for one, finds the authorization server from the first 401:
// every challenge names the metadata in resource_metadata. Resource is
// also the audience the tokens must carry (RFC 8707).
func ExampleValidator_MetadataHandler() {
	issuer := newExampleIssuer()
	defer issuer.Close()
	v, err := bearer.New(context.Background(), bearer.Config{
		Issuer:          issuer.URL,
		Resource:        "https://notes.example",
		ScopesSupported: []string{"read", "write"},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()

	mux := http.NewServeMux()
	mux.Handle(v.MetadataPath(), v.MetadataHandler())
	mux.Handle("GET /notes", v.RequireScope("read")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "[]")
	})))

	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest("GET", "/notes", nil))
	fmt.Println(w.Code, w.Header().Values("WWW-Authenticate")[0])

	w = httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest("GET", "/.well-known/oauth-protected-resource", nil))
	var meta bearer.ResourceMetadata
	if err := json.Unmarshal(w.Body.Bytes(), &meta); err != nil {
		log.Fatal(err)
	}
	fmt.Println(w.Code, meta.Resource, meta.ScopesSupported, meta.BearerMethodsSupported)
	fmt.Println("authorization server is the issuer:", meta.AuthorizationServers[0] == issuer.URL)
	// Output:
	// 401 Bearer realm="https://notes.example", resource_metadata="https://notes.example/.well-known/oauth-protected-resource"
	// 200 https://notes.example [read write] [header]
	// authorization server is the issuer: true
}
