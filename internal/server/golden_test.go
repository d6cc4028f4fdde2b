package server_test

// Golden files (testdata/*.golden) record what the server answers, byte
// for byte where it matters, so that a change of behaviour shows as a
// diff in review. Refresh them with
//
//	go test ./internal/server -run Golden -update
//
// and read the diff before committing it.

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden with what the server answers now")

// issuerPlaceholder stands for the test server's URL (its port changes
// from run to run) in the golden files.
const issuerPlaceholder = "ISSUER"

// checkGolden compares got with testdata/name.golden, or writes the file
// with -update.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (write it with: go test ./internal/server -run Golden -update)", err)
	}
	if string(want) != got {
		t.Errorf("the server's answers differ from %s (-golden +now; -update rewrites it):\n%s", path, lineDiff(string(want), got))
	}
}

// lineDiff shows the lines of a and b that differ, with two lines of
// context: "-" for lines only in a, "+" for lines only in b.
func lineDiff(a, b string) string {
	x, y := strings.Split(a, "\n"), strings.Split(b, "\n")
	// lcs[i][j] is the length of the longest common subsequence of x[i:] and y[j:].
	lcs := make([][]int, len(x)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var lines []string
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case i < len(x) && j < len(y) && x[i] == y[j]:
			lines = append(lines, "  "+x[i])
			i, j = i+1, j+1
		case j < len(y) && (i == len(x) || lcs[i][j+1] >= lcs[i+1][j]):
			lines = append(lines, "+ "+y[j])
			j++
		default:
			lines = append(lines, "- "+x[i])
			i++
		}
	}
	var out []string
	for k, l := range lines {
		near := false
		for d := max(0, k-2); d <= min(len(lines)-1, k+2); d++ {
			near = near || !strings.HasPrefix(lines[d], "  ")
		}
		if near {
			out = append(out, l)
		} else if len(out) > 0 && out[len(out)-1] != "  …" {
			out = append(out, "  …")
		}
	}
	return strings.Join(out, "\n")
}

// goldenResponse writes r as the golden files show it: the status, the
// headers in sorted order (but Date and Content-Length), a blank line and
// the body (JSON indented when indent is set), with the issuer's URL
// replaced by ISSUER.
func goldenResponse(r result, issuer string, indent bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s\n", r.Status, http.StatusText(r.Status))
	var names []string
	for k := range r.Header {
		if k != "Date" && k != "Content-Length" { // they change with every response or follow from the body
			names = append(names, k)
		}
	}
	slices.Sort(names)
	for _, k := range names {
		for _, v := range r.Header[k] {
			fmt.Fprintf(&b, "%s: %s\n", k, v)
		}
	}
	body := r.Body
	if indent {
		var out bytes.Buffer
		if json.Indent(&out, body, "", "  ") == nil {
			body = out.Bytes()
		}
	}
	if len(body) > 0 {
		b.WriteString("\n")
		b.Write(body)
		if !bytes.HasSuffix(body, []byte("\n")) {
			b.WriteString("\n")
		}
	}
	return strings.ReplaceAll(b.String(), issuer, issuerPlaceholder)
}

// TestGoldenDiscovery records both metadata documents (RFC 8414, OpenID
// Connect Discovery 1.0) with their headers; the JSON is indented for
// reading, its members in the order the server writes them.
func TestGoldenDiscovery(t *testing.T) {
	f := newFixture(t, nil)
	for _, name := range []string{"oauth-authorization-server", "openid-configuration"} {
		r, _ := metadata(t, f.Env, "/.well-known/"+name)
		checkGolden(t, "discovery_"+name, goldenResponse(r, f.URL, true))
	}
}

// TestGoldenJWKS records the shape of the JWKS: its headers, and its keys
// and their members in the order served, with kty, crv, alg and use as
// they are and the values that change with every key (kid, x, y, n, e)
// replaced by their length.
func TestGoldenJWKS(t *testing.T) {
	f := newFixture(t, nil)
	r, keys := jwks(t, f.Env)
	for _, k := range keys {
		for _, name := range []string{"kid", "x", "y", "n", "e"} {
			if v, ok := k[name].(string); ok {
				r.Body = bytes.ReplaceAll(r.Body, []byte(`"`+v+`"`), fmt.Appendf(nil, `"%s: %d characters"`, strings.ToUpper(name), len(v)))
			}
		}
	}
	checkGolden(t, "jwks", goldenResponse(r, f.URL, true))
}
