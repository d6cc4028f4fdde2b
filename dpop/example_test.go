package dpop_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/latchkey/latchkey/dpop"
)

// A client makes a proof for each request, with the access token's hash
// when it calls a resource server, and sends it in the DPoP header beside
// "Authorization: DPoP <token>".
func ExampleProver() {
	key, err := dpop.GenerateKey() // keep it for as long as the tokens bound to it
	if err != nil {
		log.Fatal(err)
	}
	p, err := dpop.NewProver(key)
	if err != nil {
		log.Fatal(err)
	}
	// The authorization request may carry p.Thumbprint() as dpop_jkt.
	proof, err := p.Proof("GET", "https://api.example/notes?page=2", "the-access-token", "")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(p.Alg(), len(p.Thumbprint()), len(proof) > 0)
	// Output:
	// ES256 43 true
}

// A resource server checks the proof against the URL it is known by (not
// the Host header), the request's method and the presented token, then
// compares the proof's key with the token's cnf.jkt.
func ExampleVerifier() {
	key, _ := dpop.GenerateKey()
	client, _ := dpop.NewProver(key)
	token := "the-access-token"
	tokenJKT := client.Thumbprint() // from the token's cnf.jkt, in reality

	var v dpop.Verifier // ES256, EdDSA, PS256; ±60 s; a memory replay cache
	check := dpop.Check{Method: "GET", URL: "https://api.example/notes", AccessToken: token}
	for range 2 {
		proof, _ := client.Proof("GET", "https://api.example/notes", token, "")
		p, err := v.Verify(context.Background(), []string{proof}, check)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("accepted, bound to the token's key:", p.JKT == tokenJKT)
		// The same proof twice is refused.
		_, err = v.Verify(context.Background(), []string{proof}, check)
		var de *dpop.Error
		fmt.Println(errors.As(err, &de), de.Code)
	}
	// Output:
	// accepted, bound to the token's key: true
	// true invalid_dpop_proof
	// accepted, bound to the token's key: true
	// true invalid_dpop_proof
}

// A server that wants nonces gives NonceSource.Current in DPoP-Nonce and
// asks Verify to check them; every instance with the same key agrees.
func ExampleNonceSource() {
	nonces := &dpop.NonceSource{Key: []byte("32 random bytes from your secret"), Step: time.Minute}
	key, _ := dpop.GenerateKey()
	client, _ := dpop.NewProver(key)
	var v dpop.Verifier
	now := time.Now()
	check := dpop.Check{
		Method: "POST", URL: "https://login.example/token", Now: now,
		Nonce: func(n string) bool { return nonces.Valid(n, now) },
	}

	proof, _ := client.Proof("POST", "https://login.example/token", "", "")
	_, err := v.Verify(context.Background(), []string{proof}, check)
	fmt.Println(err) // answer with DPoP-Nonce: nonces.Current(now)

	proof, _ = client.Proof("POST", "https://login.example/token", "", nonces.Current(now))
	_, err = v.Verify(context.Background(), []string{proof}, check)
	fmt.Println(err)
	// Output:
	// dpop: use_dpop_nonce: the DPoP proof must carry the nonce the server gives in DPoP-Nonce
	// <nil>
}
