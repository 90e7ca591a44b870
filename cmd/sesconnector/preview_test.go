package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"image/png"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesconnector/sesconnector/internal/childproc"
	"github.com/sesconnector/sesconnector/internal/emulator"
	"github.com/sesconnector/sesconnector/internal/trickle"
)

var screenshotPath = flag.String("screenshot", "", "TestPreviewInBrowser also saves its screenshot here (e.g. ../../docs/preview.png)")

// previewConfig writes a config to a temp file: every warning the page gives has a template.
func previewConfig(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ses.json")
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

const warnedConfig = `{
  "region": "us-east-1", "emailAddress": "Acme <no-reply@acme.example>",
  "templates": [
    {"usageType": "SignIn", "subject": "Code {{code}}", "content": "<p>{{code}} for {{organization.name}}</p><img src=\"data:image/gif;base64,R0lGODlhAQABAAAAACw=\"><a href=\"http://acme.example\">site</a>", "text": "Code {{code}}"},
    {"usageType": "SignIn", "locale": "pt-BR", "subject": "Código {{code}}", "content": "<p>{{code}}</p>"},
    {"usageType": "Register", "subject": "Welcome {{name}}", "content": "<p>{{code}}</p>"},
    {"usageType": "Generic", "subject": "Code {{code}}", "content": "<p>{{code}} <a href=\"{{link}}\">verify</a></p>", "text": "{{code}} {{link}}"}
  ]
}`

func get(t *testing.T, h http.Handler, target string) (int, string) {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, target, nil))
	body, err := io.ReadAll(w.Result().Body)
	require.NoError(t, err)
	return w.Code, string(body)
}

func TestPreviewPage(t *testing.T) {
	p, err := newPreview(previewConfig(t, warnedConfig), "")
	require.NoError(t, err)
	code, body := get(t, p, "/?code=%3Cscript%3Ealert(1)%3C%2Fscript%3E")
	require.Equal(t, http.StatusOK, code)
	for _, u := range usageTypes {
		for _, l := range []string{"default", "pt-BR"} {
			assert.Regexp(t, `data-keys="[^"]*\b`+string(u)+"/"+l+`\b`, body, "every usage type and locale is on a card")
		}
	}
	assert.Equal(t, 4, strings.Count(body, `<article class="card"`), "cards of one message collapse into one")
	assert.True(t, strings.Contains(body, "<li>Generic · default</li>"), "the Generic card lists who falls back to it")
	assert.True(t, strings.Contains(body, `<li>BindMfa · pt-BR <span class="fallback">fallback: no BindMfa template: Generic; none for pt-BR: the one without locale</span></li>`))
	assert.NotContains(t, body, "<script>", "a payload's <script> shows as text, never as markup")
	assert.True(t, strings.Contains(body, "&amp;lt;script&amp;gt;alert(1)"), "in the HTML part, escaped by the connector and again for srcdoc")
	assert.True(t, strings.Contains(body, `sandbox="allow-same-origin"`), "HTML parts run with no scripts")
	for _, want := range []string{
		"<tr><th>From</th><td>&#34;Acme&#34; &lt;no-reply@acme.example&gt;</td></tr>", "<tr><th>To</th><td>preview@example.com</td></tr>",
		"templates[0] · SignIn · no locale</p>", "1 image(s) without alt text", "an http: link: use https", "no plain-text part",
		`placeholder {{name}} in subject: the payload has no &#34;name&#34;`, "<summary>HTML source</summary>",
		`href="/eml?code=%3Cscript%3Ealert%281%29%3C%2Fscript%3E&amp;extra=&amp;link=`,
	} {
		assert.True(t, strings.Contains(body, want), "the page shows %s", want)
	}
	assert.NotContains(t, body, "Send me this", "off without -allow-send")

	_, body = get(t, p, `/?extra=%7B%22name%22%3A%22Ana%22%7D`)
	assert.True(t, strings.Contains(body, "Welcome Ana"), "extra payload renders")
	_, body = get(t, p, `/?extra=%5B1%5D`)
	assert.True(t, strings.Contains(body, "more payload is not a JSON object"))
	_, body = get(t, p, "/?usage=SignIn")
	assert.Equal(t, 2, strings.Count(body, `<article class="card"`), "filtered by usage type")
	_, body = get(t, p, "/?locale=pt-BR&usage=Generic")
	assert.Equal(t, 1, strings.Count(body, `<article class="card"`), "and locale")
	assert.True(t, strings.Contains(body, `data-keys="Generic/pt-BR"`))

	for path, want := range map[string]string{"/style.css": ".card", "/preview.js": "EventSource"} {
		code, text := get(t, p, path)
		assert.Equal(t, http.StatusOK, code)
		assert.Contains(t, text, want)
	}
	code, _ = get(t, p, "/nope")
	assert.Equal(t, http.StatusNotFound, code)
}

