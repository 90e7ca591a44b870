// Package motoserver starts and stops moto_server (Python's moto, which emulates SES, SNS and
// SQS, and SES's mailbox simulator) on a free loopback port, for tests. Install it with
// `pip install "moto[server]"`; `make test` does so where moto_server is missing.
package motoserver

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/sesconnector/sesconnector/internal/childproc"
)

// Server is a running moto_server on 127.0.0.1.
type Server struct {
	*childproc.Process
	URL string // http://127.0.0.1:PORT, the endpoint of every service
}

// Start runs moto_server on a free loopback port and waits until it answers.
func Start(ctx context.Context) (*Server, error) {
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		return nil, fmt.Errorf(`moto_server not installed (pip install "moto[server]"): %w`, err)
	}
	port, err := childproc.FreePort()
	if err != nil {
		return nil, err
	}
	s := &Server{URL: "http://127.0.0.1:" + strconv.Itoa(port)}
	s.Process, err = childproc.Start(ctx, "moto_server", exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port)), 30*time.Second, func() error {
		resp, err := http.Get(s.URL + "/moto-api/")
		if err == nil {
			resp.Body.Close()
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// StartForTest starts a server for one test and stops it when the test ends; where it cannot
// start, the test fails (see childproc.Need).
func StartForTest(t testing.TB) *Server {
	t.Helper()
	s, err := Start(context.Background())
	if err != nil {
		childproc.Need(t, err, "Run `make test`, which installs moto_server where it is missing.")
	}
	t.Cleanup(s.Stop)
	return s
}
