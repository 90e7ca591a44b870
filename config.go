package sesconnector

import (
	"errors"
	"fmt"
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
	// Subject is the subject line; it must not contain CR, LF or any other control character,
	// before or after rendering.
	Subject string `json:"subject" validate:"required,nocontrol"`
	// Content is the body: HTML unless ContentType is "text/plain".
	Content string `json:"content" validate:"required"`
	// ContentType is "" or "text/html" (Content is HTML), or "text/plain"; letter case does
	// not matter.
	ContentType string `json:"contentType,omitempty" validate:"omitempty,contenttype"`
	// Text is an optional plain-text alternative sent beside HTML Content.
	Text string `json:"text,omitempty"`
	// Locale is a BCP 47 tag such as "pt-BR"; empty means any locale.
	Locale string `json:"locale,omitempty" validate:"omitempty,bcp47_language_tag"`
	// ReplyTo is an optional Reply-To address.
	ReplyTo string `json:"replyTo,omitempty" validate:"omitempty,mailbox"`
	// Headers are extra message headers (SES Message.Headers), e.g. X-Entity-Ref-ID: at most
	// 15, names unique in any letter case, values of 1 to 870 printable ASCII characters
	// before and after rendering.
	Headers map[string]string `json:"headers,omitempty"`
}

// Config is the connector's configuration, field for field the JSON of Logto's AWS SES connector
// plus the optional template fields. Build one with ParseConfig or LoadConfig, or fill it in and
// call Validate. Config never shows its secret: fmt, slog and encoding/json print
// "[REDACTED]" in its place (see Secret), so a Config marshalled to JSON does not load back
// with its secret.
type Config struct {
	// AccessKeyID and AccessKeySecret are static AWS credentials. Leave both empty to use the
	// default AWS credential chain (environment, shared config, web identity, container or
	// instance role).
	AccessKeyID     string `json:"accessKeyId"`
	AccessKeySecret Secret `json:"accessKeySecret"`
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

	// Beyond Logto (see "Many replicas, many regions" in the README); a Logto config without
	// them loads unchanged.

	// FailoverRegions are tried in order when a send fails in Region for a regional reason
	// (a connection error, an attempt's timeout, HTTP 5xx, throttling). The From identity must
	// be verified in each.
	FailoverRegions []string `json:"failoverRegions,omitempty"`
	// EndpointID is an SES global (multi-region) endpoint's ID: every send carries it, and the
	// SDK signs with SigV4a. Not together with FailoverRegions.
	EndpointID string `json:"endpointId,omitempty"`
	// TenantName is the SES tenant every send (and suppression look-up) is made for.
	TenantName string `json:"tenantName,omitempty"`
}

