package testenv

import (
	"fmt"
	"os/exec"
	"path/filepath"
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
