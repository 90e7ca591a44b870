// Package sesconnector sends verification emails (sign-in, sign-up, password reset and the other
// Logto usage types) through Amazon SES API v2. It loads the configuration of Logto's
// "AWS Direct Mail" connector unchanged, validates it completely, and renders its templates.
package sesconnector

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/mail"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/go-playground/validator/v10"
)

// UsageType says what a message is for; it chooses the template. The values are Logto's.
type UsageType string

// The usage types, spelt as Logto spells them.
const (
	UsageSignIn                   UsageType = "SignIn"
	UsageRegister                 UsageType = "Register"
	UsageForgotPassword           UsageType = "ForgotPassword"
	UsageOrganizationInvitation   UsageType = "OrganizationInvitation"
	UsageGeneric                  UsageType = "Generic"
	UsageUserPermissionValidation UsageType = "UserPermissionValidation"
	UsageBindNewIdentifier        UsageType = "BindNewIdentifier"
	UsageMfaVerification          UsageType = "MfaVerification"
	UsageBindMfa                  UsageType = "BindMfa"
)

// usageTypes lists every UsageType, in Logto's order.
var usageTypes = []UsageType{
	UsageSignIn, UsageRegister, UsageForgotPassword, UsageOrganizationInvitation, UsageGeneric,
	UsageUserPermissionValidation, UsageBindNewIdentifier, UsageMfaVerification, UsageBindMfa,
}

func (u UsageType) known() bool { return slices.Contains(usageTypes, u) }

// Content types of Template.ContentType.
const (
	contentHTML  = "text/html"
	contentPlain = "text/plain"
)

// Template is the message for one usage type and, optionally, one locale. Subject, Content, Text
// and header values may hold placeholders: {{code}}, {{ code }}, <<code>> or a dotted path into
// the payload such as {{organization.name}}.
type Template struct {
	// UsageType is the usage the template is for; Generic is the fallback of every usage.
	UsageType UsageType `json:"usageType" validate:"required,usagetype"`
	// Subject is the subject line; it must not contain CR or LF, before or after rendering.
	Subject string `json:"subject" validate:"required,nocrlf"`
	// Content is the body: HTML unless ContentType is "text/plain".
	Content string `json:"content" validate:"required"`
	// ContentType is "" or "text/html" (Content is HTML), or "text/plain".
	ContentType string `json:"contentType,omitempty" validate:"omitempty,oneof=text/html text/plain"`
	// Text is an optional plain-text alternative sent beside HTML Content.
	Text string `json:"text,omitempty"`
	// Locale is a BCP 47 tag such as "pt-BR"; empty means any locale.
	Locale string `json:"locale,omitempty" validate:"omitempty,bcp47_language_tag"`
	// ReplyTo is an optional Reply-To address.
	ReplyTo string `json:"replyTo,omitempty" validate:"omitempty,mailbox"`
	// Headers are extra message headers (SES Message.Headers), e.g. X-Entity-Ref-ID.
	Headers map[string]string `json:"headers,omitempty"`
}

// Config is the connector's configuration, field for field the JSON of Logto's AWS SES connector
// plus the optional template fields. Build one with ParseConfig or LoadConfig, or fill it in and
// call Validate. Config never prints its secret: fmt and slog show it redacted.
type Config struct {
	// AccessKeyID and AccessKeySecret are static AWS credentials. Leave both empty to use the
	// default AWS credential chain (environment, shared config, web identity, container or
	// instance role).
	AccessKeyID     string `json:"accessKeyId"`
	AccessKeySecret string `json:"accessKeySecret"`
	// Region is the AWS region of the SES identity, e.g. "eu-west-1".
	Region string `json:"region" validate:"required,awsregion"`
	// EmailAddress is the From address: "Name <addr>", "<addr>" or "addr".
	EmailAddress string `json:"emailAddress,omitempty" validate:"required,mailbox"`
	// EmailAddressIdentityArn is the ARN of the identity to send as (sending authorization).
	EmailAddressIdentityArn string `json:"emailAddressIdentityArn,omitempty" validate:"omitempty,sesarn"`
	// FeedbackForwardingEmailAddress receives bounces and complaints.
	FeedbackForwardingEmailAddress string `json:"feedbackForwardingEmailAddress,omitempty" validate:"omitempty,mailbox"`
	// FeedbackForwardingEmailAddressIdentityArn is the ARN of the feedback address's identity.
	FeedbackForwardingEmailAddressIdentityArn string `json:"feedbackForwardingEmailAddressIdentityArn,omitempty" validate:"omitempty,sesarn"`
	// ConfigurationSetName is the SES configuration set every send uses.
	ConfigurationSetName string `json:"configurationSetName,omitempty" validate:"omitempty,sesname"`
	// Templates holds the messages; one must be Generic without a locale.
	Templates []Template `json:"templates" validate:"required,min=1,dive"`
}

