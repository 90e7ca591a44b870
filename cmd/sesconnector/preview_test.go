package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"image/png"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
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
    {"usageType": "SignIn", "subject": "Code {{code}}", "content": "<p>{{code}} for {{organization.name}}</p><img src=\"https://acme.example/logo.png\"><a href=\"http://acme.example\">site</a>", "text": "Code {{code}}"},
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
			assert.Contains(t, body, `data-usage="`+string(u)+`" data-locale="`+l+`"`, "a cell for every usage type and locale")
		}
	}
	assert.Equal(t, 18, strings.Count(body, `<article class="cell"`))
	assert.NotContains(t, body, "<script", "a payload's <script> shows as text, never as markup")
	assert.Contains(t, body, "&amp;lt;script&amp;gt;alert(1)", "in the HTML part, escaped by the connector and again for srcdoc")
	assert.Contains(t, body, `sandbox=""`, "HTML parts run with no scripts and no same-origin")

	assert.Contains(t, body, "templates[0] · SignIn · no locale</p>")
	assert.Contains(t, body, "fallback: no ForgotPassword template: Generic")
	assert.Contains(t, body, "fallback: no ForgotPassword template: Generic; none for pt-BR: the one without locale")
	assert.Contains(t, body, "1 image(s) without alt text")
	assert.Contains(t, body, "an http: link or image")
	assert.Contains(t, body, "no plain-text part")
	assert.Contains(t, body, `placeholder {{name}} in subject: the payload has no &#34;name&#34;`, "a rendering error names the placeholder")

	_, body = get(t, p, `/?extra=%7B%22name%22%3A%22Ana%22%7D`)
	assert.Contains(t, body, "Welcome Ana", "extra payload renders")
	_, body = get(t, p, `/?extra=%5B1%5D`)
	assert.Contains(t, body, "more payload is not a JSON object")

	code, css := get(t, p, "/style.css")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, css, ".cell")
	code, _ = get(t, p, "/nope")
	assert.Equal(t, http.StatusNotFound, code)
}

func TestPreviewGmailClip(t *testing.T) {
	big := strings.Repeat("x", 103*1024)
	p, err := newPreview(previewConfig(t, `{"region":"us-east-1","emailAddress":"a@example.com","templates":[{"usageType":"Generic","subject":"s","content":"<p>`+big+`</p>","text":"t"}]}`), "")
	require.NoError(t, err)
	_, body := get(t, p, "/")
	assert.Contains(t, body, "Gmail clips messages over 102 KB")
}

// The page follows the file: a config that stops validating shows its problems, and a fixed
// one renders again.
func TestPreviewReloads(t *testing.T) {
	path := previewConfig(t, warnedConfig)
	p, err := newPreview(path, "")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	require.NoError(t, p.watch(ctx))

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
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true), chromedp.WindowSize(1280, 900))
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
	defer srv.Close()
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
		`document.querySelector('article[data-usage="SignIn"][data-locale="default"] iframe').contentDocument === null`))
	require.NoError(t, err)
	assert.True(t, sandboxed, "the frame is sandboxed: no same-origin access to its document")
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
	path := previewConfig(t, warnedConfig)
	p, err := newPreview(path, "")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	require.NoError(t, p.watch(ctx))
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
	defer srv.Close()
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
	at := func(fx, fy float64) [3]uint32 { // a point of the frame, as fractions of its box
		r, g, b, _ := img.At(int((box[0]+fx*box[2])*box[4]), int((box[1]+fy*box[3])*box[4])).RGBA()
		return [3]uint32{r >> 8, g >> 8, b >> 8}
	}
	assert.Equal(t, [3]uint32{255, 0, 0}, at(0.75, 0.6), "the <style> rule applies, and the script did not run")
	assert.Equal(t, [3]uint32{0, 0, 255}, at(0.03, 0.6), "the style= attribute applies")
}
