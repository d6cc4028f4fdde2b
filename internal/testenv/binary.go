package testenv

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// BuildLatchkey builds the latchkey command into dir (without -race: the
// child processes are what a test examines) and returns its path.
func BuildLatchkey(dir string) (string, error) {
	path := filepath.Join(dir, "latchkey")
	out, err := exec.Command("go", "build", "-o", path, "github.com/latchkey/latchkey/cmd/latchkey").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build ./cmd/latchkey: %v\n%s", err, out)
	}
	return path, nil
}

// Binary is the latchkey command built once for the tests of a package
// that run the real program (signals, exit statuses, several processes).
// The zero value builds on first use; a package keeps one in a variable
// and calls Remove from its TestMain:
//
//	var binary testenv.Binary
//
//	func TestMain(m *testing.M) {
//		code := m.Run()
//		binary.Remove()
//		os.Exit(code)
//	}
type Binary struct {
	once      sync.Once
	dir, path string
	err       error
}

// Path builds the command with BuildLatchkey the first time it is called
// and returns its path; it fails t when the build failed. Any goroutine
// may call it, but only the test's own goroutine may fail t.
func (b *Binary) Path(t testing.TB) string {
	t.Helper()
	b.once.Do(func() {
		b.dir, b.err = os.MkdirTemp("", "latchkey-bin-")
		if b.err != nil {
			return
		}
		b.path, b.err = BuildLatchkey(b.dir)
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// Remove deletes what Path built. Nothing else may use the command after.
func (b *Binary) Remove() {
	if b.dir != "" {
		os.RemoveAll(b.dir)
	}
}

// ListeningAddr finds the address in the JSON "listening" line that
// latchkey serve logs once its listener is open, or "" when logs (whole
// lines of a JSON log) have none yet.
func ListeningAddr(logs string) string {
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var rec struct{ Msg, Addr string }
		if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "listening" {
			return rec.Addr
		}
	}
	return ""
}