// What mail clients would do to a message, warned of on its card.
func TestPreviewWarnings(t *testing.T) {
	big := strings.Repeat("x", 101*1024)
	content := `<script>x()</script><p onclick=\"x()\">hi</p><form><input></form><link rel=\"stylesheet\" href=\"https://cdn.example/a.css\"><img alt=\"logo\" src=\"http://acme.example/logo.png\">` + big
	cfg := `{"region":"us-east-1","emailAddress":"a@example.com","templates":[{"usageType":"Generic","subject":"` + strings.Repeat("Your code ", 9) + `{{code}}","content":"` + content + `"}]}`
	p, err := newPreview(previewConfig(t, cfg), "")
	require.NoError(t, err)
	_, body := get(t, p, "/?usage=Generic&locale=default")
	for _, want := range []string{
		"no plain-text part", "the subject is 96 characters: clients cut it past about 78", "Gmail clips messages over 100 KB",
		"a &lt;script&gt;: every mail client strips it", "an event handler (on...=)", "a form or form field",
		"external CSS (&lt;link rel=stylesheet&gt; or @import)", "an image without https",
	} {
		assert.True(t, strings.Contains(body, want), "warns: %s", want)
	}
}

// The .eml download is the message as SES would build it: it parses with net/mail and
// mime/multipart into the same subject and parts.
func TestPreviewEML(t *testing.T) {
	p, err := newPreview(previewConfig(t, warnedConfig), "")
	require.NoError(t, err)
	w := httptest.NewRecorder()
	p.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/eml?usage=SignIn&locale=default&code=654321&organization=A%C3%A7%C3%A3o", nil))
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Equal(t, "message/rfc822", w.Header().Get("Content-Type"))
	assert.Equal(t, `attachment; filename=SignIn-default.eml`, w.Header().Get("Content-Disposition"))
	msg, err := mail.ReadMessage(w.Body)
	require.NoError(t, err)
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	require.NoError(t, err)
	assert.Equal(t, "Code 654321", subject)
	from, err := mail.ParseAddress(msg.Header.Get("From"))
	require.NoError(t, err)
	assert.Equal(t, "no-reply@acme.example", from.Address)
	assert.Equal(t, "preview@example.com", msg.Header.Get("To"))
	mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	require.NoError(t, err)
	require.Equal(t, "multipart/alternative", mediaType)
	parts := map[string]string{}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		body, err := io.ReadAll(part) // the reader decodes quoted-printable
		require.NoError(t, err)
		kind, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		parts[kind] = string(body)
	}
	assert.Equal(t, "Code 654321", parts["text/plain"])
	assert.Equal(t, `<p>654321 for Ação</p><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw="><a href="http://acme.example">site</a>`, parts["text/html"])
}

func TestPreviewGmailClip(t *testing.T) {
	big := strings.Repeat("x", 103*1024)
	p, err := newPreview(previewConfig(t, `{"region":"us-east-1","emailAddress":"a@example.com","templates":[{"usageType":"Generic","subject":"s","content":"<p>`+big+`</p>","text":"t"}]}`), "")
	require.NoError(t, err)
	_, body := get(t, p, "/")
	assert.True(t, strings.Contains(body, "Gmail clips messages over 100 KB"), "the clip warning")
}

