package main

import (
	"fmt"
	"io"
)

// printDevAuthorize prints the authorization code flow of the demo web
// client once the authorization endpoint exists.
func printDevAuthorize(w io.Writer, issuer string, d devSetup) {
	fmt.Fprint(w, "")
}
