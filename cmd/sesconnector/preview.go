package main

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"

	ses "github.com/sesconnector/sesconnector"
)

var previewCommand = &command{
	name:    "preview",
	summary: "serve a web page of every template rendered, per usage type and locale, re-read when the config changes",
	usage:   "-config FILE [-addr 127.0.0.1:8025] [-payload JSON]",
	example: `sesconnector preview -config ses.json    # then open http://127.0.0.1:8025/`,
	run:     runPreview,
}

//go:embed preview
var previewFiles embed.FS

var pageTemplate = template.Must(template.ParseFS(previewFiles, "preview/page.html"))

func runPreview(ctx context.Context, e *env, c *command, args []string) int {
	fs := c.flags(e)
	configPath := fs.String("config", "", "the connector's JSON config `file` (required)")
	addr := fs.String("addr", "127.0.0.1:8025", "listen `address`; only loopback unless you give another")
	payloadJSON := fs.String("payload", "", "more sample payload as a JSON `object`, editable on the page too")
	if code := c.parseFlags(e, fs, args, "config"); code >= 0 {
		return code
	}
	p, err := newPreview(*configPath, *payloadJSON)
	if err != nil {
		return fail(e, c, err)
	}
	if err := p.watch(ctx); err != nil {
		return fail(e, c, err)
	}
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		return fail(e, c, err)
	}
	fmt.Fprintf(e.stderr, "sesconnector preview: http://%s/ (Ctrl-C to stop)\n", l.Addr())
	if err := serve(ctx, l, p); err != nil {
		return fail(e, c, err)
	}
	return exitOK
}

// preview serves the page for one config file, re-reading it when it changes.
type preview struct {
	path  string
	extra string // -payload

	mu       sync.Mutex
	cfg      *ses.Config // nil while the file does not load
	problems []string
	loadedAt time.Time
}

func newPreview(path, extra string) (*preview, error) {
	if _, err := filepath.Abs(path); err != nil {
		return nil, err
	}
	p := &preview{path: path, extra: extra}
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

func (p *preview) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/style.css":
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		http.ServeFileFS(w, r, previewFiles, "preview/style.css")
		return
	case "/":
	default:
		http.NotFound(w, r)
		return
	}
	p.mu.Lock()
	cfg, problems, loadedAt := p.cfg, p.problems, p.loadedAt
	p.mu.Unlock()

	q := r.URL.Query()
	if !q.Has("extra") {
		q.Set("extra", p.extra)
	}
	pg := page{ConfigPath: p.path, ConfigName: filepath.Base(p.path), LoadedAt: loadedAt.Format(time.TimeOnly), Sample: sampleFrom(q), Problems: problems}
	base, err := pg.Sample.payload(nil)
	if err != nil {
		pg.PageWarnings = append(pg.PageWarnings, err.Error())
	}
	if cfg != nil {
		if pg.Rows, err = buildRows(r.Context(), cfg, base); err != nil {
			pg.Problems = append(pg.Problems, err.Error())
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src https: data:; frame-src 'self'; form-action 'self'")
	if err := pageTemplate.Execute(w, pg); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}
