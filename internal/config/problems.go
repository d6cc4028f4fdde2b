package config

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Problem is one thing wrong with the configuration, placed where the user
// can fix it.
type Problem struct {
	// File is the config file, or "" when the value came from the
	// environment, from code or from a default.
	File string
	// Line is the 1-based line in File, or 0 when unknown.
	Line int
	// Where is the YAML path (clients[1].secret) or the environment
	// variable (LATCHKEY_LISTEN) holding the bad value.
	Where string
	// Message says what is wrong and what to do next. It never contains a
	// secret.
	Message string
}

// String formats p as "file:line: where: message", leaving out the parts
// that are unknown.
func (p Problem) String() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		if p.Line > 0 {
			fmt.Fprintf(&b, ":%d", p.Line)
		}
		b.WriteString(": ")
	}
	if p.Where != "" {
		b.WriteString(p.Where)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// Problems lists everything wrong with a configuration. Load and Validate
// return it as their error; use errors.As to get at the list.
type Problems []Problem

// Error returns one problem per line, for example
// "latchkey.yaml:12: clients[1].secret: must be at least 32 characters".
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// finish orders ps by line (problems without one keep their order, last)
// and returns nil when there are none, so callers never get a typed nil.
func (ps Problems) finish() error {
	if len(ps) == 0 {
		return nil
	}
	slices.SortStableFunc(ps, func(a, b Problem) int {
		if c := boolCompare(a.Line == 0, b.Line == 0); c != 0 {
			return c
		}
		return cmp.Compare(a.Line, b.Line)
	})
	return ps
}

// boolCompare orders false before true.
func boolCompare(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	default:
		return -1
	}
}

// origin is where a setting came from: a line of the file, or an
// environment variable.
type origin struct {
	line int
	env  string
}

// problemAt builds a problem for the YAML path, placed at the file line or
// environment variable that set the path or its nearest parent.
func (c *Config) problemAt(path, msg string) Problem {
	for p := path; p != ""; p = parentPath(p) {
		o, ok := c.origins[p]
		if !ok {
			continue
		}
		if o.env != "" {
			return Problem{Where: o.env, Message: msg}
		}
		return Problem{File: c.File, Line: o.line, Where: path, Message: msg}
	}
	return Problem{Where: path, Message: msg}
}

// setOrigin records that path was set from o, forgetting what was known
// about the old value's elements.
func (c *Config) setOrigin(path string, o origin) {
	if c.origins == nil {
		c.origins = make(map[string]origin)
	}
	for p := range c.origins {
		if strings.HasPrefix(p, path+".") || strings.HasPrefix(p, path+"[") {
			delete(c.origins, p)
		}
	}
	c.origins[path] = o
}

// parentPath drops the last element of a YAML path:
// clients[1].scopes[0] → clients[1].scopes → clients[1] → clients → "".
func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

// joinPath appends a mapping key to a YAML path.
func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