// ParseConfig decodes a JSON config and validates it. Unknown fields, duplicate keys and wrong
// types are problems like any other: the error lists every problem found, each by its JSON
// path, and matches ErrInvalidConfig. A UTF-8 byte-order mark is skipped; a null value counts
// as absent, as in Logto.
func ParseConfig(data []byte) (*Config, error) {
	cfg, ps := decodeConfig(data)
	// Validate what could be decoded as well, so that one run reports everything, but say
	// nothing more about a field whose type was already wrong.
	if cfg != nil {
		var verr *ConfigError
		if errors.As(cfg.Validate(), &verr) {
			bad := jsonDecoder{bad: map[string]bool{}}
			for _, p := range ps {
				if !strings.HasPrefix(p.Message, dupProblem) { // a duplicate's kept value is checked
					bad.bad[p.Path] = true
				}
			}
			for _, p := range verr.Problems {
				if !bad.reported(p.Path) {
					ps = append(ps, p)
				}
			}
		}
	}
	if err := ps.err(); err != nil {
		return nil, err
	}
	return cfg, nil
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
	if c.AccessKeySecret == redacted {
		ps.add("accessKeySecret", "is the placeholder a marshalled Config shows in place of the secret; put the real secret here")
	}
	ps = append(ps, structProblems(c)...)
	validateTemplateSet(c.Templates, &ps)
	validateRegions(c, &ps)
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
			ps.add(path, fmt.Sprintf("duplicates templates[%d]: both are usageType %s with locale %s; keep one", j, quote(string(t.UsageType)), quote(t.Locale)))
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
	if t.Text != "" && isPlainText(t.ContentType) {
		ps.add(path+".text", `only allowed beside HTML content: with contentType "text/plain", content is the plain-text body`)
	}
	_, tps := compileTemplate(t)
	for _, p := range tps {
		ps.add(path+"."+p.Path, p.Message)
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
	seen := map[string]string{}
	for _, name := range sortedKeys(hs) {
		hpath := fmt.Sprintf("%s[%s]", path, quote(name))
		switch {
		case !validHeaderName(name):
			ps.add(hpath, "not a header field name: 1 to 126 printable ASCII characters, no spaces or colons")
		case reservedHeader(name):
			ps.add(hpath, "set by SES or this library; remove it (From, To, Cc, Bcc, Subject, Reply-To, Return-Path, Date, Message-ID, MIME-Version and Content-* are reserved)")
		case seen[strings.ToLower(name)] != "":
			ps.add(hpath, fmt.Sprintf("the same header as %s: header names are compared in any letter case; keep one", quote(seen[strings.ToLower(name)])))
		}
		seen[strings.ToLower(name)] = name
		if why := headerLiteralProblem(hs[name]); why != "" {
			ps.add(hpath, "value "+why)
		}
	}
}

// headerLiteralProblem checks a header value as written: its text outside placeholders must
// already keep SES's rule, since no payload can mend it.
func headerLiteralProblem(v string) string {
	if hasCRLF(v) {
		return "must not contain CR or LF"
	}
	t, err := parseText("", v)
	if err != nil {
		return "" // compileTemplate reports it
	}
	var literal strings.Builder
	placeholders := false
	for _, s := range t.segs {
		literal.WriteString(s.literal)
		placeholders = placeholders || s.raw != ""
	}
	if literal.Len() == 0 && placeholders {
		return "" // only placeholders: checked once rendered
	}
	return badHeaderValue(literal.String())
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

// String returns c as fmt's %+v prints a struct, with the secret redacted.
func (c Config) String() string {
	type plain Config // without methods, so that fmt prints the fields
	return fmt.Sprintf("%+v", plain(c))
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
		"nocontrol": str(func(s string) bool { _, bad := badSubjectRune(s); return !bad }),
		"contenttype": str(func(s string) bool {
			return strings.EqualFold(s, contentHTML) || strings.EqualFold(s, contentPlain)
		}),
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

// fieldMessage says what is wrong with one field and how to fix it. Values are quoted as %q
// does, so that CR, LF and other control characters show, and cut to 100 bytes; no tag here
// applies to the secret.
func fieldMessage(fe validator.FieldError) string {
	v := fmt.Sprint(fe.Value())
	switch fe.Tag() {
	case "required":
		return "required" + requiredHints[fe.Field()]
	case "min":
		return "at least one template is required, and one of them must be Generic"
	case "awsregion":
		return fmt.Sprintf("%s is not an AWS region name such as \"us-east-1\"", quote(v))
	case "mailbox":
		_, err := parseMailbox(v)
		return fmt.Sprintf("%s is not one email address (%v); use \"Name <addr>\", \"<addr>\" or \"addr\"", quote(v), err)
	case "sesarn":
		return fmt.Sprintf("%s is not an SES ARN; use arn:<partition>:ses:<region>:<account-id>:identity/<email or domain>", quote(v))
	case "sesname":
		return fmt.Sprintf("%s is not a configuration set name: at most 64 letters, digits, \"_\" and \"-\"", quote(v))
	case "nocontrol":
		return "must not contain CR or LF, nor any other control character or line separator"
	case "usagetype":
		return fmt.Sprintf("%s is not a usage type; use one of %s", quote(v), usageList())
	case "contenttype":
		return fmt.Sprintf("%s is not a content type; use \"text/html\" (the default) or \"text/plain\"", quote(v))
	case "bcp47_language_tag":
		return fmt.Sprintf("%s is not a BCP 47 language tag such as \"en\" or \"pt-BR\"", quote(v))
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