// ParseConfig decodes a JSON config and validates it. Unknown fields and wrong types are
// problems like any other: the error lists every problem found, each by its JSON path, and
// matches ErrInvalidConfig.
func ParseConfig(data []byte) (*Config, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, &ConfigError{Problems: []Problem{{Message: jsonProblem(data, err)}}}
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &ConfigError{Problems: []Problem{{Message: "not valid JSON: more data after the config object"}}}
	}
	d := jsonDecoder{bad: map[string]bool{}}
	cfg := d.config(doc)
	// Validate what could be decoded as well, so that one run reports everything, but say
	// nothing more about a field whose type was already wrong.
	if cfg != nil {
		var verr *ConfigError
		if errors.As(cfg.Validate(), &verr) {
			for _, p := range verr.Problems {
				if !d.reported(p.Path) {
					d.ps = append(d.ps, p)
				}
			}
		}
	}
	if err := d.ps.err(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// LoadConfig reads a JSON config file and parses it with ParseConfig.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return ParseConfig(data)
}

// Validate reports every problem of c in one error matching ErrInvalidConfig, or returns nil.
func (c *Config) Validate() error {
	if c == nil {
		return &ConfigError{Problems: []Problem{{Message: "config is nil"}}}
	}
	var ps problems
	if (c.AccessKeyID == "") != (c.AccessKeySecret == "") {
		missing := "accessKeySecret"
		if c.AccessKeyID == "" {
			missing = "accessKeyId"
		}
		ps.add(missing, "required when the other key is set: set both accessKeyId and accessKeySecret, or neither to use the default AWS credential chain")
	}
	ps = append(ps, structProblems(c)...)
	validateTemplateSet(c.Templates, &ps)
	return ps.err()
}

// validateTemplateSet checks what no single field shows: a plain-text part beside plain-text
// content, headers, duplicates, and the Generic fallback.
func validateTemplateSet(ts []Template, ps *problems) {
	seen := map[templateKey]int{}
	hasFallback := false
	for i, t := range ts {
		path := fmt.Sprintf("templates[%d]", i)
		validateTemplateExtras(path, &t, ps)
		if !t.UsageType.known() || t.Locale != "" && !validLocale(t.Locale) {
			continue // already reported; a duplicate check would only repeat it
		}
		key := templateKey{t.UsageType, normalizeLocale(t.Locale)}
		if j, ok := seen[key]; ok {
			ps.add(path, fmt.Sprintf("duplicates templates[%d]: both are usageType %q with locale %q; keep one", j, t.UsageType, t.Locale))
		} else {
			seen[key] = i
		}
		hasFallback = hasFallback || key == templateKey{UsageGeneric, ""}
	}
	if len(ts) > 0 && !hasFallback {
		ps.add("templates", `no Generic template without a locale: add one, it is the fallback of every usage type and locale`)
	}
}

// validateTemplateExtras checks the rules of one template that its field tags cannot say.
func validateTemplateExtras(path string, t *Template, ps *problems) {
	if t.Text != "" && t.ContentType == contentPlain {
		ps.add(path+".text", `only allowed beside HTML content: with contentType "text/plain", content is the plain-text body`)
	}
	validateHeaders(path+".headers", t.Headers, ps)
}

// maxHeaders, maxHeaderName and maxHeaderValue are SES's limits on Message.Headers.
const (
	maxHeaders     = 15
	maxHeaderName  = 126
	maxHeaderValue = 870
)

