package server_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"io/fs"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// secretName matches the names of values that must only be compared in
// constant time (A12): secrets, PKCE verifiers, token digests, password
// and secret hashes, CSRF tokens.
var secretName = regexp.MustCompile(`(?i)secret|verifier|digest|hash|csrf`)

// timingAllowlist holds reviewed comparisons that the lint would flag but
// that leak nothing, each with the reason; the file part may be a
// path.Match pattern. An entry that matches nothing fails the test, so
// the list only shrinks.
var timingAllowlist = map[string]string{
	// Both digests derive from the refresh token the caller presented,
	// which was found by an exact digest lookup first: the comparison
	// cannot reveal anything the caller does not hold. (A constant-time
	// compare in the backends would let this entry go.)
	"store/*/refresh.go: old.Next == r.Next.Digest": "successor check after a digest lookup",
}

// allowed returns the allowlist entry that covers finding, or "".
func allowed(finding string) string {
	file, expr, _ := strings.Cut(finding, ": ")
	for entry := range timingAllowlist {
		pattern, want, _ := strings.Cut(entry, ": ")
		if ok, _ := path.Match(pattern, file); ok && want == expr {
			return entry
		}
	}
	return ""
}

// testSupport are directories that only tests use: fixtures, the store
// conformance suite and the test environment.
var testSupport = map[string]bool{"testdata": true, "storetest": true, "testenv": true}

