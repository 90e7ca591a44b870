// Package childproc runs the helper servers of the tests and the demo (the SES emulator,
// redis-server, moto_server) on a free loopback port, so that they never outlive the process
// that started them, and fails or skips a test that needs one it cannot start.
package childproc

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"
)

// Process is a running helper server.
type Process struct {
	name   string
	cmd    *exec.Cmd
	exited chan struct{}
	output Buffer
	stop   sync.Once
}

// FreePort returns a loopback port that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Start runs cmd (its output kept for errors), and calls ready every 50 ms until it returns
// nil, the process exits, or timeout passes.
func Start(ctx context.Context, name string, cmd *exec.Cmd, timeout time.Duration, ready func() error) (*Process, error) {
	p := &Process{name: name, cmd: cmd, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = &p.output, &p.output
	cmd.SysProcAttr = attr(cmd.SysProcAttr)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	go func() {
		_ = cmd.Wait()
		close(p.exited)
	}()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if ready() == nil {
			return p, nil
		}
		select {
		case <-p.exited:
			return nil, fmt.Errorf("%s exited at start: %s", name, p.output.String())
		case <-ctx.Done():
			p.Stop()
			return nil, fmt.Errorf("%s did not answer within %v: %s", name, timeout, p.output.String())
		case <-tick.C:
		}
	}
}

// Stop ends the process (an interrupt, then a kill after 3 s) and waits for it; it is safe to
// call more than once.
func (p *Process) Stop() {
	p.stop.Do(func() {
		_ = p.cmd.Process.Signal(os.Interrupt)
		select {
		case <-p.exited:
		case <-time.After(3 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	})
}

// Pid is the process's ID.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Output is what the process printed, up to 64 KiB.
func (p *Process) Output() string { return p.output.String() }

// AllowMissing is the variable that lets tests whose real part is missing be skipped instead
// of failing: SESCONNECTOR_ALLOW_MISSING=1. Skipped is the file each skip is written to, one
// line each, when set (make test sets it, and ends with the list).
const (
	AllowMissing = "SESCONNECTOR_ALLOW_MISSING"
	Skipped      = "SESCONNECTOR_SKIPPED"
)

// Need ends a test that could not start a real part (the SES emulator, moto_server,
// redis-server, Chromium): it fails, saying how to install the part, unless
// SESCONNECTOR_ALLOW_MISSING=1 opts out, and then it is skipped and listed in the file named by
// SESCONNECTOR_SKIPPED, so that the run ends with a loud list of what did not run.
func Need(t testing.TB, err error, install string) {
	t.Helper()
	if os.Getenv(AllowMissing) != "1" {
		t.Fatalf("a real part this test needs is missing: %v\n\t%s\n\t(%s=1 skips such tests instead, and make test lists them)", err, install, AllowMissing)
	}
	if path := os.Getenv(Skipped); path != "" {
		if f, ferr := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); ferr == nil {
			fmt.Fprintf(f, "%s: %v (%s)\n", t.Name(), err, install)
			f.Close()
		}
	}
	t.Skipf("SKIPPED, NOT PASSED: %v\n\t%s", err, install)
}

// Buffer collects output from several goroutines, up to 64 KiB.
type Buffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.buf) < 64<<10 {
		b.buf = append(b.buf, p...)
	}
	return len(p), nil
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