func validateHeaders(path string, hs map[string]string, ps *problems) {
	if len(hs) > maxHeaders {
		ps.add(path, fmt.Sprintf("%d headers; SES allows at most %d", len(hs), maxHeaders))
	}
	for _, name := range sortedKeys(hs) {
		hpath := fmt.Sprintf("%s[%q]", path, name)
		switch {
		case !validHeaderName(name):
			ps.add(hpath, "not a header field name: 1 to 126 printable ASCII characters, no spaces or colons")
		case reservedHeader(name):
			ps.add(hpath, "set by SES or this library; remove it (From, To, Cc, Bcc, Subject, Reply-To, Return-Path, Date, Message-ID, MIME-Version and Content-* are reserved)")
		}
		switch v := hs[name]; {
		case hasCRLF(v):
			ps.add(hpath, "value must not contain CR or LF")
		case len(v) > maxHeaderValue:
			ps.add(hpath, fmt.Sprintf("value is %d bytes; SES allows at most %d", len(v), maxHeaderValue))
		}
	}
}

func validHeaderName(name string) bool {
	if name == "" || len(name) > maxHeaderName {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 33 || c > 126 || c == ':' {
			return false
		}
	}
	return true
}

var reservedHeaders = []string{"from", "to", "cc", "bcc", "subject", "reply-to", "return-path", "date", "message-id", "mime-version"}

func reservedHeader(name string) bool {
	lower := strings.ToLower(name)
	return slices.Contains(reservedHeaders, lower) || strings.HasPrefix(lower, "content-")
}

func hasCRLF(s string) bool { return strings.ContainsAny(s, "\r\n") }

// regionPattern matches AWS region names: us-east-1, eu-central-2, us-gov-west-1, eusc-de-east-1.
var regionPattern = regexp.MustCompile(`^[a-z]{2,4}(-[a-z]+){1,3}-[0-9]{1,2}$`)

// arnPattern matches SES ARNs: arn:<partition>:ses:<region>:<account>:<resource>.
var arnPattern = regexp.MustCompile(`^arn:aws[a-z-]*:ses:[a-z]{2,4}(-[a-z]+){1,3}-[0-9]{1,2}:[0-9]{12}:[!-~]+$`)

// sesNamePattern is SES's rule for configuration set names (at most 64) and tags (at most 256).
var sesNamePattern = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

const maxConfigurationSetName = 64

func validSESName(s string, max int) bool { return len(s) <= max && sesNamePattern.MatchString(s) }

// Format prints c with its secret redacted, whatever the verb: %v, %+v, %s and %#v alike.
func (c Config) Format(f fmt.State, verb rune) {
	type redacted Config // no methods, so fmt prints its fields
	r := redacted(c)
	if r.AccessKeySecret != "" {
		r.AccessKeySecret = "[REDACTED]"
	}
	switch {
	case verb == 'v' && f.Flag('#'):
		io.WriteString(f, strings.Replace(fmt.Sprintf("%#v", r), "redacted", "Config", 1))
	case verb == 'v' && f.Flag('+'):
		fmt.Fprintf(f, "%+v", r)
	default:
		fmt.Fprintf(f, "%v", r)
	}
}

// String returns c with its secret redacted.
func (c Config) String() string { return fmt.Sprintf("%+v", c) }

// GoString returns c as Go syntax with its secret redacted.
func (c Config) GoString() string { return fmt.Sprintf("%#v", c) }

// LogValue gives slog the config without its secret, so a logged Config is safe.
func (c Config) LogValue() slog.Value {
	secret := ""
	if c.AccessKeySecret != "" {
		secret = "[REDACTED]"
	}
	usages := make([]string, len(c.Templates))
	for i, t := range c.Templates {
		usages[i] = string(t.UsageType)
		if t.Locale != "" {
			usages[i] += "/" + t.Locale
		}
	}
	return slog.GroupValue(
		slog.String("accessKeyId", c.AccessKeyID),
		slog.String("accessKeySecret", secret),
		slog.String("region", c.Region),
		slog.String("emailAddress", c.EmailAddress),
		slog.String("emailAddressIdentityArn", c.EmailAddressIdentityArn),
		slog.String("feedbackForwardingEmailAddress", c.FeedbackForwardingEmailAddress),
		slog.String("feedbackForwardingEmailAddressIdentityArn", c.FeedbackForwardingEmailAddressIdentityArn),
		slog.String("configurationSetName", c.ConfigurationSetName),
		slog.Any("templates", usages),
	)
}

