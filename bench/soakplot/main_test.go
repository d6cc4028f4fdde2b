package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeSamples writes a CSV of n samples, 10 s apart, whose rss_kib is
// rss(i) and whose other columns stay flat.
func writeSamples(t *testing.T, n int, rss func(i int) int) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("seconds,rss_kib,goroutines,open_files,db_bytes,data_bytes,audit_bytes,requests\n")
	for i := range n {
		fmt.Fprintf(&b, "%d,%d,%d,31,%d,%d,%d,%d\n", i*10, rss(i), 30+i%7, 1<<20+i*4096, 1<<20+(i%5)*4096, i*4096, i*100)
	}
	path := filepath.Join(t.TempDir(), "soak.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// A leak that grows steadily after the warm-up is GROWING and fails the
// run; a saw-toothed but level series is flat. Either way every measure
// gets its PNG.
func TestJudgesGrowthAfterWarmup(t *testing.T) {
	for _, tc := range []struct {
		name string
		rss  func(i int) int
		flat bool
		want string
	}{
		{"level", func(i int) int { return 100_000 + (i%9)*3_000 }, true, "Resident memory"},
		{"leaking", func(i int) int { return 100_000 + i*500 }, false, "GROWING"},
		// Warm-up growth is plotted, not judged.
		{"warming", func(i int) int { return 100_000 + min(i, 42)*2_000 }, true, "flat"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			csv := writeSamples(t, 180, tc.rss)
			dir := t.TempDir()
			var out bytes.Buffer
			err := run([]string{"--csv", csv, "--out", dir, "--warmup", "7m"}, &out)
			if (err == nil) != tc.flat || !strings.Contains(out.String(), tc.want) {
				t.Fatalf("run = %v, want flat %v; output:\n%s", err, tc.flat, out.String())
			}
			for _, m := range measures {
				if fi, err := os.Stat(filepath.Join(dir, m.column+".png")); err != nil || fi.Size() == 0 {
					t.Errorf("%s.png: %v", m.column, err)
				}
			}
		})
	}
}

// Too few samples after the warm-up to judge is an error, not a verdict.
func TestTooShortARun(t *testing.T) {
	csv := writeSamples(t, 10, func(int) int { return 100_000 })
	if err := run([]string{"--csv", csv, "--out", t.TempDir(), "--warmup", "7m"}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "run longer") {
		t.Fatalf("run = %v, want a request to run longer", err)
	}
}
