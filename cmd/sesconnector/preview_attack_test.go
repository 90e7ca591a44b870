package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sesStandIn answers SendEmail as SES does, and counts the sends.
func sesStandIn(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var sends atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if r.Method != http.MethodPost || r.URL.Path != "/v2/email/outbound-emails" {
			http.NotFound(w, r)
			return
		}
		n := sends.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"MessageId":"0100-stand-in-%d"}`, n)
	}))
	t.Cleanup(srv.Close)
	return srv, &sends
}

// sendingPreview is a preview of warnedConfig (with fake keys) whose "Send me this" sends to
// endpoint.
func sendingPreview(t *testing.T, endpoint string) (string, *preview) {
	cfg := strings.Replace(warnedConfig, `"region": "us-east-1",`, `"region": "us-east-1", "accessKeyId": "AKIAIOSFODNN7EXAMPLE", "accessKeySecret": "fake-secret-for-the-preview",`, 1)
	path := previewConfig(t, cfg)
	p, err := newPreview(path, "")
	require.NoError(t, err)
	p.enableSend(endpoint)
	return path, p
}

// confirmSend posts a confirmed "Send me this" from the page's own origin.
func confirmSend(t *testing.T, base string, p *preview, c *http.Client) (int, http.Header) {
	form := url.Values{"usage": {"SignIn"}, "locale": {"default"}, "code": {"424242"}, "to": {"me@example.com"}, "token": {p.token}, "confirm": {"1"}}
	req, err := http.NewRequest(http.MethodPost, base+"/send", strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header
}

// -allow-send on any interface but loopback makes the page an open relay: refused, naming both
// flags.
func TestPreviewAllowSendOnlyOnLoopback(t *testing.T) {
	path := previewConfig(t, warnedConfig)
	for _, addr := range []string{"0.0.0.0:8088", ":8088", "[::]:8088", "192.0.2.1:8088", "preview.example:8088", "127.0.0.1"} {
		code, stdout, stderr := sesconnector("preview", "-config", path, "-allow-send", "-addr", addr)
		assert.Equal(t, exitUsage, code, addr)
		assert.Empty(t, stdout)
		assert.Contains(t, stderr, "-allow-send needs a loopback -addr", addr)
	}
	for addr, want := range map[string]bool{"127.0.0.1:8088": true, "127.9.9.9:0": true, "[::1]:8088": true, "localhost:8088": true, "LOCALHOST:1": true,
		"0.0.0.0:8088": false, ":8088": false, "[::ffff:192.0.2.1]:1": false, "10.0.0.1:80": false} {
		assert.Equal(t, want, loopback(addr), addr)
	}
}

// openFiles counts this process's open descriptors.
func openFiles(t *testing.T) int {
	entries, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	return len(entries)
}

// "Send me this" keeps one Connector and one HTTP client for the run, and sends at most once
// every 2 s: issue 25 saw a descriptor and ~0.5 MiB left behind per send.
func TestPreviewSendMeThisOneConnector(t *testing.T) {
	ses, sends := sesStandIn(t)
	path, p := sendingPreview(t, ses.URL)
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	c := &http.Client{Timeout: 10 * time.Second}

	code, _ := confirmSend(t, srv.URL, p, c)
	require.Equal(t, http.StatusOK, code)
	code, h := confirmSend(t, srv.URL, p, c)
	assert.Equal(t, http.StatusTooManyRequests, code, "a second send within 2 s")
	assert.Equal(t, "2", h.Get("Retry-After"))
	assert.Equal(t, int64(1), sends.Load())

	p.sends.mu.Lock()
	p.sends.every, p.sends.next = 0, time.Time{} // the rate aside: 1,000 sends, one Connector
	p.sends.mu.Unlock()
	var m runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m)
	files, heap := openFiles(t), m.HeapInuse
	for range 1000 {
		code, _ := confirmSend(t, srv.URL, p, c)
		require.Equal(t, http.StatusOK, code)
	}
	runtime.GC()
	runtime.ReadMemStats(&m)
	assert.Equal(t, int64(1001), sends.Load())
	assert.Equal(t, 1, p.sends.builds, "one Connector for the run")
	assert.LessOrEqual(t, openFiles(t)-files, 4, "descriptors")
	t.Logf("1,000 sends: %+d descriptors, heap in use %+.1f MiB, %d Connector", openFiles(t)-files, (float64(m.HeapInuse)-float64(heap))/(1<<20), p.sends.builds)

	require.NoError(t, os.WriteFile(path, []byte(strings.Replace(warnedConfig, `"region": "us-east-1",`, `"region": "us-east-1", "accessKeyId": "AKIAIOSFODNN7EXAMPLE", "accessKeySecret": "fake-secret-edited",`, 1)), 0o600))
	p.load()
	code, _ = confirmSend(t, srv.URL, p, c)
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, 2, p.sends.builds, "an edited config gets a Connector of its own")
}

// The live reload's streams are bounded: 32 open at once (503 beyond, the page still served),
// a comment line every ping, each ended after its life even past the server's WriteTimeout,
// and a stream whose client went away frees its place.
func TestPreviewEventStreamsBounded(t *testing.T) {
	p, err := newPreview(previewConfig(t, warnedConfig), "")
	require.NoError(t, err)
	p.streamPing, p.streamLife = 100*time.Millisecond, 1500*time.Millisecond
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := newHTTPServer(hostGuard(l.Addr().String(), p))
	srv.WriteTimeout = 500 * time.Millisecond // shorter than a stream's life: each write moves it
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Close() })

	type stream struct {
		conn   net.Conn
		status string
		resp   *http.Response
	}
	open := func() stream {
		conn, err := net.DialTimeout("tcp", l.Addr().String(), 5*time.Second)
		require.NoError(t, err)
		require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
		_, err = fmt.Fprintf(conn, "GET /events HTTP/1.1\r\nHost: %s\r\n\r\n", l.Addr())
		require.NoError(t, err)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		require.NoError(t, err)
		return stream{conn, resp.Proto + " " + resp.Status, resp}
	}
	var streams []stream
	counts := map[string]int{}
	for range 100 {
		s := open()
		counts[s.status]++
		streams = append(streams, s)
	}
	assert.Equal(t, map[string]int{"HTTP/1.1 200 OK": maxStreams, "HTTP/1.1 503 Service Unavailable": 100 - maxStreams}, counts)
	t.Logf("100 streams asked for: %d accepted, %d refused", counts["HTTP/1.1 200 OK"], counts["HTTP/1.1 503 Service Unavailable"])

	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + l.Addr().String() + "/")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, "the page is served while the streams are full")
	assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"), "the page holds the token")

	first := streams[0]
	start := time.Now()
	body, err := io.ReadAll(first.resp.Body) // until the stream ends
	lived := time.Since(start)
	require.NoError(t, err)
	assert.Contains(t, string(body), "event: version")
	assert.GreaterOrEqual(t, strings.Count(string(body), ": ping"), 5, "a comment line every 100 ms")
	assert.Greater(t, lived, time.Second, "the stream outlived the 500 ms WriteTimeout")
	assert.Less(t, lived, 8*time.Second, "and ended after its life (1.5 s)")

	for _, s := range streams {
		s.conn.Close()
	}
	require.Eventually(t, func() bool { // the pings notice the clients that went away
		s := open()
		defer s.conn.Close()
		return s.status == "HTTP/1.1 200 OK"
	}, 5*time.Second, 50*time.Millisecond, "a place was freed")
}

// A page on another site, in Chromium, cannot read the token from the preview, and its form
// posted to /send is refused: nothing reaches SES.
func TestPreviewCrossSiteInBrowser(t *testing.T) {
	ses, sends := sesStandIn(t)
	_, p := sendingPreview(t, ses.URL)
	preview := httptest.NewServer(hostGuard("127.0.0.1:0", p))
	t.Cleanup(preview.Close)
	var refused atomic.Int64
	counted := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		preview.Config.Handler.ServeHTTP(rec, r)
		if r.URL.Path == "/send" && rec.Code == http.StatusForbidden {
			refused.Add(1)
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}))
	t.Cleanup(counted.Close)
	target := counted.URL // another origin than the attacker's: another port
	attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<!doctype html><body>
<form id="f" method="post" action="%[1]s/send"><input name="to" value="victim@example.com"><input name="usage" value="SignIn">
<input name="locale" value="default"><input name="confirm" value="1"><input name="token" value="guessed"></form>
<script>
window.readToken = fetch(%[1]q + "/").then(r => r.text()).then(t => "read " + t.length, e => "blocked");
</script></body>`, target)
	}))
	t.Cleanup(attacker.Close)

	b := browser(t)
	require.NoError(t, chromedp.Do(b, chromedp.Navigate(attacker.URL)))
	read, err := chromedp.Run(b, chromedp.Evaluate[string](`window.readToken`, chromedp.EvalAwaitPromise))
	require.NoError(t, err)
	assert.Equal(t, "blocked", read, "another origin cannot read the page that holds the token")
	_, err = chromedp.Run(b, chromedp.Evaluate[bool](`document.getElementById('f').submit(), true`))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return refused.Load() == 1 }, 10*time.Second, 50*time.Millisecond, "the cross-site post was refused")
	assert.Equal(t, int64(0), sends.Load(), "nothing reached SES")
}
