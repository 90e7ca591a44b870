package sesconnector

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// This file holds the placeholder language: {{ path }} (Logto's) and <<path>>, where a path is
// a payload key or a dotted path into nested maps and lists ({{organization.name}},
// {{list.0.name}}). Text is parsed once, at load; rendering only fills in values.

// text is a template string parsed once: literal runs, each followed by a placeholder or not.
type text struct {
	where string // "subject", "content", "text" or "header X-Name", for errors
	segs  []segment
	size  int // bytes of literal text
}

type segment struct {
	literal string
	raw     string   // the placeholder as written, "" after the last literal
	path    []string // the placeholder's path into the payload
}

// isSpace is JavaScript's \s, as in Logto's placeholder pattern: Unicode white space, the
// no-break spaces a rich-text editor leaves included.
func isSpace(r rune) bool { return r == '\ufeff' || r != '\u0085' && unicode.IsSpace(r) }

// isPathRune says whether r may stand in a path segment.
func isPathRune(r rune) bool { return !isSpace(r) && !strings.ContainsRune(".{}<>", r) }

// parseText splits s into literals and placeholders. Text that opens a placeholder ("{{" or
// "<<") but is not one is an error: it would reach the reader as written.
func parseText(where, s string) (text, error) {
	t := text{where: where, size: len(s)}
	last := 0
	curly, angle := -1, -1 // the next "{{" and "<<" at or after i, kept so that each is searched for once
	for i := 0; i < len(s); {
		curly = nextAt(s, "{{", i, curly)
		angle = nextAt(s, "<<", i, angle)
		start := curly
		if angle >= 0 && (start < 0 || angle < start) {
			start = angle
		}
		if start < 0 {
			break // -2 for both: no opener left
		}
		end, path := placeholderAt(s, start)
		if end < 0 {
			return text{}, fmt.Errorf("%q opens a placeholder but is not one: write {{name}} or <<name>>, with a payload key or a dotted path such as organization.name inside and nothing else", excerpt(s[start:]))
		}
		t.segs = append(t.segs, segment{literal: s[last:start], raw: s[start:end], path: path})
		t.size -= end - start
		last, i = end, end
	}
	if last < len(s) || len(t.segs) == 0 {
		t.segs = append(t.segs, segment{literal: s[last:]})
	}
	return t, nil
}

// nextAt returns the index of sep in s at or after i, reusing prev when it is still ahead.
func nextAt(s, sep string, i, prev int) int {
	if prev >= i || prev == -2 {
		return prev
	}
	if j := strings.Index(s[i:], sep); j >= 0 {
		return i + j
	}
	return -2 // none left
}

// placeholderAt reads the placeholder opening at s[start:], returning where it ends and its
// path, or -1. A placeholder directly followed by another closing brace or bracket, as in
// {{code}}}, is refused too.
func placeholderAt(s string, start int) (int, []string) {
	closer := "}}"
	if s[start] == '<' {
		closer = ">>"
	}
	i := skipSpace(s, start+2)
	from := i
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		if !isPathRune(r) && r != '.' {
			break
		}
		i += size
	}
	path := strings.Split(s[from:i], ".")
	for _, seg := range path {
		if seg == "" {
			return -1, nil
		}
	}
	i = skipSpace(s, i)
	if !strings.HasPrefix(s[i:], closer) || strings.HasPrefix(s[i+2:], closer[:1]) {
		return -1, nil
	}
	return i + 2, path
}

func skipSpace(s string, i int) int {
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		if !isSpace(r) {
			break
		}
		i += size
	}
	return i
}

