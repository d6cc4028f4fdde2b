package dpop_test

import (
	"go/build"
	"strings"
	"testing"
)

// The package is public and shared by the server, bearer and the CLI: it
// imports the standard library and go-jose only, nothing of the project.
func TestImports(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range pkg.Imports {
		std := !strings.Contains(strings.SplitN(imp, "/", 2)[0], ".")
		if !std && !strings.HasPrefix(imp, "github.com/go-jose/go-jose/v4") {
			t.Errorf("dpop imports %s", imp)
		}
	}
}
