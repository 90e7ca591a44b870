package sesconnector

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
	"strings"
	"unicode/utf8"
)

// This file turns config JSON into a Config, reporting every problem by its JSON path: syntax,
// encoding, duplicate keys, unknown fields and values of the wrong type. Validate checks the
// rest.

// maxJSONDepth bounds nesting; a config is four levels deep.
const maxJSONDepth = 32

var utf8BOM = []byte("\xef\xbb\xbf")

// decodeConfig decodes data into a Config and the problems found on the way. The Config is nil
// when the document is not a JSON object at all.
func decodeConfig(data []byte) (*Config, problems) {
	data = bytes.TrimPrefix(data, utf8BOM) // editors on Windows write one; JSON.parse skips it too
	if !utf8.Valid(data) {
		line, col := position(data, invalidUTF8At(data))
		return nil, problems{{Message: fmt.Sprintf("not valid UTF-8 at line %d, column %d: save the file as UTF-8", line, col)}}
	}
	r := treeReader{dec: json.NewDecoder(bytes.NewReader(data))}
	r.dec.UseNumber()
	doc, err := r.value("", 0)
	if err == nil {
		if rest := bytes.TrimLeft(data[r.dec.InputOffset():], " \t\r\n"); len(rest) > 0 {
			line, col := position(data, len(data)-len(rest))
			return nil, problems{{Message: fmt.Sprintf("not valid JSON at line %d, column %d: more data after the config object", line, col)}}
		}
	}
	if err != nil {
		return nil, problems{{Message: jsonProblem(data, err)}}
	}
	d := jsonDecoder{bad: map[string]bool{}}
	for _, dup := range r.dups {
		values := ""
		if len(dup.values) > 0 {
			values = " (" + strings.Join(dup.values, ", then ") + ")"
		}
		d.ps.add(dup.path, dupProblem+values+"; keep one (a JSON parser would silently keep the last, whose checks follow)")
	}
	cfg := d.config(doc)
	d.ps = append(d.ps, earlierProblems(doc, r.dups)...)
	return cfg, d.ps
}

// earlierProblems checks the dropped value of each duplicate top-level key as if it were the
// one kept, so that fixing the duplicate does not reveal a problem the first run hid.
func earlierProblems(doc any, dups []duplicate) problems {
	top, ok := doc.(map[string]any)
	if !ok {
		return nil
	}
	var ps problems
	for _, dup := range dups {
		if strings.ContainsAny(dup.path, ".[") {
			continue // nested: its template is checked as kept
		}
		alt := maps.Clone(top)
		alt[dup.path] = dup.earlier
		d := jsonDecoder{bad: map[string]bool{}}
		cfg := d.config(alt)
		if cfg == nil || d.bad[dup.path] {
			continue
		}
		var verr *ConfigError
		if errors.As(cfg.Validate(), &verr) {
			for _, p := range verr.Problems {
				if p.Path == dup.path {
					ps.add(p.Path, "(the earlier of the two) "+p.Message)
				}
			}
		}
	}
	return ps
}

// jsonDecoder turns a decoded JSON document into a Config, recording as problems every unknown
// field and every value of the wrong type, and the paths of those values in bad.
type jsonDecoder struct {
	ps  problems
	bad map[string]bool
}

var (
	configFields   = jsonFields(reflect.TypeFor[Config]())
	templateFields = jsonFields(reflect.TypeFor[Template]())
)

func jsonFields(t reflect.Type) []string {
	names := make([]string, t.NumField())
	for i := range names {
		names[i] = strings.Split(t.Field(i).Tag.Get("json"), ",")[0]
	}
	return names
}

func (d *jsonDecoder) config(doc any) *Config {
	m, ok := d.object("", doc)
	if !ok {
		return nil
	}
	d.unknown("", m, configFields)
	c := &Config{
		AccessKeyID:                    d.str("accessKeyId", m["accessKeyId"]),
		AccessKeySecret:                Secret(d.str("accessKeySecret", m["accessKeySecret"])),
		Region:                         d.str("region", m["region"]),
		EmailAddress:                   d.str("emailAddress", m["emailAddress"]),
		EmailAddressIdentityArn:        d.str("emailAddressIdentityArn", m["emailAddressIdentityArn"]),
		FeedbackForwardingEmailAddress: d.str("feedbackForwardingEmailAddress", m["feedbackForwardingEmailAddress"]),
		FeedbackForwardingEmailAddressIdentityArn: d.str("feedbackForwardingEmailAddressIdentityArn", m["feedbackForwardingEmailAddressIdentityArn"]),
		ConfigurationSetName:                      d.str("configurationSetName", m["configurationSetName"]),
		FailoverRegions:                           d.strs("failoverRegions", m["failoverRegions"]),
		EndpointID:                                d.str("endpointId", m["endpointId"]),
		TenantName:                                d.str("tenantName", m["tenantName"]),
	}
	switch ts := m["templates"].(type) {
	case nil: // Validate reports it missing
	case []any:
		c.Templates = make([]Template, len(ts))
		for i, t := range ts {
			d.template(fmt.Sprintf("templates[%d]", i), t, &c.Templates[i])
		}
	default:
		d.typeError("templates", "an array of templates", ts)
	}
	return c
}

