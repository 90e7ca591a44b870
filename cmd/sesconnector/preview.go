package main

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"

	ses "github.com/sesconnector/sesconnector"
)

var previewCommand = &command{
	name:    "preview",
	summary: "serve a web page of every template rendered, per usage type and locale, that follows the config as it changes",
	usage:   "-config FILE [-addr 127.0.0.1:8088] [-payload JSON] [-allow-send [-endpoint URL]]",
	example: `sesconnector preview -config ses.json    # then open http://127.0.0.1:8088/`,
	run:     runPreview,
}

//go:embed preview
var previewFiles embed.FS

var pageTemplate = template.Must(template.ParseFS(previewFiles, "preview/page.html"))

func runPreview(ctx context.Context, e *env, c *command, args []string) int {
	fs := c.flags(e)
	configPath := fs.String("config", "", "the connector's JSON config `file` (required)")
	addr := fs.String("addr", "127.0.0.1:8088", "listen `address`; only loopback unless you give another")
	payloadJSON := fs.String("payload", "", "more sample payload as a JSON `object`, editable on the page too")
	allowSend := fs.Bool("allow-send", false, `let the page send a message to an address typed on it ("Send me this"), through the config's SES or -endpoint`)
	endpoint := fs.String("endpoint", "", "with -allow-send: send through this SES endpoint `URL`, e.g. a local Mailpit or the SES emulator")
	if code := c.parseFlags(e, fs, args, "config"); code >= 0 {
		return code
	}
	if msg := checkEndpoint(*endpoint); msg != "" {
		return c.usageError(e, fs, "%s", msg)
	}
	if *endpoint != "" && !*allowSend {
		return c.usageError(e, fs, "-endpoint goes with -allow-send")
	}
	if *allowSend && !loopback(*addr) {
		return c.usageError(e, fs, "-allow-send needs a loopback -addr, such as 127.0.0.1:8088, not %q: the page holds what sends, so on another interface anyone who reaches it could send mail through your SES", *addr)
	}
	if _, err := (sample{Extra: *payloadJSON}).payload(nil); err != nil {
		return c.usageError(e, fs, `-payload %q: give a JSON object, such as '{"name": "Ana"}'`, *payloadJSON)
	}
	p, err := newPreview(*configPath, *payloadJSON)
	if err != nil {
		return fail(e, c, err)
	}
	if *allowSend {
		p.enableSend(*endpoint)
	}
	if err := p.watch(ctx); err != nil {
		return fail(e, c, err)
	}
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		return fail(e, c, err)
	}
	fmt.Fprintf(e.stderr, "sesconnector preview: http://%s/ (Ctrl-C to stop)\n", l.Addr())
	if err := serve(ctx, l, hostGuard(l.Addr().String(), p)); err != nil {
		return fail(e, c, err)
	}
	return exitOK
}

// loopback says whether the listen address addr is on the loopback interface only.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// How the live reload's event streams are bounded: a page holds one, so a few are plenty.
const (
	maxStreams = 32               // open at once; more are answered 503
	streamPing = 15 * time.Second // a comment line this often, so a dead client is noticed
	streamLife = 10 * time.Minute // then the stream ends and the page's EventSource reconnects
)

// preview serves the page for one config file, re-reading it when it changes.
type preview struct {
	path  string
	extra string // -payload

	allowSend bool   // -allow-send
	endpoint  string // -endpoint
	token     string // what every send must carry: made per run, shown only on the page
	sends     sender // "Send me this": one Connector and one HTTP client for the run, rate-bounded

	streams                chan struct{} // a slot per open event stream
	streamPing, streamLife time.Duration

	mu          sync.Mutex
	cfg         *ses.Config // nil while the file does not load
	problems    []string
	loadedAt    time.Time
	version     int64                   // of the config read; the live reload follows it
	subscribers map[chan int64]struct{} // the pages waiting for the next version
}

func newPreview(path, extra string) (*preview, error) {
	if _, err := filepath.Abs(path); err != nil {
		return nil, err
	}
	p := &preview{path: path, extra: extra, subscribers: map[chan int64]struct{}{},
		streams: make(chan struct{}, maxStreams), streamPing: streamPing, streamLife: streamLife}
	p.load()
	return p, nil
}

// load reads the config; a config that does not load keeps its problems for the page.
func (p *preview) load() {
	cfg, err := ses.LoadConfig(p.path)
	var problems []string
	var cerr *ses.ConfigError
	switch {
	case errors.As(err, &cerr):
		for _, pr := range cerr.Problems {
			problems = append(problems, pr.String())
		}
	case err != nil:
		problems = []string{err.Error()}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cfg, p.problems, p.loadedAt = cfg, problems, time.Now()
	p.version++
	for ch := range p.subscribers {
		select {
		case ch <- p.version:
		default: // a page that has not read the last version yet will read this one
		}
	}
}

// watch re-reads the config when its file is written, created, renamed or removed (editors
// often replace the file), until ctx ends. It watches the directory, so that a replaced file
// is seen.
func (p *preview) watch(ctx context.Context) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	if err := w.Add(filepath.Dir(p.path)); err != nil {
		w.Close()
		return err
	}
	name := filepath.Clean(p.path)
	go func() {
		defer w.Close()
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				if filepath.Clean(ev.Name) == name {
					p.load()
				}
			case _, ok := <-w.Errors:
				if !ok {
					return
				}
			}
		}
	}()
	return nil
}

