// Package sessink is a minimal SES v2 SendEmail endpoint for benchmarks: it answers every
// POST /v2/email/outbound-emails with a MessageId, as fast as it can, and counts the requests
// whose subject carries a rendered code, so a benchmark can prove that every send arrived whole.
package sessink

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
)

// Handler answers SendEmail and keeps counts. The zero value is ready to use.
type Handler struct {
	requests atomic.Int64 // SendEmail requests received
	rendered atomic.Int64 // of them, with a rendered code in the subject
	codeSum  atomic.Int64 // the sum of those codes
	conns    atomic.Int64 // connections opened, counted by ConnState
}

// Stats is what the sink has seen.
type Stats struct {
	Requests int64 `json:"requests"`
	Rendered int64 `json:"rendered"`
	CodeSum  int64 `json:"codeSum"`
	Conns    int64 `json:"conns"` // new connections, when the server's ConnState is the Handler's
}

// Stats returns the counts so far.
func (h *Handler) Stats() Stats {
	return Stats{Requests: h.requests.Load(), Rendered: h.rendered.Load(), CodeSum: h.codeSum.Load(), Conns: h.conns.Load()}
}

// ConnState counts new connections; set it as the http.Server's ConnState.
func (h *Handler) ConnState(_ net.Conn, state http.ConnState) {
	if state == http.StateNew {
		h.conns.Add(1)
	}
}

// Reset zeroes the counts.
func (h *Handler) Reset() {
	h.requests.Store(0)
	h.rendered.Store(0)
	h.codeSum.Store(0)
	h.conns.Store(0)
}

var okBody = []byte(`{"MessageId":"0100018c-sink"}`)

// sendEmail is the part of the SendEmail JSON the sink reads.
type sendEmail struct {
	Content struct {
		Simple struct {
			Subject struct {
				Data string
			}
		}
	}
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/v2/email/outbound-emails":
		h.requests.Add(1)
		var in sendEmail
		if err := json.NewDecoder(r.Body).Decode(&in); err == nil {
			if code, ok := lastNumber(in.Content.Simple.Subject.Data); ok {
				h.rendered.Add(1)
				h.codeSum.Add(code)
			}
		}
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(okBody)
	case r.URL.Path == "/stats":
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(h.Stats())
	case r.URL.Path == "/reset":
		h.Reset()
	default:
		http.NotFound(w, r)
	}
}

// lastNumber parses the digits that end s: the code of a subject such as "Your code is 123456".
func lastNumber(s string) (int64, bool) {
	i := len(s)
	for i > 0 && s[i-1] >= '0' && s[i-1] <= '9' {
		i--
	}
	n, err := strconv.ParseInt(s[i:], 10, 64)
	return n, err == nil
}
