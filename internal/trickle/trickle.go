// Package trickle is a slow HTTP client for tests: it sends a request's headers, then its body
// one byte every two seconds, as a slowloris attack does, and reports how long the server kept
// the connection open. Test use only; loopback addresses only.
package trickle

import (
	"fmt"
	"io"
	"net"
	"time"
)

// Interval is the pause between two bytes of the body.
const Interval = 2 * time.Second

// HeldFor sends a POST to path at addr (host:port on loopback) announcing a body of 1 KiB and
// trickles it, and returns how long passed until the server closed the connection. It gives up
// after limit, returning limit.
func HeldFor(addr, path string, limit time.Duration) (time.Duration, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	start := time.Now()
	if _, err := fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 1024\r\n\r\n", path, addr); err != nil {
		return 0, err
	}
	closed := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, conn) // whatever the server answers, until it closes
		close(closed)
	}()
	tick := time.NewTicker(Interval)
	defer tick.Stop()
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	for {
		select {
		case <-closed:
			return time.Since(start), nil
		case <-deadline.C:
			return limit, nil
		case <-tick.C:
			_, _ = conn.Write([]byte{' '}) // a write to a closed connection fails; the read sees it first
		}
	}
}
