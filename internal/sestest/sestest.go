// Package sestest is an in-process HTTP server that answers like Amazon SES v2 does: JSON
// bodies, and errors typed by the X-Amzn-ErrorType header. It records every request, so tests
// can check the exact wire JSON and headers that the real SDK client sends. Test use only.
package sestest

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// Request is one request as the server received it.
type Request struct {
	Method string
	Path   string
	Header http.Header
	Body   []byte
	JSON   map[string]any // Body decoded, nil when it is not a JSON object
}

// Response is what the server answers one request with.
type Response struct {
	Status    int    // default 200
	ErrorType string // sets X-Amzn-ErrorType, as SES does for its exceptions
	Body      string // default: {"MessageId":"sestest-N"} for 200, {"message":...} for errors
	Hang      bool   // never answer, until the client gives up or the server closes
	NoBody    bool   // answer with an empty body, whatever the status
	Reset     bool   // take the request, then reset the connection without answering (a lost answer)
}

// Responder chooses the answer to the n-th request (1-based).
type Responder func(n int, req Request) Response

// Server is a recording SES-shaped server on 127.0.0.1.
type Server struct {
	*httptest.Server
	mu        sync.Mutex
	requests  []Request
	responder Responder
	done      chan struct{}
}

// New starts a server that answers every request with 200 and a MessageId, and stops it when
// the test ends.
func New(t testing.TB) *Server {
	t.Helper()
	s := &Server{done: make(chan struct{})}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Stop)
	return s
}

// Stop releases hanging requests and closes the server; it is safe to call twice.
func (s *Server) Stop() {
	s.mu.Lock()
	select {
	case <-s.done:
	default:
		close(s.done)
	}
	s.mu.Unlock()
	s.Server.CloseClientConnections()
	s.Server.Close()
}

// Respond sets how the server answers from now on.
func (s *Server) Respond(r Responder) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.responder = r
}

// Requests returns a copy of the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Error is a Responder answer for an SES exception, e.g. Error(400, "MessageRejected", "...").
func Error(status int, errorType, message string) Response {
	return Response{Status: status, ErrorType: errorType, Body: fmt.Sprintf(`{"message":%q}`, message)}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	req := Request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body}
	_ = json.Unmarshal(body, &req.JSON)

	s.mu.Lock()
	s.requests = append(s.requests, req)
	n, responder := len(s.requests), s.responder
	s.mu.Unlock()

	resp := Response{}
	if responder != nil {
		resp = responder(n, req)
	}
	if resp.Reset {
		ResetConnection(w)
		return
	}
	if resp.Hang {
		select {
		case <-r.Context().Done():
		case <-s.done:
		}
		return
	}
	if resp.Status == 0 {
		resp.Status = http.StatusOK
	}
	if resp.Body == "" && resp.Status == http.StatusOK && !resp.NoBody {
		resp.Body = fmt.Sprintf(`{"MessageId":"sestest-%d"}`, n)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-RequestId", fmt.Sprintf("sestest-request-%d", n))
	if resp.ErrorType != "" {
		w.Header().Set("X-Amzn-ErrorType", resp.ErrorType+":http://internal.amazon.com/coral/com.amazonaws.sesv2/")
	}
	w.WriteHeader(resp.Status)
	_, _ = io.WriteString(w, resp.Body)
}

// ResetConnection closes the request's connection with a TCP reset: the request was read, and
// its answer is lost.
func ResetConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	conn.Close()
}