// The page follows the file: a config that stops validating shows its problems, and a fixed
// one renders again.
func TestPreviewReloads(t *testing.T) {
	path, p := watchedPreview(t)

	require.NoError(t, os.WriteFile(path, []byte(`{"region":"mars","templates":[]}`), 0o600))
	require.Eventually(t, func() bool {
		_, body := get(t, p, "/")
		return strings.Contains(body, `id="problems"`) && strings.Contains(body, "region: &#34;mars&#34; is not an AWS region name")
	}, 5*time.Second, 20*time.Millisecond)

	tmp := path + ".tmp" // as editors save: write elsewhere, rename over
	require.NoError(t, os.WriteFile(tmp, []byte(warnedConfig), 0o600))
	require.NoError(t, os.Rename(tmp, path))
	require.Eventually(t, func() bool {
		_, body := get(t, p, "/")
		return !strings.Contains(body, `id="problems"`) && strings.Contains(body, `data-usage="SignIn"`)
	}, 5*time.Second, 20*time.Millisecond)
}

func TestPreviewCommand(t *testing.T) {
	path := previewConfig(t, warnedConfig)
	code, _, stderr := sesconnector("preview")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "-config is required")
	code, _, stderr = sesconnector("preview", "-config", path, "-addr", "256.0.0.1:1")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "sesconnector preview:")
}

// chromium finds Debian's Chromium; its absence fails the test (see childproc.Need).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	childproc.Need(t, errors.New("no Chromium on this machine"), "Install it: apt-get install chromium")
	return ""
}

// browser starts headless Chromium for one test, stopped when the test ends.
func browser(t *testing.T) context.Context {
	exe := chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true), chromedp.WindowSize(1280, 900),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1")) // loopback only: no name leaves the machine
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(cancel)
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(cancelTimeout)
	return ctx
}

