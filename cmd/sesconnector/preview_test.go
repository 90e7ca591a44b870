package main

import (
	"context"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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

// chromium finds Debian's Chromium; under CI its absence fails the test.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("Chromium is required under CI (apt-get install chromium)")
	}
	t.Skip("SKIPPED, NOT PASSED: no Chromium on this machine (apt-get install chromium); `make test` needs it")
	return ""
}

// The page as a person sees it, in headless Chromium: load it, change the code, render, and
// see the new code in the HTML part's frame, with no console error on the way.
func TestPreviewInBrowser(t *testing.T) {
	exe := chromium(t)
	p, err := newPreview(previewConfig(t, warnedConfig), "")
	require.NoError(t, err)
	srv := httptest.NewServer(p)
	defer srv.Close()

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true), chromedp.WindowSize(1280, 900))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	defer cancelTimeout()

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
