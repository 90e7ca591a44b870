package feedback

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/sync/singleflight"
)

// Bounds of the certificate cache.
const (
	certFetchTimeout = 10 * time.Second // one fetch, shared by every request that waits for it
	certFailureTTL   = 5 * time.Second  // a failed fetch is remembered this long: a retried forgery downloads nothing
	maxCachedCerts   = 64               // SNS rotates its certificate rarely; a forger's URLs must not grow the cache
	maxCertSize      = 64 << 10         // SNS's certificate is under 4 KiB
)

// errFetch is a certificate that could not be fetched: the message may be genuine, so the
// handler answers 500 and SNS tries again.
var errFetch = errors.New("feedback: fetching the SNS signing certificate")

// certCache fetches each signing certificate once, however many messages ask for it at once.
// The fetch runs on a context of its own with its own timeout, so that no request's end fails
// it for the others, and each request waits only as long as its own context lets it.
type certCache struct {
	client *http.Client   // follows no redirect
	roots  *x509.CertPool // WithCertificates: the certificate must chain to these or the system's
	cache  *lru.Cache[string, *certEntry]
	group  singleflight.Group
	now    func() time.Time
}

// certEntry is a fetched certificate with the intermediates its file held, or a failed fetch
// until retryAt.
type certEntry struct {
	leaf          *x509.Certificate
	intermediates []*x509.Certificate
	err           error
	retryAt       time.Time
}

func newCertCache() certCache {
	cache, _ := lru.New[string, *certEntry](maxCachedCerts) // errs only for a size <= 0
	return certCache{client: noRedirects(&http.Client{Timeout: certFetchTimeout}), cache: cache, now: time.Now}
}

// noRedirects returns a copy of c that stops at the first answer: a redirect from an SNS URL
// could lead anywhere.
func noRedirects(c *http.Client) *http.Client {
	cc := *c
	cc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &cc
}

// get returns the certificate at certURL, from the cache or fetched.
func (c *certCache) get(ctx context.Context, certURL string) (*certEntry, error) {
	if e, ok := c.cache.Get(certURL); ok && (e.err == nil || c.now().Before(e.retryAt)) {
		return e, e.err
	}
	ch := c.group.DoChan(certURL, func() (any, error) {
		fetchCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), certFetchTimeout)
		defer cancel()
		e, err := c.fetch(fetchCtx, certURL)
		if err != nil {
			e = &certEntry{err: err, retryAt: c.now().Add(certFailureTTL)}
		}
		c.cache.Add(certURL, e)
		return e, err
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*certEntry), nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: gave up waiting: %w", errFetch, ctx.Err())
	}
}

func (c *certCache) fetch(ctx context.Context, certURL string) (*certEntry, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, certURL, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errFetch, err)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errFetch, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: %s answered %s", errFetch, certURL, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxCertSize+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errFetch, err)
	}
	if len(data) > maxCertSize {
		return nil, fmt.Errorf("%w: the certificate at SigningCertURL is over %d bytes", ErrUnverified, maxCertSize)
	}
	return parseCertificates(data)
}

// parseCertificates reads the PEM certificates of a file: the first is the signing
// certificate, any others its intermediates.
func parseCertificates(data []byte) (*certEntry, error) {
	var e certEntry
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: the signing certificate does not parse: %v", ErrUnverified, err)
		}
		if e.leaf == nil {
			e.leaf = cert
		} else {
			e.intermediates = append(e.intermediates, cert)
		}
	}
	if e.leaf == nil {
		return nil, fmt.Errorf("%w: SigningCertURL does not hold a PEM certificate", ErrUnverified)
	}
	return &e, nil
}

// verify checks m: what needs no fetch first, then the certificate's name, dates and chain
// (when the file holds intermediates or WithCertificates gave roots), then the signature.
func (c *certCache) verify(ctx context.Context, m *snsMessage) error {
	hash, sig, at, err := checkMessage(m)
	if err != nil {
		return err
	}
	e, err := c.get(ctx, m.SigningCertURL)
	if err != nil {
		return err
	}
	if err := checkCertificate(e.leaf, at); err != nil {
		return err
	}
	if len(e.intermediates) > 0 || c.roots != nil {
		if err := verifyChain(e.leaf, e.intermediates, c.roots, at); err != nil {
			return err
		}
	}
	return verifySignature(e.leaf, m, hash, sig)
}
