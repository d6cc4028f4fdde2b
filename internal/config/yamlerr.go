package config

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The shapes of the messages in a *yaml.TypeError, after "line N: ".
var (
	lineRE      = regexp.MustCompile(`(?s)^line (\d+): (.*)$`)
	unknownRE   = regexp.MustCompile(`^field (.*) not found in type (\S+)$`)
	duplicateRE = regexp.MustCompile(`^mapping key (".*") already defined at line (\d+)$`)
	cannotRE    = regexp.MustCompile("(?s)^cannot unmarshal (\\S+)(?: `.*`)? into (.+)$")
)

// node is one mapping key or sequence item of a YAML document.
type node struct {
	path    string    // clients[1].redirect_uris[0]
	keyLine int       // line of the key, or of the item in a sequence
	valLine int       // line where the value starts
	kind    yaml.Kind // kind of the value
}

// flatten appends every key and sequence item under n to out, in document
// order. It does not follow aliases.
func flatten(n *yaml.Node, path string, out []node) []node {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			out = flatten(c, path, out)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := joinPath(path, k.Value)
			out = append(out, node{path: p, keyLine: k.Line, valLine: v.Line, kind: v.Kind})
			out = flatten(v, p, out)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p := path + "[" + strconv.Itoa(i) + "]"
			out = append(out, node{path: p, keyLine: c.Line, valLine: c.Line, kind: c.Kind})
			out = flatten(c, p, out)
		}
	}
	return out
}

// yamlProblems turns an error from the yaml decoder into problems, one for
// each entry of a *yaml.TypeError, placed with the help of nodes.
func yamlProblems(err error, file string, nodes []node) Problems {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		line, msg := splitLine(strings.TrimPrefix(err.Error(), "yaml: "))
		return Problems{{File: file, Line: line,
			Message: "invalid YAML: " + msg + "; check the indentation, colons and quotes"}}
	}
	probs := make(Problems, 0, len(te.Errors))
	for _, e := range te.Errors {
		line, msg := splitLine(e)
		where, msg := explain(msg, line, nodes)
		probs = append(probs, Problem{File: file, Line: line, Where: where, Message: msg})
	}
	return probs
}

// splitLine splits "line N: message" into N and the message; the line is
// 0 when the text does not start that way.
func splitLine(s string) (int, string) {
	m := lineRE.FindStringSubmatch(s)
	if m == nil {
		return 0, s
	}
	line, _ := strconv.Atoi(m[1])
	return line, m[2]
}

// explain rewords one yaml type error and finds the path it is about. It
// never repeats the offending value, which may be a secret.
func explain(msg string, line int, nodes []node) (where, text string) {
	if m := unknownRE.FindStringSubmatch(msg); m != nil {
		return keyAt(nodes, line, m[1]), unknownKey(m[1], m[2])
	}
	if m := duplicateRE.FindStringSubmatch(msg); m != nil {
		key, err := strconv.Unquote(m[1])
		if err != nil {
			key = m[1]
		}
		return keyAt(nodes, line, key), "is set twice (first on line " + m[2] + "); keep one"
	}
	if m := cannotRE.FindStringSubmatch(msg); m != nil {
		return valueAt(nodes, line, tagKind(m[1])), mismatch(m[1], m[2])
	}
	return valueAt(nodes, line, yaml.ScalarNode), msg
}

// keyAt returns the path of the key named key on line, or key itself.
func keyAt(nodes []node, line int, key string) string {
	for _, n := range nodes {
		if n.keyLine == line && (n.path == key || strings.HasSuffix(n.path, "."+key)) {
			return n.path
		}
	}
	return key
}

// valueAt returns the path of the last value of the kind starting on line:
// the decoder reports the innermost value it could not read.
func valueAt(nodes []node, line int, kind yaml.Kind) string {
	where := ""
	for _, n := range nodes {
		if n.valLine == line && n.kind == kind {
			where = n.path
		}
	}
	return where
}

// tagKind is the node kind a YAML tag such as !!seq stands for.
func tagKind(tag string) yaml.Kind {
	switch tag {
	case "!!seq":
		return yaml.SequenceNode
	case "!!map":
		return yaml.MappingNode
	}
	return yaml.ScalarNode
}

// mismatch says what a value of Go type goType must look like instead of
// the YAML value tagged tag.
func mismatch(tag, goType string) string {
	want := goTypeName(goType)
	got := map[string]string{
		"!!str": "text", "!!int": "a whole number", "!!float": "a decimal number",
		"!!bool": "true or false", "!!seq": "a list", "!!map": "a mapping",
		"!!timestamp": "a date", "!!binary": "binary data",
	}[tag]
	switch {
	case got == "":
		return "must be " + want + ", not a value tagged " + tag
	case tag == "!!int" && strings.HasPrefix(want, "a whole number"):
		return "must be " + want + "; the number is out of range"
	}
	return "must be " + want + ", not " + got
}

// goTypeName describes a Go type in the words of a YAML file.
func goTypeName(t string) string {
	switch t {
	case "string", "config.Secret", "config.StorageURL":
		return "text (quote it if needed)"
	case "bool":
		return "true or false"
	case "int", "int64":
		return "a whole number"
	case "int32":
		return "a whole number from -2147483648 to 2147483647"
	case "uint8":
		return "a whole number from 0 to 255"
	case "uint32":
		return "a whole number from 0 to 4294967295"
	case "config.Duration":
		return "a duration like 15m, 1h30m or 60s"
	case "[]string":
		return "a list of text values, like [a, b]"
	case "map[string]interface {}":
		return "a mapping of names to values"
	}
	if strings.HasPrefix(t, "[]") {
		return "a list"
	}
	return "a mapping of keys"
}

// unknownKey explains a key that the struct type named typeName does not
// have, suggesting the nearest known one.
func unknownKey(key, typeName string) string {
	known := knownKeys(reflect.TypeFor[Config](), typeName)
	best, bestDist := "", math.MaxInt
	for _, k := range known {
		d := editDistance(key, k)
		prefix := min(len(key), len(k)) >= 3 && (strings.HasPrefix(key, k) || strings.HasPrefix(k, key))
		if (d <= 2 || prefix) && d < bestDist {
			best, bestDist = k, d
		}
	}
	switch {
	case best != "":
		return fmt.Sprintf("unknown key; did you mean %q?", best)
	case len(known) > 0:
		return "unknown key; remove it or use one of: " + strings.Join(known, ", ")
	}
	return "unknown key; remove it"
}

// knownKeys lists the YAML keys of the struct type named typeName, found
// in t or in the types t contains.
func knownKeys(t reflect.Type, typeName string) []string {
	for t.Kind() == reflect.Slice || t.Kind() == reflect.Map || t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	var keys []string
	for f := range t.Fields() {
		name := yamlName(f)
		if name == "" {
			continue
		}
		if t.String() == typeName {
			keys = append(keys, name)
		} else if found := knownKeys(f.Type, typeName); found != nil {
			return found
		}
	}
	return keys
}

// yamlName is the YAML key of a struct field, or "" when it has none.
func yamlName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	switch name {
	case "-":
		return ""
	case "":
		return strings.ToLower(f.Name)
	}
	return name
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