// TestA12NoVariableTimeSecretComparisons is the static check of A12: no
// non-test Go file under internal/ compares a secret-named value with ==,
// !=, bytes.Equal, strings.EqualFold, strings.Compare, slices.Equal or
// reflect.DeepEqual. Comparing with "" or nil (presence checks) is fine;
// anything else must use crypto/subtle (or crypto/hmac.Equal).
func TestA12NoVariableTimeSecretComparisons(t *testing.T) {
	root := ".." // internal/
	var found []string
	err := filepath.WalkDir(root, func(file string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && testSupport[d.Name()] {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(file, ".go") || strings.HasSuffix(file, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, file)
		hits, err := variableTimeComparisons(file)
		for _, h := range hits {
			found = append(found, filepath.ToSlash(rel)+": "+h)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for _, f := range found {
		if entry := allowed(f); entry != "" {
			used[entry] = true
			continue
		}
		t.Errorf("variable-time comparison of a secret (A12): %s; use crypto/subtle.ConstantTimeCompare", f)
	}
	for entry := range timingAllowlist {
		if !used[entry] {
			t.Errorf("timingAllowlist entry %q matches nothing: remove it", entry)
		}
	}
}

// variableTimeComparisons parses one file and returns each offending
// comparison as source text.
func variableTimeComparisons(path string) ([]string, error) {
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	var out []string
	ast.Inspect(file, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.BinaryExpr:
			if n.Op != token.EQL && n.Op != token.NEQ {
				return true
			}
			if (namesSecret(n.X) && !presenceOperand(n.Y)) || (namesSecret(n.Y) && !presenceOperand(n.X)) {
				out = append(out, types.ExprString(n))
			}
		case *ast.CallExpr:
			if !variableTimeEqual(n.Fun) {
				return true
			}
			if slices.ContainsFunc(n.Args, namesSecret) {
				out = append(out, types.ExprString(n))
			}
		}
		return true
	})
	return out, nil
}

// namesSecret reports whether an expression is, by its name, a secret: an
// identifier, a field, an element of one, a conversion of one, or the
// result of a function whose name says it returns one (token.Digest(x)).
func namesSecret(e ast.Expr) bool {
	switch e := e.(type) {
	case *ast.Ident:
		return secretName.MatchString(e.Name)
	case *ast.SelectorExpr:
		return secretName.MatchString(e.Sel.Name)
	case *ast.ParenExpr:
		return namesSecret(e.X)
	case *ast.StarExpr:
		return namesSecret(e.X)
	case *ast.IndexExpr:
		return namesSecret(e.X)
	case *ast.SliceExpr:
		return namesSecret(e.X)
	case *ast.CallExpr:
		if isConversion(e.Fun) && len(e.Args) == 1 {
			return namesSecret(e.Args[0])
		}
		return namesSecret(e.Fun)
	}
	return false
}

func isConversion(fun ast.Expr) bool {
	switch f := fun.(type) {
	case *ast.ArrayType:
		return true
	case *ast.Ident:
		return f.Name == "string"
	}
	return false
}

// presenceOperand is "" or nil: comparing with it checks presence and
// takes the same time whatever the secret holds.
func presenceOperand(e ast.Expr) bool {
	switch e := e.(type) {
	case *ast.BasicLit:
		return e.Kind == token.STRING && (e.Value == `""` || e.Value == "``")
	case *ast.Ident:
		return e.Name == "nil"
	}
	return false
}

// variableTimeEqual reports whether fun is an equality helper that stops
// at the first difference.
func variableTimeEqual(fun ast.Expr) bool {
	sel, ok := fun.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	pkg, ok := sel.X.(*ast.Ident)
	if !ok {
		return false
	}
	switch pkg.Name + "." + sel.Sel.Name {
	case "bytes.Equal", "bytes.EqualFold", "bytes.Compare", "strings.EqualFold", "strings.Compare",
		"slices.Equal", "reflect.DeepEqual":
		return true
	}
	return false
}

// TestA12LintCatchesComparisons proves the lint is not vacuous: it flags
// the comparisons it is meant to flag and passes the safe ones.
func TestA12LintCatchesComparisons(t *testing.T) {
	src := `package p
func f(secret, other string, digest []byte, c struct{ SecretHash string }) {
	_ = secret == other
	_ = other != c.SecretHash
	_ = bytes.Equal(digest, nil)
	_ = token.Digest(other) == other
	_ = string(digest) == other
	_ = strings.EqualFold(secret, other)
	_ = secret == ""
	_ = c.SecretHash != ""
	_ = digest == nil
	_ = subtle.ConstantTimeCompare(digest, digest) == 1
	_ = other == "x"
}`
	path := filepath.Join(t.TempDir(), "p.go")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := variableTimeComparisons(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`secret == other`, `other != c.SecretHash`, `bytes.Equal(digest, nil)`,
		`token.Digest(other) == other`, `string(digest) == other`, `strings.EqualFold(secret, other)`}
	if !slices.Equal(got, want) {
		t.Errorf("lint found\n%q\nwant\n%q", got, want)
	}
}

// TestA12TimingSmoke is the optional black-box half of A12, never a CI
// gate: set LATCHKEY_TIMING_SMOKE=1 to run it. It times client
// authentication with secrets wrong in their first byte and in their last
// byte, interleaved, through the handler without TCP, and compares the
// two distributions with a two-sample Kolmogorov-Smirnov test at α = 0.001.
func TestA12TimingSmoke(t *testing.T) {
	if os.Getenv("LATCHKEY_TIMING_SMOKE") == "" {
		t.Skip("set LATCHKEY_TIMING_SMOKE=1 to run the statistical timing check")
	}
	f := newFixture(t, generous)
	secret := f.AddClient(t, store.Client{ID: "svc", GrantTypes: []string{"client_credentials"}})
	first := "X" + secret[1:]
	last := secret[:len(secret)-1] + "X"
	const n = 10_000
	var a, b []float64
	for i := range 2 * n {
		s := first
		if i%2 == 1 {
			s = last
		}
		req := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader("grant_type=client_credentials"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("svc", s)
		rec := httptest.NewRecorder()
		start := time.Now()
		f.Server.Config.Handler.ServeHTTP(rec, req)
		d := float64(time.Since(start))
		if rec.Code != http.StatusUnauthorized {
			t.Fatalf("status %d", rec.Code)
		}
		if i%2 == 0 {
			a = append(a, d)
		} else {
			b = append(b, d)
		}
	}
	d := ksStatistic(a, b)
	critical := 1.95 * math.Sqrt(float64(len(a)+len(b))/float64(len(a)*len(b)))
	t.Logf("KS D = %.4f, critical value at α=0.001: %.4f", d, critical)
	if d > critical {
		t.Errorf("timings differ between first-byte and last-byte mismatches (D %.4f > %.4f)", d, critical)
	}
}

// ksStatistic is the two-sample Kolmogorov-Smirnov statistic: the largest
// distance between the empirical distribution functions of a and b.
func ksStatistic(a, b []float64) float64 {
	slices.Sort(a)
	slices.Sort(b)
	var i, j int
	var d float64
	for i < len(a) && j < len(b) {
		x := min(a[i], b[j])
		for i < len(a) && a[i] <= x {
			i++
		}
		for j < len(b) && b[j] <= x {
			j++
		}
		d = max(d, math.Abs(float64(i)/float64(len(a))-float64(j)/float64(len(b))))
	}
	return d
}
