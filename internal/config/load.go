package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Load builds the configuration in three layers: Default(), then the YAML
// file at path when path is not "", then LATCHKEY_* environment variables
// looked up with getenv (nil means none; see EnvNames).
//
// Load fails when the file or the environment cannot be read as a
// configuration: bad YAML, an unknown key, a value of the wrong type, an
// unreadable variable. Its error is then Problems listing every problem at
// once, with file and line or variable name, and including what Validate
// would report under r, so that one run shows them all. Otherwise Load does not
// check the rules: adjust the result (command-line flags, say) and call
// Validate. The Config is returned in both cases. A file that cannot be
// opened is a plain wrapped error (errors.Is(err, fs.ErrNotExist) works).
func Load(path string, getenv func(string) string, r Rules) (Config, error) {
	var data []byte
	if path != "" {
		var err error
		if data, err = os.ReadFile(path); err != nil {
			return Default(), fmt.Errorf("config: %w", err)
		}
	}
	cfg, probs := load(path, data, getenv, r)
	return cfg, probs.finish()
}

// load is Load after the file at path has been read into data.
func load(path string, data []byte, getenv func(string) string, r Rules) (Config, Problems) {
	cfg := Default()
	cfg.File = path
	probs := decode(&cfg, data)
	probs = append(probs, applyEnv(&cfg, getenv)...)
	if len(probs) == 0 {
		return cfg, nil
	}
	read := len(probs)
	for _, p := range cfg.problems(r) {
		if !covered(p, probs[:read]) {
			probs = append(probs, p)
		}
	}
	return cfg, probs
}

// decode reads the YAML in data over cfg, rejecting unknown keys, and
// records the line of every key in cfg.origins.
func decode(cfg *Config, data []byte) Problems {
	root, probs := scan(cfg.File, data)
	if root == nil {
		return probs
	}
	probs = append(probs, wholeNumbers(root, reflect.TypeFor[Config](), "", cfg.File)...)
	nodes := flatten(root, "", nil)
	cfg.origins = make(map[string]origin, len(nodes))
	for _, n := range nodes {
		if _, dup := cfg.origins[n.path]; !dup {
			cfg.origins[n.path] = origin{line: n.keyLine}
		}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		probs = append(probs, yamlProblems(err, cfg.File, nodes)...)
	}
	for i := range cfg.Users {
		cfg.Users[i].Claims = stringKeys(cfg.Users[i].Claims).(map[string]any)
	}
	// A decimal too large for its field is also a yaml type error.
	seen := make(map[Problem]bool, len(probs))
	return slices.DeleteFunc(probs, func(p Problem) bool {
		dup := seen[p]
		seen[p] = true
		return dup
	})
}

// scan parses data into a node tree, for the lines of its keys. It returns
// nil for an empty file or a syntax error, and a problem when the file
// holds more than one document.
func scan(file string, data []byte) (*yaml.Node, Problems) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	root := new(yaml.Node)
	if err := dec.Decode(root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, yamlProblems(err, file, nil)
	}
	var next yaml.Node
	err := dec.Decode(&next)
	if errors.Is(err, io.EOF) {
		return root, nil
	}
	line := next.Line
	if err != nil {
		line, _ = splitLine(strings.TrimPrefix(err.Error(), "yaml: "))
	}
	return root, Problems{{File: file, Line: line,
		Message: "the file holds more than one YAML document; keep one and delete the others, starting at this --- line"}}
}

// stringKeys returns v with every nested map[any]any (which YAML makes for
// maps with non-string keys) turned into map[string]any, so that claims
// can be written as JSON.
func stringKeys(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = stringKeys(e)
		}
		return v
	case map[any]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[fmt.Sprint(k)] = stringKeys(e)
		}
		return m
	case []any:
		for i, e := range v {
			v[i] = stringKeys(e)
		}
		return v
	}
	return v
}

// wholeNumbers reports decimal numbers given for whole-number settings,
// which the yaml decoder would silently truncate (1.5 becomes 1).
func wholeNumbers(n *yaml.Node, t reflect.Type, path, file string) Problems {
	var probs Problems
	switch {
	case n.Kind == yaml.DocumentNode:
		for _, c := range n.Content {
			probs = append(probs, wholeNumbers(c, t, path, file)...)
		}
	case n.Kind == yaml.MappingNode && t.Kind() == reflect.Struct:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			for f := range t.Fields() {
				if yamlName(f) == key {
					probs = append(probs, wholeNumbers(n.Content[i+1], f.Type, joinPath(path, key), file)...)
				}
			}
		}
	case n.Kind == yaml.SequenceNode && t.Kind() == reflect.Slice:
		for i, c := range n.Content {
			probs = append(probs, wholeNumbers(c, t.Elem(), path+"["+strconv.Itoa(i)+"]", file)...)
		}
	case n.Kind == yaml.ScalarNode && n.ShortTag() == "!!float" && isWholeNumberType(t):
		probs = append(probs, Problem{File: file, Line: n.Line, Where: path,
			Message: "must be " + goTypeName(t.String()) + ", not a decimal number"})
	}
	return probs
}

// isWholeNumberType reports whether t is an integer type other than
// Duration.
func isWholeNumberType(t reflect.Type) bool {
	if t == reflect.TypeFor[Duration]() {
		return false
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	}
	return false
}

// covered reports whether a problem from reading the file explains a
// validation problem: one at the same path, under it, or on the mapping
// that holds it (a client whose public flag could not be read looks
// confidential).
func covered(p Problem, read Problems) bool {
	for _, r := range read {
		if r.File == "" || r.Where == "" {
			continue
		}
		if p.Where == r.Where || p.Where == parentPath(r.Where) ||
			strings.HasPrefix(p.Where, r.Where+".") || strings.HasPrefix(p.Where, r.Where+"[") {
			return true
		}
	}
	return false
}
