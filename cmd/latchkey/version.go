package main

import (
	"context"
	"fmt"
	"runtime/debug"
)

func runVersion(_ context.Context, args []string, e env) error {
	fs := newFlags("version", "version", "latchkey version", e.stdout)
	if done, err := parse(fs, args); done {
		return err
	}
	fmt.Fprintln(e.stdout, "latchkey", version())
	return nil
}

// version is the module version, or the VCS revision of a development build.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " (" + s.Value[:12] + ")"
		}
	}
	return v + " " + bi.GoVersion
}
