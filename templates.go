package sesconnector

import (
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
)

// Payload is what a message is rendered with, as Logto's SendMessagePayload: "code", "link",
// "locale" and any other key, with nested maps and lists reached by dotted paths
// ({{organization.name}}, {{list.0.name}}).
type Payload map[string]any

// compiledTemplate is a validated Template parsed for rendering.
type compiledTemplate struct {
	name    string // "templates[2]", or "lookup": what observers are told
	locale  string // the config template's normalized locale; "" for none and for the lookup's
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

// compileTemplate parses the placeholders of every field of t. The problems name each field
// relative to the template: "subject", `headers["X-Ref"]`.
func compileTemplate(t *Template) (*compiledTemplate, problems) {
	var ps problems
	parse := func(path, where, s string) text {
		txt, err := parseText(where, s)
		if err != nil {
			ps.add(path, err.Error())
		}
		return txt
	}
	ct := &compiledTemplate{subject: parse("subject", "subject", t.Subject)}
	content := parse("content", "content", t.Content)
	switch {
	case isPlainText(t.ContentType):
		ct.text = &content
	case t.Text != "":
		plain := parse("text", "text", t.Text)
		ct.html, ct.text = &content, &plain
	default:
		ct.html = &content
	}
	ct.replyTo = wireMailbox(t.ReplyTo)
	for _, name := range sortedKeys(t.Headers) {
		value := parse(fmt.Sprintf("headers[%q]", name), "header "+name, t.Headers[name])
		ct.headers = append(ct.headers, header{name: name, value: value})
	}
	return ct, ps
}

func isPlainText(contentType string) bool { return strings.EqualFold(contentType, contentPlain) }

// rendered is a template filled in with a payload.
type rendered struct {
	subject, html, text string
	headers             []types.MessageHeader
}

func (ct *compiledTemplate) render(p Payload) (r rendered, err error) {
	if r.subject, err = ct.subject.render(p, false); err != nil {
		return r, err
	}
	if c, bad := badSubjectRune(r.subject); bad {
		return r, fmt.Errorf("%w: the rendered subject holds %q: no CR, LF or other control character, line separator or invalid UTF-8; check the payload values it uses", ErrInvalidParameters, c)
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
			if why := badHeaderValue(v); why != "" {
				return r, fmt.Errorf("%w: the rendered header %s %s; check the payload values it uses", ErrInvalidParameters, h.name, why)
			}
			name := h.name // a copy: the request must not point into the shared template
			r.headers[i] = types.MessageHeader{Name: &name, Value: &v}
		}
	}
	return r, nil
}

// templateSet holds the config's templates by usage type and normalized locale.
type templateSet map[templateKey]*compiledTemplate

// newTemplateSet compiles templates that passed validation.
func newTemplateSet(ts []Template) templateSet {
	set := make(templateSet, len(ts))
	for i := range ts {
		ct, _ := compileTemplate(&ts[i])
		ct.name, ct.locale = fmt.Sprintf("templates[%d]", i), normalizeLocale(ts[i].Locale)
		set[templateKey{ts[i].UsageType, ct.locale}] = ct
	}
	return set
}

// find returns the first template of the chain for usage and a normalized locale.
func (s templateSet) find(usage UsageType, locale string) *compiledTemplate {
	for _, k := range chain(usage, locale) {
		if t := s[k]; t != nil {
			return t
		}
	}
	return nil
}

// chain is the order in which templates are tried for usage and a normalized locale: the usage
// type and then Generic, each with the exact locale, its language ("pt" for "pt-br"), and no
// locale. An array, so that choosing a template allocates nothing.
func chain(usage UsageType, locale string) [6]templateKey {
	lang, _, _ := strings.Cut(locale, "-")
	return [6]templateKey{
		{usage, locale}, {usage, lang}, {usage, ""},
		{UsageGeneric, locale}, {UsageGeneric, lang}, {UsageGeneric, ""},
	}
}

// TemplateFor returns the index in c.Templates of the template a Connector built from c uses
// for usage and locale (as payload["locale"] gives it), following the chain: the usage type's
// template for the locale, for its language, without locale, then the same for Generic. It
// returns -1 when none fits (never for a valid config). Templates from WithTemplateLookup come
// before these and are not seen here. Previews use it to show which template, and which
// fallback, a message takes.
func (c *Config) TemplateFor(usage UsageType, locale string) int {
	for _, k := range chain(usage, normalizeLocale(locale)) {
		for i, t := range c.Templates {
			if t.UsageType == k.usage && normalizeLocale(t.Locale) == k.locale {
				return i
			}
		}
	}
	return -1
}

// lookupTemplate validates and compiles a template from WithTemplateLookup. One without a
// usage type is for the usage asked for (Logto's database templates have none).
func lookupTemplate(t *Template, usage UsageType, locale string) (*compiledTemplate, error) {
	where := fmt.Sprintf("template from WithTemplateLookup for %s, locale %q", usage, locale)
	switch t.UsageType {
	case "":
		tc := *t
		tc.UsageType = usage
		t = &tc
	case usage:
	default:
		return nil, fmt.Errorf("%w: %s has usageType %q; return a template of the usage type asked for, or none", ErrInvalidParameters, where, t.UsageType)
	}
	ps := structProblems(t)
	validateTemplateExtras("", t, &ps)
	for i := range ps {
		ps[i].Path = strings.TrimPrefix(ps[i].Path, ".")
	}
	if err := ps.err(); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	ct, _ := compileTemplate(t)
	ct.name = "lookup"
	return ct, nil
}

// maxLocale is the longest language tag a payload may ask for; RFC 5646 advises 35.
const maxLocale = 35

// payloadLocale is the normalized form of a payload's locale when it is a well-formed language
// tag (BCP 47 syntax: subtags of 1 to 8 ASCII letters and digits, the first 2 to 8 letters, at
// most 35 characters), and "" otherwise: "../../etc/passwd", CR/LF or a page of text reaches
// neither a TemplateLookup nor a log as a locale.
func payloadLocale(s string) string {
	if s == "" || len(s) > maxLocale {
		return ""
	}
	for i, sub := range strings.FieldsFunc(s, func(r rune) bool { return r == '-' || r == '_' }) {
		if len(sub) > 8 || i == 0 && len(sub) < 2 {
			return ""
		}
		for j := 0; j < len(sub); j++ {
			c := sub[j] | 0x20 // ASCII lower case
			if !('a' <= c && c <= 'z' || i > 0 && '0' <= sub[j] && sub[j] <= '9') {
				return ""
			}
		}
	}
	if strings.Contains(s, "--") || strings.Contains(s, "__") || strings.ContainsAny(s[:1]+s[len(s)-1:], "-_") {
		return ""
	}
	return normalizeLocale(s)
}