// excerpt is the start of s, enough to find it in a template.
func excerpt(s string) string {
	const n = 24
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// render fills the placeholders from p; escapeHTML escapes the inserted values (and only them).
func (t *text) render(p Payload, escapeHTML bool) (string, error) {
	if len(t.segs) == 1 && t.segs[0].raw == "" {
		return t.segs[0].literal, nil // no placeholder: nothing to build
	}
	var b strings.Builder
	b.Grow(t.size + 8*len(t.segs))
	for i := range t.segs {
		s := &t.segs[i]
		b.WriteString(s.literal)
		if s.raw == "" {
			continue
		}
		v, err := s.value(p)
		if err != nil {
			return "", fmt.Errorf("%w: placeholder %s in %s: %s", ErrInvalidParameters, s.raw, t.where, err)
		}
		if escapeHTML {
			writeEscaped(&b, v)
		} else {
			b.WriteString(v)
		}
	}
	return b.String(), nil
}

// value resolves the segment's placeholder in p and formats it.
func (s *segment) value(p Payload) (string, error) {
	var cur any = p
	for i, key := range s.path {
		next, ok := child(cur, key)
		if !ok {
			return "", fmt.Errorf("the payload has no %q", strings.Join(s.path[:i+1], "."))
		}
		cur = next
	}
	v, err := formatValue(cur)
	if err == nil && len(s.path) == 1 && s.path[0] == "code" && strings.TrimSpace(v) == "" {
		return "", errors.New(`the payload's "code" is empty: a verification email needs its code`)
	}
	return v, err
}

// child returns v[key]: a map's value, or a list's element when key is a decimal index, as
// Logto's getValue reads a path.
func child(v any, key string) (any, bool) {
	switch m := v.(type) {
	case Payload:
		c, ok := m[key]
		return c, ok
	case map[string]any:
		c, ok := m[key]
		return c, ok
	case map[string]string:
		c, ok := m[key]
		return c, ok
	case nil:
		return nil, false
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			return nil, false
		}
		e := rv.MapIndex(reflect.ValueOf(key).Convert(rv.Type().Key()))
		if !e.IsValid() {
			return nil, false
		}
		return e.Interface(), true
	case reflect.Slice, reflect.Array:
		i, ok := listIndex(key)
		if !ok || i >= rv.Len() {
			return nil, false
		}
		return rv.Index(i).Interface(), true
	}
	return nil, false
}

// listIndex parses a canonical decimal index: "0", "12", not "01", "+1" or "-1".
func listIndex(key string) (int, bool) {
	if key == "" || len(key) > 1 && key[0] == '0' {
		return 0, false
	}
	i, err := strconv.Atoi(key)
	return i, err == nil && key[0] != '+' && key[0] != '-'
}

// formatValue writes a payload value as text. Only text, numbers, booleans and working
// fmt.Stringers render: "Your code is <nil>", "map[...]" or "%!v(PANIC=...)" must never reach
// a user's inbox.
func formatValue(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case json.Number:
		return v.String(), nil
	case int:
		return strconv.Itoa(v), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), nil
	case bool:
		return strconv.FormatBool(v), nil
	case nil:
		return "", errors.New("the value is null")
	case fmt.Stringer:
		return stringOf(v)
	}
	switch k := reflect.TypeOf(v).Kind(); k {
	case reflect.Map, reflect.Slice, reflect.Array, reflect.Struct, reflect.Pointer, reflect.Interface,
		reflect.Func, reflect.Chan, reflect.UnsafePointer:
		return "", fmt.Errorf("the value is a %s, not text or a number", k)
	}
	return fmt.Sprint(v), nil
}

// stringOf calls a Stringer that is not a nil pointer (or map, slice, func) and does not panic.
func stringOf(v fmt.Stringer) (s string, err error) {
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan, reflect.Interface:
		if rv.IsNil() {
			return "", fmt.Errorf("the value is a nil %T", v)
		}
	}
	defer func() {
		if r := recover(); r != nil {
			s, err = "", fmt.Errorf("the value's String method (%T) panicked", v)
		}
	}()
	return v.String(), nil
}

// writeEscaped writes s to b escaped as html.EscapeString escapes it, without the allocations
// of a temporary string or of b escaping to the heap through an io.Writer.
func writeEscaped(b *strings.Builder, s string) {
	last := 0
	for i := 0; i < len(s); i++ {
		var esc string
		switch s[i] {
		case '&':
			esc = "&amp;"
		case '\'':
			esc = "&#39;"
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '"':
			esc = "&#34;"
		default:
			continue
		}
		b.WriteString(s[last:i])
		b.WriteString(esc)
		last = i + 1
	}
	b.WriteString(s[last:])
}

// badSubjectRune finds what a subject line must not hold: a control character (CR and LF
// would start new headers), a line or paragraph separator, or invalid UTF-8.
func badSubjectRune(s string) (rune, bool) {
	if !utf8.ValidString(s) {
		return utf8.RuneError, true
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return r, true
		}
	}
	return 0, false
}

// badHeaderValue says why a header value breaks SES's rule for MessageHeader.Value: 1 to 870
// printable ASCII characters.
func badHeaderValue(v string) string {
	if v == "" || len(v) > maxHeaderValue {
		return fmt.Sprintf("is %d bytes; SES takes 1 to %d printable ASCII characters", len(v), maxHeaderValue)
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return fmt.Sprintf("holds %q at byte %d; SES takes printable ASCII only (no CR, LF or other control character, no accented letter)", v[i:min(i+utf8.UTFMax, len(v))], i)
		}
	}
	return ""
}
