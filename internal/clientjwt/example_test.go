package clientjwt_test

import (
	"context"
	"errors"
	"log"
	"time"

	"github.com/latchkey/latchkey/internal/clientjwt"
	"github.com/latchkey/latchkey/internal/safefetch"
)

// The server builds one Verifier, and calls it for each request that
// presents a client assertion; store is its ReplayCache.
func ExampleVerifier() {
	var store clientjwt.ReplayCache = newMemReplay() // the server's store
	v := &clientjwt.Verifier{
		Keys: clientjwt.NewKeys(clientjwt.KeysConfig{
			Fetch: safefetch.New(safefetch.Options{Timeout: 5 * time.Second}),
		}),
		Issuer:       "https://as.example.com",
		EndpointURLs: []string{"https://as.example.com/token", "https://as.example.com/par"},
		Replay:       store,
	}

	assertion := "eyJ..." // the request's client_assertion
	clientID, ok := clientjwt.UnsafeSubject(assertion)
	if !ok {
		return // invalid_client
	}
	// Look the client up by clientID, then:
	err := v.Verify(context.Background(), assertion, clientjwt.Client{
		ID:      clientID,
		JWKSURI: "https://client.example.org/jwks.json",
	})
	var refused *clientjwt.Error
	switch {
	case errors.As(err, &refused):
		log.Printf("invalid_client: %s", refused.Description) // safe to send
	case err != nil:
		log.Printf("server_error: %v", err)
	}
}