func (d *jsonDecoder) template(path string, v any, t *Template) {
	m, ok := d.object(path, v)
	if !ok {
		return
	}
	d.unknown(path+".", m, templateFields)
	t.UsageType = UsageType(d.str(path+".usageType", m["usageType"]))
	t.Subject = d.str(path+".subject", m["subject"])
	t.Content = d.str(path+".content", m["content"])
	t.ContentType = d.str(path+".contentType", m["contentType"])
	t.Text = d.str(path+".text", m["text"])
	t.Locale = d.str(path+".locale", m["locale"])
	t.ReplyTo = d.str(path+".replyTo", m["replyTo"])
	switch hs := m["headers"].(type) {
	case nil:
	case map[string]any:
		t.Headers = make(map[string]string, len(hs))
		for _, name := range sortedKeys(hs) {
			t.Headers[name] = d.str(childPath(path+".headers", name), hs[name])
		}
	default:
		d.typeError(path+".headers", "an object of header names and values", hs)
	}
}

// reported says whether path, or a value that holds it, had the wrong type.
func (d *jsonDecoder) reported(path string) bool {
	for p := range d.bad {
		if path == p || strings.HasPrefix(path, p+".") || strings.HasPrefix(path, p+"[") {
			return true
		}
	}
	return false
}

func (d *jsonDecoder) object(path string, v any) (map[string]any, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		want := "a JSON object"
		if path != "" {
			want = "a template object"
		}
		d.typeError(path, want, v)
	}
	return m, ok
}

// str returns v as a string; null counts as absent.
func (d *jsonDecoder) str(path string, v any) string {
	s, ok := v.(string)
	if !ok && v != nil {
		d.typeError(path, "a string", v)
	}
	return s
}

// strs reads an array of strings; null is absent.
func (d *jsonDecoder) strs(path string, v any) []string {
	if v == nil {
		return nil
	}
	list, ok := v.([]any)
	if !ok {
		d.typeError(path, "an array of strings", v)
		return nil
	}
	out := make([]string, len(list))
	for i, e := range list {
		out[i] = d.str(fmt.Sprintf("%s[%d]", path, i), e)
	}
	return out
}

func (d *jsonDecoder) typeError(path, want string, got any) {
	d.bad[path] = true
	msg := fmt.Sprintf("must be %s, not %s", want, jsonKind(got))
	if path == "" {
		msg = "the config " + msg
	}
	d.ps.add(path, msg)
}

func (d *jsonDecoder) unknown(prefix string, m map[string]any, known []string) {
	for _, name := range sortedKeys(m) {
		if slices.Contains(known, name) {
			continue
		}
		msg := "unknown field"
		if s := suggest(name, known); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		}
		d.ps.add(prefix+cut(name, maxQuoted), msg)
	}
}

// suggest returns the known name closest to a misspelt one, if it is close.
func suggest(name string, known []string) string {
	best, bestDist := "", 3
	for _, k := range known {
		if strings.EqualFold(k, name) {
			return k
		}
		if dist := editDistance(strings.ToLower(name), strings.ToLower(k)); dist < bestDist {
			best, bestDist = k, dist
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	default:
		return "an object"
	}
}

// badByte is the index of the byte a syntax error is about. encoding/json's Offset is past it
// for some errors and at it for others; the error names the character it found.
func badByte(data []byte, syn *json.SyntaxError) int {
	off := min(int(syn.Offset), len(data))
	var c byte
	if _, err := fmt.Sscanf(syn.Error(), "invalid character '%c'", &c); err == nil && off > 0 && data[off-1] == c {
		return off - 1
	}
	return off
}

// jsonProblem words a JSON syntax error with its line and column.
func jsonProblem(data []byte, err error) string {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		line, col := position(data, badByte(data, syn))
		return fmt.Sprintf("not valid JSON at line %d, column %d: %s", line, col, syn.Error())
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		if len(bytes.TrimSpace(data)) == 0 {
			return "not valid JSON: the input is empty"
		}
		line, col := position(data, len(data))
		return fmt.Sprintf("not valid JSON: unexpected end of JSON at line %d, column %d: the document is cut short", line, col)
	}
	return "not valid JSON: " + strings.TrimPrefix(err.Error(), "json: ")
}
