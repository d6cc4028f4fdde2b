package bearer_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"

	"github.com/latchkey/latchkey/bearer"
)

// Protect a whole API: every request needs a valid access token issued by
// https://login.example for https://notes.example.
func Example() {
	ctx := context.Background()
	v, err := bearer.New(ctx, bearer.Config{
		Issuer:   "https://login.example",
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
	log.Fatal(http.ListenAndServe("127.0.0.1:9090", v.Middleware(mux)))
}

// Require scopes per route: reading needs "read", writing needs "write".
// A token without them gets 403 with error="insufficient_scope".
func ExampleValidator_RequireScope() {
	v, err := bearer.New(context.Background(), bearer.Config{
		Issuer:   "https://login.example",
		Audience: "https://notes.example",
		// Opaque tokens are checked at the issuer's introspection endpoint
		// with the resource server's own client credentials.
		Introspection: &bearer.IntrospectionConfig{
			ClientID:     "notes-api",
			ClientSecret: os.Getenv("NOTES_INTROSPECTION_SECRET"),
		},
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
	log.Fatal(http.ListenAndServe("127.0.0.1:9090", mux))
}

// Read the verified claims in a handler, and tell a token a client got for
// itself from one it got on behalf of a user.
func ExampleClaimsFrom() {
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
			"user":       claims.Subject,
			"client":     claims.ClientID,
			"can_write":  claims.HasScope("write"),
			"expires_at": claims.Expiry,
			"auth_time":  claims.Raw["auth_time"], // claims without a field
		})
	}
	_ = handler
}

// Validate a token that did not come over HTTP, and tell why it failed.
func ExampleValidator_Validate() {
	v, err := bearer.New(context.Background(), bearer.Config{
		Issuer:   "https://login.example",
		Audience: "https://notes.example",
	})
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()

	claims, err := v.Validate(context.Background(), os.Getenv("TOKEN"))
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
