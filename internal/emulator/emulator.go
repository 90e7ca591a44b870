// Package emulator starts and stops aws-ses-v2-local, the SES v2 emulator pinned by
// package.json and package-lock.json beside this file, and reads the mail it stored. It is for
// the integration tests and the demo; install the emulator with `make emulator`
// (npm ci --prefix internal/emulator).
package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sesconnector/sesconnector/internal/childproc"
)

// ErrNotInstalled means node or the emulator's npm package is missing.
var ErrNotInstalled = errors.New("SES emulator not installed: run `make emulator` (npm ci --prefix internal/emulator); it needs Node.js and npm")

// Email is one message as the emulator stored it (its GET /store format).
type Email struct {
	MessageID   string   `json:"messageId"`
	From        string   `json:"from"`
	ReplyTo     []string `json:"replyTo"`
	Destination struct {
		To  []string `json:"to"`
		Cc  []string `json:"cc"`
		Bcc []string `json:"bcc"`
	} `json:"destination"`
	Subject string `json:"subject"`
	Body    struct {
		HTML string `json:"html"`
		Text string `json:"text"`
	} `json:"body"`
	Headers []struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	} `json:"headers"`
	At int64 `json:"at"`
}

// Emulator is a running aws-ses-v2-local on 127.0.0.1.
type Emulator struct {
	URL    string // http://127.0.0.1:PORT
	cmd    *exec.Cmd
	exited chan struct{}
	output *syncBuffer
	stop   sync.Once
}

// Dir is the folder holding package.json and, once installed, node_modules.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(file)
}

// startTimeout bounds how long Start waits for the emulator to answer.
const startTimeout = 20 * time.Second

// Start runs the emulator on a free loopback port with extra environment variables (such as
// AWS_SES_ACCOUNT) and waits until it answers. Stop it with Stop.
func Start(ctx context.Context, env ...string) (*Emulator, error) {
	cli := filepath.Join(Dir(), "node_modules", "aws-ses-v2-local", "dist", "cli.js")
	if _, err := os.Stat(cli); err != nil {
		return nil, fmt.Errorf("%w (%s is missing)", ErrNotInstalled, cli)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("%w (%v)", ErrNotInstalled, err)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	e := &Emulator{URL: "http://127.0.0.1:" + strconv.Itoa(port), exited: make(chan struct{}), output: &syncBuffer{}}
	e.cmd = exec.Command(node, cli, "--host", "127.0.0.1", "--port", strconv.Itoa(port))
	e.cmd.Env = append(os.Environ(), env...)
	e.cmd.Stdout, e.cmd.Stderr = e.output, e.output
	e.cmd.SysProcAttr = childproc.Attr()
	if err := e.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the SES emulator: %w", err)
	}
	go func() {
		_ = e.cmd.Wait()
		close(e.exited)
	}()
	if err := e.waitReady(ctx); err != nil {
		e.Stop()
		return nil, err
	}
	return e, nil
}

func (e *Emulator) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if resp, err := http.Get(e.URL + "/health-check"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-e.exited:
			return fmt.Errorf("the SES emulator exited at start: %s", e.output.String())
		case <-ctx.Done():
			return fmt.Errorf("the SES emulator did not answer at %s within %v: %s", e.URL, startTimeout, e.output.String())
		case <-tick.C:
		}
	}
}

// Stop ends the emulator and waits for it; it is safe to call more than once.
func (e *Emulator) Stop() {
	e.stop.Do(func() {
		_ = e.cmd.Process.Signal(os.Interrupt)
		select {
		case <-e.exited:
		case <-time.After(3 * time.Second):
			_ = e.cmd.Process.Kill()
			<-e.exited
		}
	})
}

// Clear empties the emulator's store.
func (e *Emulator) Clear() error {
	resp, err := http.Post(e.URL+"/clear-store", "application/json", nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("clearing the emulator's store: %s", resp.Status)
	}
	return nil
}

// Store returns GET /store as the emulator answers it.
func (e *Emulator) Store() ([]byte, error) {
	resp, err := http.Get(e.URL + "/store")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("reading the emulator's store: %s", resp.Status)
	}
	return body, err
}

// Emails returns the stored messages, oldest first.
func (e *Emulator) Emails() ([]Email, error) {
	body, err := e.Store()
	if err != nil {
		return nil, err
	}
	var store struct {
		Emails []Email `json:"emails"`
	}
	if err := json.Unmarshal(body, &store); err != nil {
		return nil, fmt.Errorf("decoding the emulator's store: %w", err)
	}
	return store.Emails, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// syncBuffer collects the emulator's output for error messages.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// StartForTest starts an emulator for one test and stops it when the test ends. Where it cannot
// start, the test fails under CI (CI=true), and is skipped, loudly, on a developer's machine.
func StartForTest(t testing.TB, env ...string) *Emulator {
	t.Helper()
	e, err := Start(context.Background(), env...)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the SES emulator is required under CI: %v", err)
		}
		t.Skipf("SKIPPED, NOT PASSED: the SES emulator could not start: %v\n\tRun `make test`, or `make emulator` and then go test.", err)
	}
	t.Cleanup(e.Stop)
	return e
}
