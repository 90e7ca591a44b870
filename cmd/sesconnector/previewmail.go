package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"html/template"
	"math"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	ses "github.com/sesconnector/sesconnector"
)

// This file holds what the preview does with one card's message: the .eml download, and, with
// -allow-send, "Send me this".

// message renders the card the request names (usage, locale and the sample payload) as the
// Connector would send it to sampleTo.
func (p *preview) message(ctx context.Context, q url.Values) (*ses.Config, *sesv2.SendEmailInput, error) {
	p.mu.Lock()
	cfg := p.cfg
	p.mu.Unlock()
	if cfg == nil {
		return nil, nil, fmt.Errorf("the config does not load")
	}
	base, err := sampleFrom(q).payload(nil)
	if err != nil {
		return nil, nil, err
	}
	conn, err := ses.New(ctx, cfg, ses.WithClient(noSend{}))
	if err != nil {
		return nil, nil, err
	}
	locale := q.Get("locale")
	if locale == defaultLocale {
		locale = ""
	}
	in, err := compose(ctx, conn, ses.UsageType(q.Get("usage")), locale, base)
	return cfg, in, err
}

// eml serves the message as an RFC 5322 file, as SES builds it from Simple content: a
// multipart/alternative of a UTF-8 text and HTML part, headers RFC 2047-encoded.
func (p *preview) eml(w http.ResponseWriter, r *http.Request) {
	_, in, err := p.message(r.Context(), r.URL.Query())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	data, err := buildEML(in, time.Now())
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	name := fmt.Sprintf("%s-%s.eml", r.URL.Query().Get("usage"), r.URL.Query().Get("locale"))
	w.Header().Set("Content-Type", "message/rfc822")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	_, _ = w.Write(data)
}

