// Package motoserver starts and stops moto_server (Python's moto, which emulates SES, SNS and
// SQS, and SES's mailbox simulator) on a free loopback port, for tests. Install it with
// `pip install "moto[server]"`; `make test` does so where moto_server is missing.
package motoserver

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sesconnector/sesconnector/internal/childproc"
)

// Server is a running moto_server on 127.0.0.1.
type Server struct {
	URL    string // http://127.0.0.1:PORT, the endpoint of every service
	cmd    *exec.Cmd
	exited chan struct{}
	stop   sync.Once
	output syncBuffer
}

// Start runs moto_server on a free loopback port and waits until it answers.
func Start(ctx context.Context) (*Server, error) {
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		return nil, fmt.Errorf(`moto_server not installed (pip install "moto[server]"): %w`, err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s := &Server{URL: "http://127.0.0.1:" + strconv.Itoa(port), exited: make(chan struct{})}
	s.cmd = exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	s.cmd.Stdout, s.cmd.Stderr = &s.output, &s.output
	s.cmd.SysProcAttr = childproc.Attr()
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting moto_server: %w", err)
	}
	go func() {
		_ = s.cmd.Wait()
		close(s.exited)
	}()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		if resp, err := http.Get(s.URL + "/moto-api/"); err == nil {
			resp.Body.Close()
			return s, nil
		}
		select {
		case <-s.exited:
			return nil, fmt.Errorf("moto_server exited at start: %s", s.output.String())
		case <-ctx.Done():
			s.Stop()
			return nil, fmt.Errorf("moto_server did not answer at %s: %s", s.URL, s.output.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Stop ends the server and waits for it; it is safe to call more than once.
func (s *Server) Stop() {
	s.stop.Do(func() {
		_ = s.cmd.Process.Signal(os.Interrupt)
		select {
		case <-s.exited:
		case <-time.After(3 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.exited
		}
	})
}

// StartForTest starts a server for one test and stops it when the test ends. Where it cannot
// start, the test fails under CI (CI=true), and is skipped, loudly, on a developer's machine.
func StartForTest(t testing.TB) *Server {
	t.Helper()
	s, err := Start(context.Background())
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("moto_server is required under CI: %v", err)
		}
		t.Skipf("SKIPPED, NOT PASSED: %v\n\tRun `make test`, which installs it where it is missing.", err)
	}
	t.Cleanup(s.Stop)
	return s
}

type syncBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.buf) < 64<<10 {
		b.buf = append(b.buf, p...)
	}
	return len(p), nil
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
