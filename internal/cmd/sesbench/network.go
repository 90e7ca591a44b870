package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// This file is the realistic network of -realistic: a TLS sink with a CA of its own, and a
// loopback proxy that adds round-trip time.

// pki is the CA and the sink's certificate, as files: the CA goes to every client through
// AWS_CA_BUNDLE (Go) or NODE_EXTRA_CA_CERTS (Node.js).
type pki struct{ dir, caFile, certFile, keyFile string }

// newPKI makes a CA and an ECDSA P-256 certificate for 127.0.0.1 (cheap to sign with, so that
// the sink's handshakes do not eat the 2 cores).
func newPKI() (*pki, error) {
	dir, err := os.MkdirTemp("", "sesbench-pki")
	if err != nil {
		return nil, err
	}
	p := &pki{dir: dir, caFile: filepath.Join(dir, "ca.pem"), certFile: filepath.Join(dir, "cert.pem"), keyFile: filepath.Join(dir, "key.pem")}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sesbench CA"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour)}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "sesbench sink"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour)}, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	for file, block := range map[string]*pem.Block{p.caFile: {Type: "CERTIFICATE", Bytes: caDER}, p.certFile: {Type: "CERTIFICATE", Bytes: der}, p.keyFile: {Type: "EC PRIVATE KEY", Bytes: keyDER}} {
		if err := os.WriteFile(file, pem.EncodeToMemory(block), 0o600); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// tlsClientConfig trusts the CA, for the parent's own calls to the sink.
func (p *pki) tlsClientConfig() (*tls.Config, error) {
	data, err := os.ReadFile(p.caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(data)
	return &tls.Config{RootCAs: pool}, nil
}

// latencyProxy forwards loopback TCP connections to target, delaying every chunk by half a
// round trip in each direction, and holding a new connection's first bytes one round trip
// more (TCP's connect). TLS passes through it untouched.
type latencyProxy struct {
	l      net.Listener
	target string
	rtt    time.Duration
	conns  atomic.Int64
	wg     sync.WaitGroup
}

// serveProxy runs the proxy until killed, printing its address as a URL.
func serveProxy(target string, rtt time.Duration) error {
	p, err := startProxy(target, rtt)
	if err != nil {
		return err
	}
	fmt.Printf("http://%s\n", p.addr())
	p.wg.Wait()
	return nil
}

func startProxy(target string, rtt time.Duration) (*latencyProxy, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &latencyProxy{l: l, target: target, rtt: rtt}
	p.wg.Go(p.accept)
	return p, nil
}

func (p *latencyProxy) addr() string { return p.l.Addr().String() }

func (p *latencyProxy) close() {
	p.l.Close()
	p.wg.Wait()
}

func (p *latencyProxy) accept() {
	for {
		client, err := p.l.Accept()
		if err != nil {
			return
		}
		p.conns.Add(1)
		go p.forward(client)
	}
}

func (p *latencyProxy) forward(client net.Conn) {
	defer client.Close()
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer server.Close()
	connected := time.Now().Add(p.rtt) // the handshake's round trip
	done := make(chan struct{}, 2)
	go func() { delayCopy(server, client, p.rtt/2, connected); done <- struct{}{} }()
	go func() { delayCopy(client, server, p.rtt/2, time.Time{}); done <- struct{}{} }()
	<-done
	client.Close()
	server.Close()
	<-done
}

// delayCopy copies src to dst, each chunk written delay after it was read, and none before
// notBefore.
func delayCopy(dst, src net.Conn, delay time.Duration, notBefore time.Time) {
	type chunk struct {
		data []byte
		at   time.Time
	}
	queue := make(chan chunk, 256)
	go func() {
		defer close(queue)
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				at := time.Now().Add(delay)
				if at.Before(notBefore) {
					at = notBefore
				}
				queue <- chunk{append([]byte(nil), buf[:n]...), at}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range queue {
		if d := time.Until(c.at); d > 0 {
			time.Sleep(d)
		}
		if _, err := dst.Write(c.data); err != nil {
			for range queue { // let the reader finish; forward closes both ends
			}
			return
		}
	}
	if tc, ok := dst.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
}