// buildEML writes in as an email message, its header lines folded (emlheader.go).
func buildEML(in *sesv2.SendEmailInput, date time.Time) ([]byte, error) {
	msg := in.Content.Simple
	var b bytes.Buffer
	header := func(name, value string) { writeHeader(&b, name, value) }
	header("From", mailbox(aws.ToString(in.FromEmailAddress)))
	header("To", strings.Join(in.Destination.ToAddresses, ", "))
	if len(in.ReplyToAddresses) > 0 {
		var replyTo []string
		for _, a := range in.ReplyToAddresses {
			replyTo = append(replyTo, mailbox(a))
		}
		header("Reply-To", strings.Join(replyTo, ", "))
	}
	header("Subject", unstructured(aws.ToString(msg.Subject.Data)))
	header("Date", date.Format(time.RFC1123Z))
	header("Message-ID", fmt.Sprintf("<preview-%d@sesconnector.invalid>", date.UnixNano()))
	for _, h := range msg.Headers {
		header(aws.ToString(h.Name), aws.ToString(h.Value)) // printable ASCII, at most 870 characters (SES's rule)
	}
	header("MIME-Version", "1.0")
	parts := []struct{ kind, body string }{}
	if msg.Body.Text != nil {
		parts = append(parts, struct{ kind, body string }{"text/plain", *msg.Body.Text.Data})
	}
	if msg.Body.Html != nil {
		parts = append(parts, struct{ kind, body string }{"text/html", *msg.Body.Html.Data})
	}
	mw := multipart.NewWriter(&b)
	header("Content-Type", mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": mw.Boundary()}))
	b.WriteString("\r\n")
	for _, part := range parts {
		pw, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {part.kind + "; charset=UTF-8"},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return nil, err
		}
		qp := quotedprintable.NewWriter(pw)
		if _, err := qp.Write([]byte(part.body)); err != nil {
			return nil, err
		}
		if err := qp.Close(); err != nil {
			return nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// enableSend turns on "Send me this", through endpoint ("" for the config's SES), with a token
// made for this run.
func (p *preview) enableSend(endpoint string) {
	token := make([]byte, 16)
	_, _ = rand.Read(token) // crypto/rand does not fail on supported platforms
	p.allowSend, p.endpoint, p.token = true, endpoint, hex.EncodeToString(token)
	p.sends = sender{endpoint: endpoint, every: sendEvery,
		client: &http.Client{Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, MaxIdleConnsPerHost: 2, IdleConnTimeout: 90 * time.Second,
			TLSHandshakeTimeout: 10 * time.Second, ResponseHeaderTimeout: 30 * time.Second}}}
}

// sendEvery is how often "Send me this" may send: one developer clicking, not a relay.
const sendEvery = 2 * time.Second

// sender is "Send me this" for the whole run: one HTTP client, and one Connector per version
// of the config (built at the first send after the file changed), at most one send per every.
type sender struct {
	endpoint string
	every    time.Duration
	client   *http.Client

	mu     sync.Mutex
	cfg    *ses.Config // the config conn was built from
	conn   *ses.Connector
	next   time.Time // the earliest time of the next send
	builds int       // Connectors built, for the tests
}

// reserve takes the next send's turn, or says how long until there is one.
func (s *sender) reserve(now time.Time) (wait time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if now.Before(s.next) {
		return s.next.Sub(now)
	}
	s.next = now.Add(s.every)
	return 0
}

// connector is the Connector for cfg, built once per config.
func (s *sender) connector(ctx context.Context, cfg *ses.Config) (*ses.Connector, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil && s.cfg == cfg {
		return s.conn, nil
	}
	opts := []ses.Option{ses.WithSESOptions(func(o *sesv2.Options) { o.HTTPClient = s.client })}
	if s.endpoint != "" {
		opts = append(opts, ses.WithEndpoint(s.endpoint))
	}
	conn, err := ses.New(ctx, cfg, opts...)
	if err != nil {
		return nil, err
	}
	s.cfg, s.conn = cfg, conn
	s.builds++
	return conn, nil
}

var sendPage = template.Must(template.New("send").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Send me this</title><link rel="stylesheet" href="/style.css"></head>
<body><main class="confirm">
{{if .Sent}}<p>Sent to <b>{{.To}}</b> through SES in {{.Region}} as {{.From}}: MessageId <code>{{.Sent}}</code>.</p>
{{else if .Error}}<p class="error">{{.Error}}</p>
{{else}}<form method="post" action="/send">
  <p>Send <b>{{.Usage}} · {{.Locale}}</b> to <b>{{.To}}</b>, through SES in <b>{{.Region}}</b>{{if .Endpoint}} (at {{.Endpoint}}){{end}}, as <b>{{.From}}</b>?</p>
  {{range $k, $vs := .Fields}}{{range $vs}}<input type="hidden" name="{{$k}}" value="{{.}}">{{end}}{{end}}
  <input type="hidden" name="confirm" value="1">
  <button type="submit" id="confirm">Send</button>
</form>{{end}}
<p><a href="/">Back to the preview</a></p>
</main></body></html>`))

// send is "Send me this": a POST from the page itself (the run's token, and a same-origin
// request), first answered with a confirmation naming the region and From, then, confirmed,
// sent through SES.
func (p *preview) send(w http.ResponseWriter, r *http.Request) {
	if !p.allowSend {
		http.Error(w, "sending is off: start the preview with -allow-send", http.StatusForbidden)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "a form of at most 64 KiB", http.StatusBadRequest)
		return
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		http.Error(w, "cross-site request refused", http.StatusForbidden)
		return
	}
	if origin := r.Header.Get("Origin"); origin != "" && origin != "http://"+r.Host {
		http.Error(w, "cross-origin request refused", http.StatusForbidden)
		return
	}
	if subtle.ConstantTimeCompare([]byte(r.PostForm.Get("token")), []byte(p.token)) != 1 {
		http.Error(w, "the page's token is missing or stale: reload the preview", http.StatusForbidden)
		return
	}
	to := strings.TrimSpace(r.PostForm.Get("to"))
	cfg, in, err := p.message(r.Context(), r.PostForm)
	data := map[string]any{"To": to, "Usage": r.PostForm.Get("usage"), "Locale": r.PostForm.Get("locale"), "Endpoint": p.endpoint, "Fields": r.PostForm}
	if err == nil {
		data["Region"], data["From"] = cfg.Region, aws.ToString(in.FromEmailAddress)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'")
	switch {
	case err != nil:
		data["Error"] = err.Error()
	case r.PostForm.Get("confirm") == "1":
		if wait := p.sends.reserve(time.Now()); wait > 0 {
			secs := int(math.Ceil(wait.Seconds()))
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			w.WriteHeader(http.StatusTooManyRequests)
			data["Error"] = fmt.Sprintf("one message every %s: try again in %d s", p.sends.every, secs)
			break
		}
		conn, err := p.sends.connector(r.Context(), cfg)
		if err == nil {
			locale := r.PostForm.Get("locale")
			if locale == defaultLocale {
				locale = ""
			}
			base, _ := sampleFrom(r.PostForm).payload(nil)
			if locale != "" {
				base["locale"] = locale
			}
			data["Sent"], err = conn.SendMessage(r.Context(), to, ses.UsageType(r.PostForm.Get("usage")), base)
		}
		if err != nil {
			data["Error"] = trimPrefix(err)
		}
	}
	_ = sendPage.Execute(w, data)
}