// hostGuard answers only requests whose Host is the address the preview listens on, localhost
// or an IP address: a page on another site that points its own domain name at 127.0.0.1 (DNS
// rebinding) gets 421 and reads nothing. It also keeps every answer from being sniffed as
// another type or framed by another origin.
func hostGuard(listenAddr string, h http.Handler) http.Handler {
	listenHost, _, _ := net.SplitHostPort(listenAddr)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("X-Frame-Options", "DENY")
		host, _, err := net.SplitHostPort(r.Host)
		if err != nil {
			host = r.Host
		}
		host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
		if !strings.EqualFold(host, "localhost") && net.ParseIP(host) == nil && !strings.EqualFold(host, listenHost) {
			http.Error(w, "sesconnector preview answers requests for localhost or "+listenAddr+" only", http.StatusMisdirectedRequest)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func (p *preview) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/style.css", "/preview.js":
		http.ServeFileFS(w, r, previewFiles, "preview"+r.URL.Path)
		return
	case "/events":
		p.events(w, r)
		return
	case "/eml":
		p.eml(w, r)
		return
	case "/send":
		p.send(w, r)
		return
	case "/":
	default:
		http.NotFound(w, r)
		return
	}
	p.mu.Lock()
	cfg, problems, loadedAt, version := p.cfg, p.problems, p.loadedAt, p.version
	p.mu.Unlock()

	q := r.URL.Query()
	if !q.Has("extra") {
		q.Set("extra", p.extra)
	}
	pg := page{ConfigPath: p.path, ConfigName: filepath.Base(p.path), LoadedAt: loadedAt.Format(time.TimeOnly), Version: version,
		Sample: sampleFrom(q), Width: "desktop", Usage: q.Get("usage"), Locale: q.Get("locale"), Problems: problems,
		AllowSend: p.allowSend, Token: p.token}
	if q.Get("width") == "phone" {
		pg.Width = "phone"
	}
	base, err := pg.Sample.payload(nil)
	if err != nil {
		pg.PageWarnings = append(pg.PageWarnings, err.Error())
	}
	if cfg != nil {
		for _, u := range usageTypes {
			pg.Usages = append(pg.Usages, string(u))
		}
		pg.Locales = locales(cfg)
		if pg.Cards, err = buildCards(r.Context(), cfg, base, sampleQuery(pg.Sample), pg.Usage, pg.Locale); err != nil {
			pg.Problems = append(pg.Problems, err.Error())
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store") // the page holds the run's token
	// The frames (srcdoc, sandboxed without scripts) inherit this policy: their templates' own
	// <style> and style= must apply, as in a mail client; the page's one script is its own.
	w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self' 'unsafe-inline'; img-src https: data:; frame-src 'self'; form-action 'self'; frame-ancestors 'none'")
	if err := pageTemplate.Execute(w, pg); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}

// sampleQuery is the sample payload as the page's query carries it.
func sampleQuery(s sample) url.Values {
	return url.Values{"code": {s.Code}, "link": {s.Link}, "organization": {s.Organization}, "extra": {s.Extra}}
}

// events streams the config's version to a page (Server-Sent Events): the current one at once,
// then each new one as the file changes, with a comment line every streamPing so that a client
// that went away is noticed, for streamLife at most; the page's EventSource reconnects and
// compares versions, so no change is missed. At most maxStreams are open at once.
func (p *preview) events(w http.ResponseWriter, r *http.Request) {
	select {
	case p.streams <- struct{}{}:
		defer func() { <-p.streams }()
	default:
		w.Header().Set("Retry-After", "10")
		http.Error(w, fmt.Sprintf("too many live-reload streams (%d are open)", cap(p.streams)), http.StatusServiceUnavailable)
		return
	}
	rc := http.NewResponseController(w)
	ch := make(chan int64, 1)
	p.mu.Lock()
	p.subscribers[ch] = struct{}{}
	version := p.version
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.subscribers, ch)
		p.mu.Unlock()
	}()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	// write sends one event or comment, each within its own write deadline: the server's
	// WriteTimeout would otherwise end every stream after 30 s.
	write := func(format string, args ...any) bool {
		if err := rc.SetWriteDeadline(time.Now().Add(p.streamPing + 5*time.Second)); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return false
		}
		if _, err := fmt.Fprintf(w, format, args...); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !write("retry: 1000\nevent: version\ndata: %d\n\n", version) {
		return
	}
	ping := time.NewTicker(p.streamPing)
	defer ping.Stop()
	end := time.NewTimer(p.streamLife)
	defer end.Stop()
	for {
		select {
		case v := <-ch:
			if !write("event: version\ndata: %d\n\n", v) {
				return
			}
		case <-ping.C:
			if !write(": ping\n\n") {
				return
			}
		case <-end.C:
			return
		case <-r.Context().Done():
			return
		}
	}
}
