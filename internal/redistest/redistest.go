// Package redistest starts and stops a real redis-server (Debian's package redis-server) on a
// free loopback port, with no persistence, for tests. Test use only.
package redistest

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/sesconnector/sesconnector/internal/childproc"
)

// Server is a running redis-server on 127.0.0.1.
type Server struct {
	*childproc.Process
	Addr string // 127.0.0.1:PORT
}

// Start runs redis-server on a free loopback port, with nothing saved to disk, and waits until
// it answers PING.
func Start(ctx context.Context) (*Server, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("redis-server not installed (apt-get install redis-server): %w", err)
	}
	port, err := childproc.FreePort()
	if err != nil {
		return nil, err
	}
	s := &Server{Addr: "127.0.0.1:" + strconv.Itoa(port)}
	cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--save", "", "--appendonly", "no",
		"--dir", os.TempDir(), "--protected-mode", "yes")
	s.Process, err = childproc.Start(ctx, "redis-server", cmd, 10*time.Second, func() error { return ping(s.Addr) })
	if err != nil {
		return nil, err
	}
	return s, nil
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

// StartForTest starts a server for one test and stops it when the test ends; where it cannot
// start, the test fails (see childproc.Need).
func StartForTest(t testing.TB) *Server {
	t.Helper()
	s, err := Start(context.Background())
	if err != nil {
		childproc.Need(t, err, "Install it (apt-get install redis-server) and run `make test`.")
	}
	t.Cleanup(s.Stop)
	return s
}
