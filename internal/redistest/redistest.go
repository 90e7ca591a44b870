// Package redistest starts and stops a real redis-server (Debian's package redis-server) on a
// free loopback port, with no persistence, for tests. Test use only.
package redistest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sesconnector/sesconnector/internal/childproc"
)

// Server is a running redis-server on 127.0.0.1.
type Server struct {
	Addr   string // 127.0.0.1:PORT
	cmd    *exec.Cmd
	exited chan struct{}
	stop   sync.Once
}

// Start runs redis-server on a free loopback port, with nothing saved to disk, and waits until
// it answers PING.
func Start(ctx context.Context) (*Server, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("redis-server not installed (apt-get install redis-server): %w", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s := &Server{Addr: "127.0.0.1:" + strconv.Itoa(port), exited: make(chan struct{})}
	s.cmd = exec.Command(bin, "--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--save", "", "--appendonly", "no",
		"--dir", os.TempDir(), "--protected-mode", "yes")
	s.cmd.SysProcAttr = childproc.Attr()
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting redis-server: %w", err)
	}
	go func() {
		_ = s.cmd.Wait()
		close(s.exited)
	}()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		if ping(s.Addr) == nil {
			return s, nil
		}
		select {
		case <-s.exited:
			return nil, errors.New("redis-server exited at start")
		case <-ctx.Done():
			s.Stop()
			return nil, fmt.Errorf("redis-server did not answer at %s: %w", s.Addr, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// ping asks the server PING in the Redis protocol, and wants +PONG.
func ping(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	buf := make([]byte, 7)
	if _, err := io.ReadFull(conn, buf); err != nil {
		return err
	}
	if string(buf) != "+PONG\r\n" {
		return fmt.Errorf("redis-server answered PING with %q", buf)
	}
	return nil
}

// URL is the server as a REDIS_URL.
func (s *Server) URL() string { return "redis://" + s.Addr + "/0" }

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
			t.Fatalf("redis-server is required under CI: %v", err)
		}
		t.Skipf("SKIPPED, NOT PASSED: %v\n\tInstall it (apt-get install redis-server) and run `make test`.", err)
	}
	t.Cleanup(s.Stop)
	return s
}
