package sesconnector

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// The JSON tree a config is read into, with the duplicate keys it held.

// treeReader reads one JSON value into map[string]any, []any, string, json.Number, bool or
// nil, and records the path of every duplicate key.
type treeReader struct {
	dec  *json.Decoder
	dups []duplicate
}

// duplicate is a key given more than once: its path, and its values in order where they are
// strings that can be shown (never a key or secret).
type duplicate struct {
	path    string
	values  []string
	earlier any // the value a JSON parser would drop
}

// dupProblem is the start of a duplicate key's problem; the value's own checks still run.
const dupProblem = "appears more than once"

func (r *treeReader) value(path string, depth int) (any, error) {
	if depth > maxJSONDepth {
		return nil, fmt.Errorf("nested more than %d levels deep at %s", maxJSONDepth, path)
	}
	tok, err := r.dec.Token()
	if err != nil {
		return nil, err
	}
	switch tok {
	case json.Delim('{'):
		m := map[string]any{}
		for r.dec.More() {
			key, err := r.dec.Token()
			if err != nil {
				return nil, err
			}
			child := childPath(path, key.(string)) // object keys are strings
			v, err := r.value(child, depth+1)
			if err != nil {
				return nil, err
			}
			if old, dup := m[key.(string)]; dup {
				r.dups = append(r.dups, duplicate{path: child, values: shownValues(child, old, v), earlier: old})
			}
			m[key.(string)] = v
		}
		_, err = r.dec.Token() // }
		return m, err
	case json.Delim('['):
		list := []any{}
		for r.dec.More() {
			v, err := r.value(fmt.Sprintf("%s[%d]", path, len(list)), depth+1)
			if err != nil {
				return nil, err
			}
			list = append(list, v)
		}
		_, err = r.dec.Token() // ]
		return list, err
	}
	return tok, nil
}

// shownValues are a duplicate key's two values, quoted, when both are strings and the key is
// not a credential; otherwise none.
func shownValues(path string, old, latest any) []string {
	a, ok1 := old.(string)
	b, ok2 := latest.(string)
	if !ok1 || !ok2 || path == "accessKeyId" || path == "accessKeySecret" {
		return nil
	}
	return []string{quote(a), quote(b)}
}

// childPath names a key inside the value at path: templates[0].subject, and header names
// quoted, templates[0].headers["X-Ref"].
func childPath(path, key string) string {
	switch {
	case path == "":
		return key
	case strings.HasSuffix(path, ".headers"):
		return fmt.Sprintf("%s[%s]", path, quote(key))
	}
	return path + "." + key
}

func invalidUTF8At(data []byte) int {
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return len(data)
}

// position turns a byte offset into a 1-based line and column.
func position(data []byte, offset int) (line, col int) {
	before := data[:min(offset, len(data))]
	return bytes.Count(before, []byte("\n")) + 1, len(before) - bytes.LastIndexByte(before, '\n')
}
