// Package cutproxy is a TCP proxy on loopback that a test uses to inject network faults between
// a client and a real server (Redis, an SES stand-in): cut (every connection closed, new ones
// refused), blackholed (connections accepted and bytes swallowed, nothing answered), slowed
// (every answer delayed), and pointed at another server (one restarted on a new port).
// Test use only; it stops when the test ends.
package cutproxy

import (
	"net"
	"net/url"
	"sync"
	"testing"
	"time"
)

// Proxy forwards connections to one target, with the fault the test sets.
type Proxy struct {
	URL    string // http://127.0.0.1:PORT, the proxy's address in the target's URL form
	Addr   string // 127.0.0.1:PORT
	scheme string
	l      net.Listener

	mu        sync.Mutex
	target    string
	cut       bool
	blackhole bool
	delay     time.Duration
	conns     map[net.Conn]struct{}
	wg        sync.WaitGroup
}

// Start proxies to targetURL (scheme://host:port) from a free loopback port.
func Start(t testing.TB, targetURL string) *Proxy {
	t.Helper()
	u, err := url.Parse(targetURL)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{URL: u.Scheme + "://" + l.Addr().String(), Addr: l.Addr().String(), scheme: u.Scheme, target: u.Host, l: l, conns: map[net.Conn]struct{}{}}
	p.wg.Go(p.accept)
	t.Cleanup(func() {
		l.Close()
		p.Cut()
		p.wg.Wait()
	})
	return p
}

func (p *Proxy) accept() {
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			c.Close()
			continue
		}
		p.mu.Lock()
		target, blackhole := p.target, p.blackhole
		p.mu.Unlock()
		if blackhole { // accepted, and never answered
			p.wg.Go(func() { p.pipe(nil, c) })
			continue
		}
		up, err := net.DialTimeout("tcp", target, time.Second)
		if err != nil || !p.track(up) {
			c.Close()
			if up != nil {
				up.Close()
			}
			continue
		}
		p.wg.Go(func() { p.pipe(up, c) })
		p.wg.Go(func() { p.pipe(c, up) })
	}
}

// pipe copies src to dst (nil: nowhere) chunk by chunk, as the fault of the moment says:
// blackholed, a chunk is swallowed; slowed, each chunk waits the delay first.
func (p *Proxy) pipe(dst, src net.Conn) {
	defer func() {
		src.Close()
		if dst != nil {
			dst.Close()
		}
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			blackhole, delay := p.blackhole, p.delay
			p.mu.Unlock()
			if delay > 0 {
				time.Sleep(delay)
			}
			if dst != nil && !blackhole {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
		}
		if err != nil {
			return
		}
	}
}

// track keeps c to close on a cut; it refuses while cut.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

// Cut closes every connection, and every new one, until Restore.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

// Blackhole keeps every connection open and swallows what crosses it, in both directions,
// until Restore: the peer on either side hears nothing, as behind a dead route.
func (p *Proxy) Blackhole() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.blackhole = true
}

// Delay holds every chunk d before passing it on, until Restore (d = 0 ends it too).
func (p *Proxy) Delay(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.delay = d
}

// SetTarget sends new connections to addr (host:port): a server restarted on another port.
func (p *Proxy) SetTarget(addr string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.target = addr
}

// Restore ends every fault: connections go through again, at once.
func (p *Proxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut, p.blackhole, p.delay = false, false, 0
}
