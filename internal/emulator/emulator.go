// Package emulator starts and stops aws-ses-v2-local, the SES v2 emulator pinned by
// package.json and package-lock.json beside this file, and reads the mail it stored. It is for
// the integration tests and the demo; install the emulator with `make emulator`
// (npm ci --prefix internal/emulator).
package emulator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
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
	*childproc.Process
	URL string // http://127.0.0.1:PORT
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
	return StartOn(ctx, 0, env...)
}

// StartOn is Start on 127.0.0.1:port, or on a free port when port is 0.
func StartOn(ctx context.Context, port int, env ...string) (*Emulator, error) {
	cli := filepath.Join(Dir(), "node_modules", "aws-ses-v2-local", "dist", "cli.js")
	if _, err := os.Stat(cli); err != nil {
		return nil, fmt.Errorf("%w (%s is missing)", ErrNotInstalled, cli)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("%w (%v)", ErrNotInstalled, err)
	}
	if port == 0 {
		if port, err = childproc.FreePort(); err != nil {
			return nil, err
		}
	}
	e := &Emulator{URL: "http://127.0.0.1:" + strconv.Itoa(port)}
	cmd := exec.Command(node, cli, "--host", "127.0.0.1", "--port", strconv.Itoa(port))
	cmd.Env = append(os.Environ(), env...)
	e.Process, err = childproc.Start(ctx, "the SES emulator", cmd, startTimeout, func() error {
		resp, err := http.Get(e.URL + "/health-check")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return errors.New(resp.Status)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return e, nil
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

// StartForTest starts an emulator for one test and stops it when the test ends; where it
// cannot start, the test fails (see childproc.Need).
func StartForTest(t testing.TB, env ...string) *Emulator {
	t.Helper()
	e, err := Start(context.Background(), env...)
	if err != nil {
		childproc.Need(t, err, "Run `make test`, or `make emulator` and then go test.")
	}
	t.Cleanup(e.Stop)
	return e
}
