package sqlite

import (
	"slices"
	"unicode/utf8"
)

// encodeDetails stores a details map as a JSON object, keys in order
// ("{}" when empty). Every token issued stores one, so this is written by
// hand instead of through encoding/json: one buffer, no reflection
// (BenchmarkWriterFlush). It decodes exactly as encoding/json's encoding
// of the same map (FuzzEncodeDetails).
func encodeDetails(d map[string]string) string {
	if len(d) == 0 {
		return "{}"
	}
	var stack [8]string
	keys := stack[:0]
	size := 2
	for k, v := range d {
		keys = append(keys, k)
		size += len(k) + len(v) + 6
	}
	return string(appendSortedDetails(make([]byte, 0, size), d, keys))
}

// appendDetails appends d as a JSON object, keys in order.
func appendDetails(b []byte, d map[string]string) []byte {
	var stack [8]string
	keys := stack[:0]
	for k := range d {
		keys = append(keys, k)
	}
	return appendSortedDetails(b, d, keys)
}

// appendSortedDetails appends d as a JSON object of keys, sorted here.
func appendSortedDetails(b []byte, d map[string]string, keys []string) []byte {
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		b = appendJSONString(b, d[k])
	}
	return append(b, '}')
}

// appendJSONString appends s as a JSON string: quotes, backslashes and
// control characters escaped, invalid UTF-8 replaced by U+FFFD as
// encoding/json does.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
