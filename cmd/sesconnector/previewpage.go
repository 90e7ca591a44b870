package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
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
	Version                          int64 // of the config read: the live reload compares it
	Sample                           sample
	Width                            string // "desktop" or "phone"
	Usage, Locale                    string // the filters; "" for all
	Usages, Locales                  []string
	AllowSend                        bool
	Token                            string // the per-run token a send must carry
	PageWarnings                     []string
	Problems                         []string
	Cards                            []*card
}

// card is one rendered message, shown once for every usage type and locale it serves.
type card struct {
	Keys                string   // "SignIn/default Register/pt-BR": the usage types and locales, for selectors
	UsedBy              []usedBy // the usage types and locales that get this message
	Usage, Locale       string   // the first of UsedBy: the .eml and the send render it
	Template            string
	From, To, ReplyTo   string
	Subject, HTML, Text string
	Headers             [][2]string
	Size                int
	Error               string
	Warnings            []string
	EMLQuery            template.URL // the query of its .eml download, encoded by url.Values
}

// usedBy is one usage type and locale, with the fallback that led to the card's template.
type usedBy struct{ Usage, Locale, Fallback string }

// usageTypes are Logto's, in its order.
var usageTypes = []ses.UsageType{
	ses.UsageSignIn, ses.UsageRegister, ses.UsageForgotPassword, ses.UsageOrganizationInvitation, ses.UsageGeneric,
	ses.UsageUserPermissionValidation, ses.UsageBindNewIdentifier, ses.UsageMfaVerification, ses.UsageBindMfa,
}

const (
	defaultLocale = "default"
	sampleTo      = "preview@example.com" // the To of every card: the preview sends nothing
)

// locales are "default" (no locale) and every locale of cfg's templates.
func locales(cfg *ses.Config) []string {
	out := []string{defaultLocale}
	for _, t := range cfg.Templates {
		if t.Locale != "" && !slices.Contains(out, t.Locale) {
			out = append(out, t.Locale)
		}
	}
	return out
}

// buildCards renders every usage type in every locale of cfg (those the filters keep), and
// collapses those that render the same message into one card.
func buildCards(ctx context.Context, cfg *ses.Config, base ses.Payload, sampleQuery url.Values, usage, locale string) ([]*card, error) {
	conn, err := ses.New(ctx, cfg, ses.WithClient(noSend{}))
	if err != nil {
		return nil, err
	}
	var cards []*card
	byKey := map[string]*card{}
	for _, u := range usageTypes {
		if usage != "" && string(u) != usage {
			continue
		}
		for _, l := range locales(cfg) {
			if locale != "" && l != locale {
				continue
			}
			c, tmpl, fb := renderCard(ctx, conn, cfg, u, l, base)
			key := strings.Join([]string{strconv.Itoa(tmpl), c.Subject, c.HTML, c.Text, c.Error, c.ReplyTo}, "\x00")
			if first := byKey[key]; first != nil {
				first.UsedBy = append(first.UsedBy, usedBy{string(u), l, fb})
				first.Keys += " " + string(u) + "/" + l
				continue
			}
			c.UsedBy = []usedBy{{string(u), l, fb}}
			c.Keys = string(u) + "/" + l
			q := cloneValues(sampleQuery)
			q.Set("usage", string(u))
			q.Set("locale", l)
			c.EMLQuery = template.URL(q.Encode())
			byKey[key] = c
			cards = append(cards, c)
		}
	}
	return cards, nil
}

// renderCard renders one usage type and locale as the Connector would send it; it says which
// template it took (-1 for none) and the fallback that led there.
func renderCard(ctx context.Context, conn *ses.Connector, cfg *ses.Config, usage ses.UsageType, locale string, base ses.Payload) (*card, int, string) {
	c := &card{Usage: string(usage), Locale: locale}
	asked := locale
	if locale == defaultLocale {
		asked = ""
	}
	i, fb := cfg.TemplateFor(usage, asked), ""
	if i >= 0 {
		t := cfg.Templates[i]
		c.Template = fmt.Sprintf("templates[%d] · %s · %s", i, t.UsageType, orDefault(t.Locale))
		fb = fallback(usage, asked, t)
	}
	in, err := compose(ctx, conn, usage, asked, base)
	if err != nil {
		c.Error = err.Error()
		return c, i, fb
	}
	msg := in.Content.Simple
	c.From, c.To = aws.ToString(in.FromEmailAddress), in.Destination.ToAddresses[0]
	c.ReplyTo = strings.Join(in.ReplyToAddresses, ", ")
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
	return c, i, fb
}

// compose renders usage and locale ("" for none) with the sample payload, to the sample
// recipient.
func compose(ctx context.Context, conn *ses.Connector, usage ses.UsageType, locale string, base ses.Payload) (*sesv2.SendEmailInput, error) {
	p := ses.Payload{}
	for k, v := range base {
		p[k] = v
	}
	if locale != "" {
		p["locale"] = locale
	}
	return conn.Compose(ctx, sampleTo, usage, p)
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
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

// gmailClip is the size past which Gmail cuts a message and shows "[Message clipped]"; a
// subject over subjectFold characters is folded, and cut by many clients.
const (
	gmailClip   = 100 * 1024
	subjectFold = 78
)

var (
	imgTag      = regexp.MustCompile(`(?is)<img\b[^>]*>`)
	altAttr     = regexp.MustCompile(`(?i)\balt\s*=`)
	httpLink    = regexp.MustCompile(`(?i)\bhref\s*=\s*["']?\s*http://`)
	insecureImg = regexp.MustCompile(`(?is)<img\b[^>]*\bsrc\s*=\s*["']?\s*(?:http://|//)`)
	scriptTag   = regexp.MustCompile(`(?i)<script\b`)
	eventAttr   = regexp.MustCompile(`(?i)<[a-z][^>]*\son[a-z]+\s*=`)
	formTag     = regexp.MustCompile(`(?i)<(?:form|input|button|select|textarea)\b`)
	externalCSS = regexp.MustCompile(`(?i)<link\b[^>]*stylesheet|@import\b`)
)

// warnings are what mail clients would do to the message, and what an author should fix
// before users see it.
func warnings(c *card) []string {
	var w []string
	if c.Text == "" {
		w = append(w, "no plain-text part: add \"text\" beside the HTML content, for clients and filters that read text")
	}
	if n := len([]rune(c.Subject)); n > subjectFold {
		w = append(w, fmt.Sprintf("the subject is %d characters: clients cut it past about %d", n, subjectFold))
	}
	if c.Size > gmailClip {
		w = append(w, fmt.Sprintf("the message is %d bytes: Gmail clips messages over 100 KB, hiding what follows", c.Size))
	}
	for _, check := range []struct {
		re  *regexp.Regexp
		msg string
	}{
		{scriptTag, "a <script>: every mail client strips it"},
		{eventAttr, "an event handler (on...=): mail clients strip it"},
		{formTag, "a form or form field: most mail clients disable or strip it"},
		{externalCSS, "external CSS (<link rel=stylesheet> or @import): most clients ignore it; inline the styles"},
		{insecureImg, "an image without https: clients block it or warn"},
		{httpLink, "an http: link: use https"},
	} {
		if check.re.MatchString(c.HTML) {
			w = append(w, check.msg)
		}
	}
	if n := countMissingAlt(c.HTML); n > 0 {
		w = append(w, fmt.Sprintf("%d image(s) without alt text: screen readers and clients that block images show nothing", n))
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