// validate is the struct validator with this package's rules, built once: validator caches
// struct metadata per instance, and the rules never change.
var validate = sync.OnceValue(func() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		return strings.Split(f.Tag.Get("json"), ",")[0]
	})
	str := func(fn func(string) bool) validator.Func {
		return func(fl validator.FieldLevel) bool { return fn(fl.Field().String()) }
	}
	for tag, fn := range map[string]validator.Func{
		"awsregion": str(regionPattern.MatchString),
		"sesarn":    str(arnPattern.MatchString),
		"sesname":   str(func(s string) bool { return validSESName(s, maxConfigurationSetName) }),
		"mailbox":   str(func(s string) bool { _, err := parseMailbox(s); return err == nil }),
		"nocrlf":    str(func(s string) bool { return !hasCRLF(s) }),
		"usagetype": str(func(s string) bool { return UsageType(s).known() }),
	} {
		if err := v.RegisterValidation(tag, fn); err != nil {
			panic(err) // a programming error in the table above, caught by every test
		}
	}
	return v
})

// structProblems runs the field rules in the tags of a *Config or *Template and words each failure.
func structProblems(v any) problems {
	var verrs validator.ValidationErrors
	if !errors.As(validate().Struct(v), &verrs) {
		return nil
	}
	ps := make(problems, 0, len(verrs))
	for _, fe := range verrs {
		_, path, _ := strings.Cut(fe.Namespace(), ".") // drop the leading "Config."
		ps.add(path, fieldMessage(fe))
	}
	return ps
}

// fieldMessage says what is wrong with one field and how to fix it. Values are quoted with %q
// so that CR, LF and other control characters show; no tag here applies to the secret.
func fieldMessage(fe validator.FieldError) string {
	v := fmt.Sprint(fe.Value())
	switch fe.Tag() {
	case "required":
		return "required" + requiredHints[fe.Field()]
	case "min":
		return "at least one template is required, and one of them must be Generic"
	case "awsregion":
		return fmt.Sprintf("%q is not an AWS region name such as \"us-east-1\"", v)
	case "mailbox":
		_, err := parseMailbox(v)
		return fmt.Sprintf("%q is not one email address (%v); use \"Name <addr>\", \"<addr>\" or \"addr\"", v, err)
	case "sesarn":
		return fmt.Sprintf("%q is not an SES ARN; use arn:<partition>:ses:<region>:<account-id>:identity/<email or domain>", v)
	case "sesname":
		return fmt.Sprintf("%q is not a configuration set name: at most 64 letters, digits, \"_\" and \"-\"", v)
	case "nocrlf":
		return "must not contain CR or LF"
	case "usagetype":
		return fmt.Sprintf("%q is not a usage type; use one of %s", v, usageList())
	case "oneof":
		return fmt.Sprintf("%q is not a content type; use \"text/html\" (the default) or \"text/plain\"", v)
	case "bcp47_language_tag":
		return fmt.Sprintf("%q is not a BCP 47 language tag such as \"en\" or \"pt-BR\"", v)
	}
	return fmt.Sprintf("fails the %q rule", fe.Tag())
}

var requiredHints = map[string]string{
	"region":       `: the AWS region of your SES identity, such as "us-east-1"`,
	"emailAddress": `: the From address, as "Name <addr>", "<addr>" or "addr"; SES needs one`,
	"templates":    ": at least one template, one of them Generic",
	"usageType":    ": one of " + usageList(),
	"subject":      ": the subject line",
	"content":      ": the message body",
}

func usageList() string {
	names := make([]string, len(usageTypes))
	for i, u := range usageTypes {
		names[i] = string(u)
	}
	return strings.Join(names, ", ")
}

