package config

import (
	"os"
	"path/filepath"
	"testing"

	"go.yaml.in/yaml/v3"
)

// FuzzLoad feeds arbitrary bytes to the loader as a config file. It must
// never panic, every problem must say something, and a config that loads
// clean must load clean again after being written back out.
func FuzzLoad(f *testing.F) {
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, probs := check("fuzz.yaml", data, nil)
		for _, p := range probs {
			if p.Message == "" {
				t.Fatalf("empty problem %+v", p)
			}
		}
		_ = probs.Error()
		if len(probs) > 0 {
			return
		}
		out, err := yaml.Marshal(cfg)
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		if _, again := check("again.yaml", out, nil); len(again) > 0 {
			t.Fatalf("written back:\n%s\nproblems:\n%v", out, again)
		}
	})
}
