package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ses "github.com/sesconnector/sesconnector"
	"github.com/sesconnector/sesconnector/deliverylog"
	"github.com/sesconnector/sesconnector/feedback"
	"github.com/sesconnector/sesconnector/internal/childproc"
	"github.com/sesconnector/sesconnector/internal/sestest"
)

const supportToken = "test-support-token-0123456789abcdef"

// supportServer is the server as run wires it with a delivery log: every send recorded by the
// log's Observer, every event by its Feedback, /support/deliveries beside the public routes.
type supportServer struct {
	*httptest.Server
	log    *deliverylog.Log
	events feedback.Handler
	ses    *sestest.Server
}

func newSupportServer(t *testing.T) *supportServer {
	t.Helper()
	keyFile := filepath.Join(t.TempDir(), "address.key")
	require.NoError(t, os.WriteFile(keyFile, []byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"), 0o600))
	l, support, err := deliveries{dsn: "sqlite:" + filepath.Join(t.TempDir(), "deliveries.db"), keyFile: keyFile, token: supportToken}.open(context.Background())
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close(context.Background()) })
	s := &supportServer{log: l, ses: sestest.New(t)}
	cfg, err := ses.LoadConfig(filepath.Join("..", "config.example.json"))
	require.NoError(t, err)
	conn, err := ses.New(context.Background(), cfg, ses.WithEndpoint(s.ses.URL), ses.WithObserver(l.Observer()))
	require.NoError(t, err)
	policy := DefaultPolicy
	policy.ClientCodes, policy.TotalCodes = 10_000, 10_000
	server := NewServer(conn, policy, slog.New(slog.DiscardHandler))
	s.events = l.Feedback(server.HandleEvent)
	mux := http.NewServeMux()
	mux.Handle("/support/deliveries", support)
	mux.Handle("/", server.Handler(nil))
	s.Server = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

// sendCodeAndBounce asks for a code for to, and has SES say it bounced.
func (s *supportServer) sendCodeAndBounce(t *testing.T, to string) {
	t.Helper()
	resp, err := http.Post(s.URL+"/codes", "application/json", strings.NewReader(`{"email":"`+to+`","usageType":"SignIn"}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	id := "sestest-" + strconv.Itoa(len(s.ses.Requests()))
	require.NoError(t, s.events(context.Background(), &feedback.Event{Type: feedback.TypeBounce, MessageID: id, Timestamp: time.Date(2026, 12, 4, 10, 40, 0, 0, time.UTC),
		Bounce: &feedback.Bounce{Type: "Transient", SubType: "MailboxFull"}, Recipients: []feedback.Recipient{{Address: to, DiagnosticCode: "smtp; 552 " + to + " mailbox full"}}}))
}

// lookUp asks /support/deliveries with a token, and returns the status and the body.
func lookUp(t *testing.T, url, auth, accept string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	return resp.StatusCode, string(body)
}

func TestSupportDeliveries(t *testing.T) {
	s := newSupportServer(t)
	s.sendCodeAndBounce(t, "Jane@Example.com")
	url := s.URL + "/support/deliveries?address=jane%40example.com"

	var body string
	eventually(t, 5*time.Second, func() bool {
		var status int
		status, body = lookUp(t, url, "Bearer "+supportToken, "")
		require.Equal(t, http.StatusOK, status, body)
		return strings.Contains(body, "Bounce")
	})
	var got struct{ Messages []map[string]any }
	require.NoError(t, json.Unmarshal([]byte(body), &got))
	require.Len(t, got.Messages, 1)
	m := got.Messages[0]
	assert.Equal(t, "sestest-1", m["messageId"])
	assert.Equal(t, "J***@Example.com", m["to"])
	assert.Equal(t, "SignIn", m["usageType"])
	assert.Equal(t, "sent", m["outcome"])
	assert.Equal(t, []any{map[string]any{"type": "Bounce", "bounceType": "Transient", "bounceSubType": "MailboxFull",
		"diagnostic": "smtp; 552 J***@Example.com mailbox full", "at": "2026-12-04T10:40:00Z"}}, m["events"])
	assert.NotContains(t, strings.ToLower(body), "jane@", "no address in the clear")
	code := s.ses.Requests()[0].JSON["Content"].(map[string]any)["Simple"].(map[string]any)["Subject"].(map[string]any)["Data"].(string)
	assert.NotContains(t, body, code[len(code)-6:], "nor the code")

	for _, tc := range []struct {
		url, auth string
		status    int
		want      string
	}{
		{url, "", http.StatusUnauthorized, "give the support token"},
		{url, "Bearer wrong-token-0123456789abcdef0123456", http.StatusUnauthorized, "give the support token"},
		{url, supportToken, http.StatusUnauthorized, "give the support token"},
		{s.URL + "/support/deliveries", "Bearer " + supportToken, http.StatusBadRequest, "give the address"},
		{s.URL + "/support/deliveries?address=joe@example.com", "Bearer " + supportToken, http.StatusOK, `{"messages":[]}`},
	} {
		status, body := lookUp(t, tc.url, tc.auth, "application/json")
		assert.Equal(t, tc.status, status, tc.auth)
		assert.Contains(t, body, tc.want)
	}
	status, page := lookUp(t, url, "", "text/html,application/xhtml+xml")
	assert.Equal(t, http.StatusOK, status)
	assert.Contains(t, page, "<form id=\"lookup\">")
	assert.NotContains(t, page, "***", "the page holds no data: it fetches it with the token")
}

func TestSupportNeeds(t *testing.T) {
	key := filepath.Join(t.TempDir(), "k")
	require.NoError(t, os.WriteFile(key, []byte(strings.Repeat("k", 32)), 0o600))
	db := "sqlite:" + filepath.Join(t.TempDir(), "d.db")
	for _, tc := range []struct {
		d    deliveries
		want string
	}{
		{deliveries{keyFile: key}, "-address-key-file and -support-token go with -deliveries DSN"},
		{deliveries{dsn: db}, "-deliveries needs -address-key-file"},
		{deliveries{dsn: db, keyFile: key, token: "short"}, "the support token has 5 characters; give at least 32"},
		{deliveries{dsn: db, keyFile: filepath.Join(t.TempDir(), "missing")}, "reading the address key"},
	} {
		_, _, err := tc.d.open(context.Background())
		require.Error(t, err)
		assert.Contains(t, err.Error(), tc.want)
	}
}

// The page as a support engineer uses it, in headless Chromium: the token and the address
// typed, the timeline shown, with no console error; a wrong token is said so.
func TestSupportPageInChromium(t *testing.T) {
	s := newSupportServer(t)
	s.sendCodeAndBounce(t, "jane@example.com")
	eventually(t, 5*time.Second, func() bool {
		_, body := lookUp(t, s.URL+"/support/deliveries?address=jane@example.com", "Bearer "+supportToken, "")
		return strings.Contains(body, "Bounce")
	})
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
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(s.URL+"/support/deliveries"),
		chromedp.SendKeys(chromedp.ID("token"), "wrong-token-0123456789abcdef0123456"),
		chromedp.SendKeys(chromedp.ID("address"), "jane@example.com"),
		chromedp.Click(chromedp.ID("go")),
	))
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.getElementById("status").textContent.startsWith("give")`))
	require.NoError(t, err)
	status, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("status")))
	require.NoError(t, err)
	assert.Equal(t, "give the support token: Authorization: Bearer TOKEN", status)

	require.NoError(t, chromedp.Do(ctx,
		chromedp.SetValue(chromedp.ID("token"), supportToken),
		chromedp.Click(chromedp.ID("go")),
		chromedp.WaitVisible(chromedp.ID("results")),
	))
	status, err = chromedp.Run(ctx, chromedp.Text(chromedp.ID("status")))
	require.NoError(t, err)
	assert.Equal(t, "1 messages, newest first", status)
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#results tbody tr")].map(tr => [...tr.cells].map(td => td.textContent).join(" | "))`))
	require.NoError(t, err)
	require.Len(t, rows, 2)
	assert.Regexp(t, `^2026-\d\d-\d\d \d\d:\d\d:\d\d \| SignIn to j\*\*\*@example\.com: sent \| us-east-1 \| sestest-1$`, rows[0])
	assert.Equal(t, "2026-12-04 10:40:00 | Bounce Transient/MailboxFull | smtp; 552 j***@example.com mailbox full | ", rows[1])
	stopConsole()
	<-consoleDone
	assert.Equal(t, []string{"error: Failed to load resource: the server responded with a status of 401 (Unauthorized)"}, consoleErrors,
		"the browser's own note of the refused token, and no error of the page")
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

// browser starts headless Chromium for one test, reaching loopback only, stopped when the
// test ends.
func browser(t *testing.T) context.Context {
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(cancel)
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(cancelTimeout)
	return ctx
}

// eventually polls cond every 20 ms until it holds, failing the test after within.
func eventually(t *testing.T, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v", within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