// parseMailbox parses one mailbox, "Name <addr>", "<addr>" or "addr", and checks what
// net/mail lets through but SES refuses: CR or LF, and a domain that is not a dotted name.
func parseMailbox(s string) (*mail.Address, error) {
	if hasCRLF(s) {
		return nil, errors.New("contains CR or LF")
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return nil, errors.New(strings.TrimPrefix(err.Error(), "mail: "))
	}
	if err := checkAddrSpec(a.Address); err != nil {
		return nil, err
	}
	return a, nil
}

// Limits of RFC 5321 on an address and its parts.
const (
	maxAddress = 254
	maxLocal   = 64
	maxDomain  = 253
)

// checkAddrSpec checks a bare address as parsed by net/mail.
func checkAddrSpec(addr string) error {
	at := strings.LastIndexByte(addr, '@')
	local, domain := addr[:max(at, 0)], addr[at+1:]
	switch {
	case !isASCII(addr):
		return errors.New("not ASCII: SES takes a 7-bit local part, and an internationalized domain in its punycode (xn--) form")
	case len(addr) > maxAddress:
		return fmt.Errorf("longer than %d characters", maxAddress)
	case at <= 0:
		return errors.New("no local part")
	case len(local) > maxLocal:
		return fmt.Errorf("local part longer than %d characters", maxLocal)
	case len(domain) > maxDomain:
		return fmt.Errorf("domain longer than %d characters", maxDomain)
	case !validDomain(domain):
		return fmt.Errorf("domain %q is not a dotted domain name", domain)
	}
	return nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// validDomain reports whether d is a dotted name of letters, digits and hyphens, as SES takes
// it (an internationalized domain in its punycode form).
func validDomain(d string) bool {
	if len(d) > maxDomain {
		return false
	}
	labels := 0
	for label := range strings.SplitSeq(d, ".") {
		labels++
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return labels >= 2
}

// formatMailbox is how an address goes on the wire: the bare address, or the display name
// (RFC 2047-encoded when it is not ASCII) and the address in angle brackets.
func formatMailbox(a *mail.Address) string {
	if a.Name == "" {
		return a.Address
	}
	return a.String()
}

func validLocale(s string) bool {
	return validate().Var(s, "bcp47_language_tag") == nil
}

// normalizeLocale makes locales comparable: "pt_br" and "PT-BR" are "pt-br".
func normalizeLocale(s string) string { return strings.ToLower(strings.ReplaceAll(s, "_", "-")) }

// templateKey identifies a template by usage type and normalized locale.
type templateKey struct {
	usage  UsageType
	locale string
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
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
		AccessKeySecret:                d.str("accessKeySecret", m["accessKeySecret"]),
		Region:                         d.str("region", m["region"]),
		EmailAddress:                   d.str("emailAddress", m["emailAddress"]),
		EmailAddressIdentityArn:        d.str("emailAddressIdentityArn", m["emailAddressIdentityArn"]),
		FeedbackForwardingEmailAddress: d.str("feedbackForwardingEmailAddress", m["feedbackForwardingEmailAddress"]),
		FeedbackForwardingEmailAddressIdentityArn: d.str("feedbackForwardingEmailAddressIdentityArn", m["feedbackForwardingEmailAddressIdentityArn"]),
		ConfigurationSetName:                      d.str("configurationSetName", m["configurationSetName"]),
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
			t.Headers[name] = d.str(fmt.Sprintf("%s.headers[%q]", path, name), hs[name])
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
		d.ps.add(prefix+name, msg)
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

// jsonProblem words a JSON syntax error with its line and column.
func jsonProblem(data []byte, err error) string {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		before := data[:min(int(syn.Offset), len(data))]
		line := bytes.Count(before, []byte("\n")) + 1
		col := len(before) - bytes.LastIndexByte(before, '\n') - 1
		return fmt.Sprintf("not valid JSON at line %d, column %d: %s", line, col, syn.Error())
	}
	if errors.Is(err, io.EOF) {
		return "not valid JSON: the input is empty"
	}
	return "not valid JSON: " + strings.TrimPrefix(err.Error(), "json: ")
}
