package sesconnector

import (
	"encoding/json"
	"fmt"
	"net/mail"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
)

// Payload is what a message is rendered with, as Logto's SendMessagePayload: "code", "link",
// "locale" and any other key, with nested maps reached by dotted paths ({{organization.name}}).
type Payload map[string]any

// placeholderPattern matches Logto's {{ path }} and the <<path>> form; a path is word
// characters and dots, as in Logto's replaceSendMessageHandlebars.
var placeholderPattern = regexp.MustCompile(`\{\{\s*([\w.]+)\s*\}\}|<<\s*([\w.]+)\s*>>`)

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

func parseText(where, s string) text {
	t := text{where: where, size: len(s)}
	last := 0
	for _, m := range placeholderPattern.FindAllStringSubmatchIndex(s, -1) {
		start, end := m[2], m[3] // {{ path }}
		if start < 0 {
			start, end = m[4], m[5] // <<path>>
		}
		path := s[start:end]
		t.segs = append(t.segs, segment{literal: s[last:m[0]], raw: s[m[0]:m[1]], path: strings.Split(path, ".")})
		t.size -= m[1] - m[0]
		last = m[1]
	}
	if last < len(s) || len(t.segs) == 0 {
		t.segs = append(t.segs, segment{literal: s[last:]})
	}
	return t
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
		var ok bool
		switch m := cur.(type) {
		case Payload:
			cur, ok = m[key]
		case map[string]any:
			cur, ok = m[key]
		case map[string]string:
			cur, ok = m[key]
		}
		if !ok {
			if i == 0 {
				return "", fmt.Errorf("the payload has no %q", key)
			}
			return "", fmt.Errorf("the payload has no %q", strings.Join(s.path[:i+1], "."))
		}
	}
	return formatValue(cur)
}

// formatValue writes a payload value as text. Null, maps, lists and structs are refused rather
// than printed: "Your code is <nil>" or "map[...]" must never reach a user's inbox.
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
		return "", fmt.Errorf("the value is null")
	case fmt.Stringer:
		return fmt.Sprint(v), nil
	}
	switch k := reflect.TypeOf(v).Kind(); k {
	case reflect.Map, reflect.Slice, reflect.Array, reflect.Struct, reflect.Pointer, reflect.Interface,
		reflect.Func, reflect.Chan, reflect.UnsafePointer:
		return "", fmt.Errorf("the value is a %s, not text or a number", k)
	}
	return fmt.Sprint(v), nil
}

// compiledTemplate is a validated Template parsed for rendering.
type compiledTemplate struct {
	subject text
	html    *text  // nil for plain-text content
	text    *text  // nil without a plain-text part
	replyTo string // formatted, or ""
	headers []header
}

type header struct {
	name  string
	value text
}

// compileTemplate parses a template that passed validation.
func compileTemplate(t *Template) *compiledTemplate {
	ct := &compiledTemplate{subject: parseText("subject", t.Subject)}
	content := parseText("content", t.Content)
	switch {
	case t.ContentType == contentPlain:
		ct.text = &content
	case t.Text != "":
		plain := parseText("text", t.Text)
		ct.html, ct.text = &content, &plain
	default:
		ct.html = &content
	}
	if t.ReplyTo != "" {
		a, _ := mail.ParseAddress(t.ReplyTo) // validated
		ct.replyTo = formatMailbox(a)
	}
	for _, name := range sortedKeys(t.Headers) {
		ct.headers = append(ct.headers, header{name: name, value: parseText("header "+name, t.Headers[name])})
	}
	return ct
}

// rendered is a template filled in with a payload.
type rendered struct {
	subject, html, text string
	headers             []types.MessageHeader
}

func (ct *compiledTemplate) render(p Payload) (r rendered, err error) {
	if r.subject, err = ct.subject.render(p, false); err != nil {
		return r, err
	}
	if hasCRLF(r.subject) {
		return r, fmt.Errorf("%w: the rendered subject contains CR or LF; check the payload values it uses", ErrInvalidParameters)
	}
	if ct.html != nil {
		if r.html, err = ct.html.render(p, true); err != nil {
			return r, err
		}
	}
	if ct.text != nil {
		if r.text, err = ct.text.render(p, false); err != nil {
			return r, err
		}
	}
	if len(ct.headers) > 0 {
		r.headers = make([]types.MessageHeader, len(ct.headers))
		for i, h := range ct.headers {
			v, err := h.value.render(p, false)
			if err != nil {
				return r, err
			}
			if hasCRLF(v) {
				return r, fmt.Errorf("%w: the rendered header %s contains CR or LF; check the payload values it uses", ErrInvalidParameters, h.name)
			}
			name := h.name // a copy: the request must not point into the shared template
			r.headers[i] = types.MessageHeader{Name: &name, Value: &v}
		}
	}
	return r, nil
}

// templateSet holds the config's templates by usage type and normalized locale.
type templateSet map[templateKey]*compiledTemplate

func newTemplateSet(ts []Template) templateSet {
	set := make(templateSet, len(ts))
	for i := range ts {
		set[templateKey{ts[i].UsageType, normalizeLocale(ts[i].Locale)}] = compileTemplate(&ts[i])
	}
	return set
}

// find follows the template chain of one usage type and then Generic: the exact locale, its
// language ("pt" for "pt-BR"), no locale.
func (s templateSet) find(usage UsageType, locale string) *compiledTemplate {
	locale = normalizeLocale(locale)
	lang, _, _ := strings.Cut(locale, "-")
	for _, u := range [2]UsageType{usage, UsageGeneric} {
		for _, l := range [3]string{locale, lang, ""} {
			if t := s[templateKey{u, l}]; t != nil {
				return t
			}
		}
	}
	return nil
}

// validateTemplate checks a template that did not come from the config (WithTemplateLookup).
func validateTemplate(t *Template) error {
	ps := structProblems(t)
	validateTemplateExtras("", t, &ps)
	for i := range ps {
		ps[i].Path = strings.TrimPrefix(ps[i].Path, ".")
	}
	return ps.err()
}