// The page as a person sees it, in headless Chromium: load it, change the code, render, and
// see the new code in the HTML part's frame, with no console error on the way.
func TestPreviewInBrowser(t *testing.T) {
	p, err := newPreview(previewConfig(t, warnedConfig), "")
	require.NoError(t, err)
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close) // after the browser's cleanup: its event stream ends first
	ctx := browser(t)

	consoleCtx, stopConsole := context.WithCancel(ctx)
	messages := chromedp.Console(consoleCtx) // subscribed now: nothing the page writes is lost
	var consoleErrors []string
	consoleDone := make(chan struct{})
	go func() {
		defer close(consoleDone)
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				consoleErrors = append(consoleErrors, m.String())
			}
		}
	}()

	frame := chromedp.CSS(`article[data-usage="SignIn"][data-locale="default"] iframe`)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible(frame),
		chromedp.SetValue(chromedp.ID("code"), "987654"),
		chromedp.Click(chromedp.ID("render")),
		chromedp.WaitVisible(chromedp.CSS(`input#code[value="987654"]`)),
	))
	srcdoc, err := chromedp.Run(ctx, chromedp.AttributeValue(frame, "srcdoc"))
	require.NoError(t, err)
	require.True(t, srcdoc.Exists)
	assert.Contains(t, srcdoc.Value, "987654 for Acme", "the frame shows the new code")
	sandboxed, err := chromedp.Run(ctx, chromedp.Evaluate[bool](
		`(() => { const f = document.querySelector('article[data-usage="SignIn"][data-locale="default"] iframe'); return f.sandbox.length === 1 && f.sandbox.contains('allow-same-origin') && !f.sandbox.contains('allow-scripts') })()`))
	require.NoError(t, err)
	assert.True(t, sandboxed, "the frame is sandboxed without scripts (same origin only for the page to size it)")
	cards, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('article.card')].map(a => a.dataset.keys.split(' ').length + ' ' + a.querySelector('h3').textContent)`))
	require.NoError(t, err)
	assert.Equal(t, []string{"1 Code 987654", "1 Código 987654", "2 Register · default", "14 Code 987654"}, cards,
		"18 usage types and locales, 4 cards: the 14 that get Generic's message collapse into one")
	shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot()) // the viewport: what a person sees first
	require.NoError(t, err)

	stopConsole()
	<-consoleDone
	assert.Empty(t, consoleErrors, "no console error")
	require.NoError(t, os.WriteFile(filepath.Join(t.TempDir(), "preview.png"), shot, 0o600))
	if *screenshotPath != "" {
		require.NoError(t, os.WriteFile(*screenshotPath, shot, 0o644))
	}
}

// Only requests for the preview's own address, localhost or an IP address are answered: a
// site that points its own name at 127.0.0.1 (DNS rebinding) reads nothing.
func TestPreviewHostGuard(t *testing.T) {
	p, err := newPreview(previewConfig(t, warnedConfig), "")
	require.NoError(t, err)
	h := hostGuard("127.0.0.1:8088", p)
	for host, want := range map[string]int{
		"127.0.0.1:8088":         http.StatusOK,
		"localhost:8088":         http.StatusOK,
		"LOCALHOST:8088":         http.StatusOK,
		"[::1]:8088":             http.StatusOK,
		"192.0.2.7:8088":         http.StatusOK, // an address: no rebinding through it
		"attacker.example:8088":  http.StatusMisdirectedRequest,
		"localhost.evil.example": http.StatusMisdirectedRequest,
		"":                       http.StatusMisdirectedRequest,
	} {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Host = host
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		assert.Equal(t, want, w.Code, host)
		assert.Equal(t, "nosniff", w.Header().Get("X-Content-Type-Options"), host)
		assert.Equal(t, "DENY", w.Header().Get("X-Frame-Options"), host)
		if want == http.StatusOK {
			assert.Contains(t, w.Header().Get("Content-Security-Policy"), "frame-ancestors 'none'")
		}
	}
	named := hostGuard("devbox.internal:8088", p)
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Host = "devbox.internal:8088"
	w := httptest.NewRecorder()
	named.ServeHTTP(w, req)
	assert.Equal(t, http.StatusOK, w.Code, "the name it was told to listen on")
}

// The page keeps following the file after it was briefly a named pipe or a huge file: each
// shows as a problem, and the fixed file renders again.
func TestPreviewSurvivesFIFOAndHugeFile(t *testing.T) {
	path, p := watchedPreview(t)
	restore := func() {
		tmp := path + ".tmp"
		require.NoError(t, os.WriteFile(tmp, []byte(warnedConfig), 0o600))
		require.NoError(t, os.Rename(tmp, path))
		require.Eventually(t, func() bool {
			_, body := get(t, p, "/")
			return !strings.Contains(body, `id="problems"`) && strings.Contains(body, `data-usage="SignIn"`)
		}, 5*time.Second, 20*time.Millisecond)
	}
	require.NoError(t, os.Remove(path))
	require.NoError(t, syscall.Mkfifo(path, 0o600))
	require.Eventually(t, func() bool {
		_, body := get(t, p, "/")
		return strings.Contains(body, "not a regular file (a named pipe)")
	}, 5*time.Second, 20*time.Millisecond)
	require.NoError(t, os.Remove(path))
	restore()

	require.NoError(t, os.WriteFile(path, []byte(strings.Repeat(" ", 5<<20)), 0o600))
	require.Eventually(t, func() bool {
		_, body := get(t, p, "/")
		return strings.Contains(body, "over the 4194304 of MaxConfigSize")
	}, 5*time.Second, 20*time.Millisecond)
	restore()
}

// Every server of the command cuts a client that trickles its body, within ReadTimeout.
func TestServersCutSlowClients(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.ReadAll(r.Body) }))
	}()
	held, err := trickle.HeldFor(l.Addr().String(), "/", 30*time.Second)
	require.NoError(t, err)
	assert.Less(t, held, 13*time.Second, "cut within ReadTimeout (10 s)")
	assert.Greater(t, held, 5*time.Second)
	t.Logf("a body trickled at 1 byte per 2 s was cut after %v", held.Round(time.Millisecond))
	srv := newHTTPServer(nil)
	assert.Positive(t, srv.IdleTimeout)
	assert.Positive(t, srv.WriteTimeout)
	cancel()
	require.NoError(t, <-done)
}

// A frame renders its template as a mail client does: the template's <style> and style=
// apply, and its scripts do not run. Read from the pixels Chromium paints.
func TestPreviewFramesApplyTemplateCSS(t *testing.T) {
	const styled = `{"region":"us-east-1","emailAddress":"a@example.com","templates":[{"usageType":"Generic","subject":"Code {{code}}",
	  "content":"<style>body{margin:0} .box{background:rgb(255,0,0)}</style><div class=\"box\" style=\"height:600px;border-left:40px solid rgb(0,0,255)\">{{code}}</div><script>document.querySelector('.box').style.background='rgb(0,255,0)'</script>",
	  "text":"{{code}}"}]}`
	p, err := newPreview(previewConfig(t, styled), "")
	require.NoError(t, err)
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close) // after the browser's cleanup: its event stream ends first
	ctx := browser(t)
	const frame = `article[data-usage="SignIn"][data-locale="default"] iframe` // the first on the page: Generic's template
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(chromedp.CSS(frame)), chromedp.Sleep(500*time.Millisecond)))
	box, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`(() => { const r = document.querySelector('`+frame+`').getBoundingClientRect(); return [r.x, r.y, r.width, r.height, window.devicePixelRatio] })()`))
	require.NoError(t, err)
	require.Len(t, box, 5)
	shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot()) // the viewport, where the frame is painted
	require.NoError(t, err)
	img, err := png.Decode(bytes.NewReader(shot))
	require.NoError(t, err)
	at := func(fx, dy float64) [3]uint32 { // a point of the frame: a fraction of its width, pixels below its top
		r, g, b, _ := img.At(int((box[0]+fx*box[2])*box[4]), int((box[1]+dy)*box[4])).RGBA()
		return [3]uint32{r >> 8, g >> 8, b >> 8}
	}
	assert.Equal(t, [3]uint32{255, 0, 0}, at(0.75, 100), "the <style> rule applies, and the script did not run")
	assert.Equal(t, [3]uint32{0, 0, 255}, at(0.03, 100), "the style= attribute applies")
}

// "Send me this" sends only with -allow-send, from the page itself (its token, same origin),
// after a confirmation naming the region and From: to the SES emulator's store.
func TestPreviewSendMeThis(t *testing.T) {
	emu := emulator.StartForTest(t)
	cfg := strings.Replace(warnedConfig, `"region": "us-east-1",`, `"region": "us-east-1", "accessKeyId": "AKIAIOSFODNN7EXAMPLE", "accessKeySecret": "fake-secret-for-the-preview",`, 1)
	p, err := newPreview(previewConfig(t, cfg), "")
	require.NoError(t, err)
	form := url.Values{"usage": {"SignIn"}, "locale": {"pt-BR"}, "code": {"424242"}, "to": {"me@example.com"}}
	post := func(h http.Handler, v url.Values, origin string) (int, string) {
		req := httptest.NewRequest(http.MethodPost, "/send", strings.NewReader(v.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w.Code, w.Body.String()
	}
	code, _ := post(p, form, "")
	assert.Equal(t, http.StatusForbidden, code, "off without -allow-send")

	p.enableSend(emu.URL)
	_, page := get(t, p, "/")
	assert.True(t, strings.Contains(page, "Send me this"))
	assert.True(t, strings.Contains(page, `name="token" value="`+p.token+`"`))
	code, _ = post(p, form, "")
	assert.Equal(t, http.StatusForbidden, code, "no token")
	withToken := cloneValues(form)
	withToken.Set("token", p.token)
	code, _ = post(p, withToken, "https://attacker.example")
	assert.Equal(t, http.StatusForbidden, code, "another origin")
	code, body := post(p, withToken, "http://example.com") // httptest's requests are for example.com
	require.Equal(t, http.StatusOK, code, body)
	assert.True(t, strings.Contains(body, "through SES in <b>us-east-1</b>"), body)
	assert.True(t, strings.Contains(body, "as <b>&#34;Acme&#34; &lt;no-reply@acme.example&gt;</b>"), body)
	emails, err := emu.Emails()
	require.NoError(t, err)
	assert.Empty(t, emails, "nothing sent before the confirmation")

	withToken.Set("confirm", "1")
	code, body = post(p, withToken, "http://example.com")
	require.Equal(t, http.StatusOK, code)
	assert.True(t, strings.Contains(body, "Sent to <b>me@example.com</b>"), body)
	emails, err = emu.Emails()
	require.NoError(t, err)
	require.Len(t, emails, 1)
	assert.Equal(t, "Código 424242", emails[0].Subject)
	assert.Equal(t, []string{"me@example.com"}, emails[0].Destination.To)
}

// The page follows the file without a reload, keeping the payload as typed; the phone width
// makes the frames 375 px wide, and a frame takes its content's height.
func TestPreviewLiveInBrowser(t *testing.T) {
	path, p := watchedPreview(t)
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close) // after the browser's cleanup: its event stream ends first
	b := browser(t)
	frame := `article[data-usage="SignIn"][data-locale="default"] iframe`
	require.NoError(t, chromedp.Do(b, chromedp.Navigate(srv.URL+"/?width=desktop"), chromedp.WaitVisible(chromedp.CSS(frame))))
	_, err := chromedp.Run(b, chromedp.Evaluate[bool](`window.stillThisPage = true`))
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(b,
		chromedp.SetValue(chromedp.ID("code"), "111222"), // typed, not rendered
		chromedp.Sleep(300*time.Millisecond),             // the event stream is open
	))

	edited := strings.Replace(warnedConfig, `"subject": "Code {{code}}", "content": "<p>{{code}} for`, `"subject": "Edited {{code}}", "content": "<p>{{code}} for`, 1)
	require.NoError(t, os.WriteFile(path, []byte(edited), 0o600))
	require.NoError(t, chromedp.Do(b, chromedp.WaitVisible(chromedp.CSS(`article[data-usage="SignIn"][data-locale="default"] td.subject`))))
	var subject string
	require.Eventually(t, func() bool {
		subject, err = chromedp.Run(b, chromedp.Text(chromedp.CSS(`article[data-usage="SignIn"][data-locale="default"] td.subject`)))
		return err == nil && subject == "Edited 111222"
	}, 10*time.Second, 100*time.Millisecond, "the page changed with the file, with the payload as typed: %q", subject)
	same, err := chromedp.Run(b, chromedp.Evaluate[bool](`window.stillThisPage === true`))
	require.NoError(t, err)
	assert.True(t, same, "no reload: the page changed in place")

	widthOf := func() float64 {
		w, err := chromedp.Run(b, chromedp.Evaluate[float64](`document.querySelector('`+frame+`').clientWidth`))
		require.NoError(t, err)
		return w
	}
	assert.Equal(t, 800.0, widthOf(), "desktop")
	require.NoError(t, chromedp.Do(b, chromedp.SetValue(chromedp.ID("width"), "phone")))
	_, err = chromedp.Run(b, chromedp.Evaluate[bool](`document.getElementById('width').dispatchEvent(new Event('change'))`))
	require.NoError(t, err)
	assert.Equal(t, 375.0, widthOf(), "phone")
	heights, err := chromedp.Run(b, chromedp.Evaluate[[]float64](`(() => { const f = document.querySelector('`+frame+`'); return [f.getBoundingClientRect().height, f.contentDocument.documentElement.scrollHeight] })()`))
	require.NoError(t, err)
	require.Len(t, heights, 2)
	assert.InDelta(t, heights[1]+2, heights[0], 1, "the frame follows its content's height")
	assert.Less(t, heights[0], 100.0, "a two-line mail gets a short frame, not the stylesheet's 120 px")
}

// watchedPreview is a preview of warnedConfig that follows its file until the test ends.
func watchedPreview(t *testing.T) (string, *preview) {
	t.Helper()
	path := previewConfig(t, warnedConfig)
	p, err := newPreview(path, "")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	require.NoError(t, p.watch(ctx))
	return path, p
}
