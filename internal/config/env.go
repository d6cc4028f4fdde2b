package config

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// envPrefix starts the name of every environment variable Latchkey reads.
const envPrefix = "LATCHKEY_"

// envVar is one setting that an environment variable can override.
type envVar struct {
	name  string // LATCHKEY_TOKENS_ACCESS_TOKEN_TTL
	path  string // tokens.access_token_ttl
	index []int  // the field's index sequence in Config
}

// EnvNames lists every environment variable that Load reads, in the order
// of the YAML file: LATCHKEY_ followed by the YAML path in upper case with
// "_" between the parts (LATCHKEY_TOKENS_ACCESS_TOKEN_TTL for
// tokens.access_token_ttl). Every text, true/false, number and duration
// setting has one, and so does every list of text (comma-separated, as in
// LATCHKEY_TRUSTED_PROXIES=10.0.0.0/8,192.168.0.1); clients and users have
// none. A variable overrides the file; an empty one is ignored.
func EnvNames() []string {
	vars := envVars()
	names := make([]string, len(vars))
	for i, v := range vars {
		names[i] = v.name
	}
	return names
}

// envVars derives the environment variables from Config's YAML tags.
func envVars() []envVar {
	return collectEnv(reflect.TypeFor[Config](), "", nil, nil)
}

// collectEnv appends the settable fields of the struct type t, found under
// the YAML path and field index, to out.
func collectEnv(t reflect.Type, path string, index []int, out []envVar) []envVar {
	for f := range t.Fields() {
		name := yamlName(f)
		if name == "" {
			continue
		}
		p := joinPath(path, name)
		idx := append(slices.Clip(index), f.Index...)
		switch {
		case envSettable(f.Type):
			name := envPrefix + strings.ToUpper(strings.ReplaceAll(p, ".", "_"))
			out = append(out, envVar{name: name, path: p, index: idx})
		case f.Type.Kind() == reflect.Struct:
			out = collectEnv(f.Type, p, idx, out)
		}
	}
	return out
}

// envSettable reports whether one environment variable can hold a value
// of type t.
func envSettable(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.String, reflect.Bool,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return true
	case reflect.Slice:
		return t.Elem().Kind() == reflect.String
	}
	return false
}

// applyEnv overrides c with every non-empty variable that getenv returns,
// and records each as the origin of its path. A value that cannot be read
// is a problem naming the variable; the setting keeps its earlier value.
func applyEnv(c *Config, getenv func(string) string) Problems {
	if getenv == nil {
		return nil
	}
	var probs Problems
	root := reflect.ValueOf(c).Elem()
	for _, v := range envVars() {
		raw := getenv(v.name)
		if raw == "" {
			continue
		}
		if err := setValue(root.FieldByIndex(v.index), raw); err != nil {
			probs = append(probs, Problem{Where: v.name, Message: err.Error()})
			continue
		}
		c.setOrigin(v.path, origin{env: v.name})
	}
	return probs
}

// setValue parses raw into v, whose type envSettable accepts. Errors say
// what to write and never repeat raw, which may be a secret.
func setValue(v reflect.Value, raw string) error {
	if v.Type() == reflect.TypeFor[Duration]() {
		d, err := parseDuration(raw)
		if err != nil {
			return errors.New("must be a duration like 15m, 1h30m or 60s")
		}
		v.SetInt(int64(d))
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(raw)
	case reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(raw))
		if err != nil {
			return errors.New("must be true or false")
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		bits := v.Type().Bits()
		n, err := strconv.ParseInt(strings.TrimSpace(raw), 10, bits)
		if err != nil {
			high := int64(math.MaxInt64 >> (64 - bits))
			return fmt.Errorf("must be a whole number from %d to %d", -high-1, high)
		}
		v.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		bits := v.Type().Bits()
		n, err := strconv.ParseUint(strings.TrimSpace(raw), 10, bits)
		if err != nil {
			return fmt.Errorf("must be a whole number from 0 to %d", uint64(math.MaxUint64>>(64-bits)))
		}
		v.SetUint(n)
	case reflect.Float32, reflect.Float64:
		f, err := strconv.ParseFloat(strings.TrimSpace(raw), v.Type().Bits())
		if err != nil {
			return errors.New("must be a number like 0.25")
		}
		v.SetFloat(f)
	case reflect.Slice: // of strings, or of a string type such as Secret
		items := splitList(raw)
		list := reflect.MakeSlice(v.Type(), len(items), len(items))
		for i, item := range items {
			list.Index(i).SetString(item)
		}
		v.Set(list)
	}
	return nil
}

// splitList splits a comma-separated list, trimming spaces and dropping
// empty items.
func splitList(raw string) []string {
	var items []string
	for item := range strings.SplitSeq(raw, ",") {
		if item = strings.TrimSpace(item); item != "" {
			items = append(items, item)
		}
	}
	return items
}
