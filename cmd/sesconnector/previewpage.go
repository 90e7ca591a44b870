package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	ses "github.com/sesconnector/sesconnector"
)

// This file builds the preview page's content: every usage type × every locale of the config
// (and no locale), each rendered exactly as the Connector would send it.

// sample is the editable payload of the page.
type sample struct{ Code, Link, Organization, Extra string }

var defaultSample = sample{Code: "123456", Link: "https://example.com/verify?token=preview", Organization: "Acme"}

// sampleFrom reads the page's form, keeping the defaults for what it does not set.
func sampleFrom(q url.Values) sample {
	s := defaultSample
	for field, v := range map[*string]string{&s.Code: "code", &s.Link: "link", &s.Organization: "organization", &s.Extra: "extra"} {
		if q.Has(v) {
			*field = q.Get(v)
		}
	}
	return s
}

// payload is the sample as a Payload; extra JSON that is not an object is a page warning.
func (s sample) payload(base ses.Payload) (ses.Payload, error) {
	p := ses.Payload{}
	for k, v := range base {
		p[k] = v
	}
	p["code"], p["link"], p["organization"] = s.Code, s.Link, map[string]any{"name": s.Organization}
	if strings.TrimSpace(s.Extra) == "" {
		return p, nil
	}
	var extra map[string]any
	if err := json.Unmarshal([]byte(s.Extra), &extra); err != nil || extra == nil {
		return p, fmt.Errorf("more payload is not a JSON object such as {\"name\": \"Ana\"}: left out")
	}
	for k, v := range extra {
		p[k] = v
	}
	return p, nil
}

type page struct {
	ConfigPath, ConfigName, LoadedAt string
	Sample                           sample
	PageWarnings                     []string
	Problems                         []string
	Rows                             []row
}

type row struct {
	Usage string
	Cells []cell
}

type cell struct {
	Usage, Locale       string // Locale "default": no locale
	Template, Fallback  string
	Subject, HTML, Text string
	Headers             [][2]string
	Size                int
	Error               string
	Warnings            []string
}

// usageTypes are Logto's, in its order.
var usageTypes = []ses.UsageType{
	ses.UsageSignIn, ses.UsageRegister, ses.UsageForgotPassword, ses.UsageOrganizationInvitation, ses.UsageGeneric,
	ses.UsageUserPermissionValidation, ses.UsageBindNewIdentifier, ses.UsageMfaVerification, ses.UsageBindMfa,
}

const defaultLocale = "default"

// buildRows renders every usage type in every locale of cfg.
func buildRows(ctx context.Context, cfg *ses.Config, base ses.Payload) ([]row, error) {
	conn, err := ses.New(ctx, cfg, ses.WithClient(noSend{}))
	if err != nil {
		return nil, err
	}
	locales := []string{defaultLocale}
	for _, t := range cfg.Templates {
		if t.Locale != "" && !slices.Contains(locales, t.Locale) {
			locales = append(locales, t.Locale)
		}
	}
	rows := make([]row, 0, len(usageTypes))
	for _, u := range usageTypes {
		r := row{Usage: string(u)}
		for _, l := range locales {
			r.Cells = append(r.Cells, renderCell(ctx, conn, cfg, u, l, base))
		}
		rows = append(rows, r)
	}
	return rows, nil
}

func renderCell(ctx context.Context, conn *ses.Connector, cfg *ses.Config, usage ses.UsageType, locale string, base ses.Payload) cell {
	c := cell{Usage: string(usage), Locale: locale}
	asked := locale
	if locale == defaultLocale {
		asked = ""
	}
	if i := cfg.TemplateFor(usage, asked); i >= 0 {
		t := cfg.Templates[i]
		c.Template = fmt.Sprintf("templates[%d] · %s · %s", i, t.UsageType, orDefault(t.Locale))
		c.Fallback = fallback(usage, asked, t)
	}
	p := ses.Payload{}
	for k, v := range base {
		p[k] = v
	}
	if asked != "" {
		p["locale"] = asked
	}
	in, err := conn.Compose(ctx, "preview@example.com", usage, p)
	if err != nil {
		c.Error = err.Error()
		return c
	}
	msg := in.Content.Simple
	c.Subject = *msg.Subject.Data
	if msg.Body.Html != nil {
		c.HTML = *msg.Body.Html.Data
	}
	if msg.Body.Text != nil {
		c.Text = *msg.Body.Text.Data
	}
	for _, h := range msg.Headers {
		c.Headers = append(c.Headers, [2]string{*h.Name, *h.Value})
	}
	c.Size = len(c.Subject) + len(c.HTML) + len(c.Text)
	c.Warnings = warnings(c)
	return c
}

func orDefault(locale string) string {
	if locale == "" {
		return "no locale"
	}
	return locale
}

// fallback says which step of the chain the template came from, or "" for an exact fit.
func fallback(usage ses.UsageType, locale string, t ses.Template) string {
	var steps []string
	if t.UsageType != usage {
		steps = append(steps, fmt.Sprintf("no %s template: Generic", usage))
	}
	switch {
	case locale == "" || strings.EqualFold(t.Locale, locale):
	case t.Locale == "":
		steps = append(steps, fmt.Sprintf("none for %s: the one without locale", locale))
	default:
		steps = append(steps, fmt.Sprintf("none for %s: its language, %s", locale, t.Locale))
	}
	if len(steps) == 0 {
		return ""
	}
	return "fallback: " + strings.Join(steps, "; ")
}

// gmailClip is the size past which Gmail cuts a message and shows "[Message clipped]".
const gmailClip = 102 * 1024

var (
	imgTag   = regexp.MustCompile(`(?is)<img\b[^>]*>`)
	altAttr  = regexp.MustCompile(`(?i)\balt\s*=`)
	httpLink = regexp.MustCompile(`(?i)\b(?:href|src)\s*=\s*["']?\s*http://`)
)

// warnings are what an email author should fix before users see the message.
func warnings(c cell) []string {
	var w []string
	if c.Text == "" {
		w = append(w, "no plain-text part: add \"text\" beside the HTML content, for clients and filters that read text")
	}
	if len(c.HTML) > gmailClip {
		w = append(w, fmt.Sprintf("HTML is %d bytes: Gmail clips messages over 102 KB, hiding what follows", len(c.HTML)))
	}
	if n := countMissingAlt(c.HTML); n > 0 {
		w = append(w, fmt.Sprintf("%d image(s) without alt text: screen readers and clients that block images show nothing", n))
	}
	if httpLink.MatchString(c.HTML) {
		w = append(w, "an http: link or image: use https, or clients warn and tracking-free delivery is not assured")
	}
	return w
}

func countMissingAlt(html string) int {
	n := 0
	for _, tag := range imgTag.FindAllString(html, -1) {
		if !altAttr.MatchString(tag) {
			n++
		}
	}
	return n
}

// noSend is the preview's SES client: Compose never calls it.
type noSend struct{}

func (noSend) SendEmail(context.Context, *sesv2.SendEmailInput, ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error) {
	return nil, errors.New("the preview sends nothing")
}
