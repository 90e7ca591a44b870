package feedback

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"

	"golang.org/x/sync/singleflight"
)

// This file verifies SNS messages, as AWS documents it: the certificate at SigningCertURL (https,
// on an SNS host) signs a canonical string of the message's fields with SHA1withRSA
// (SignatureVersion 1) or SHA256withRSA (2).

// ErrUnverified reports an SNS message whose signature could not be verified; the error says
// which check failed.
var ErrUnverified = errors.New("feedback: SNS message not verified")

// snsMessage is an SNS HTTP(S) delivery: a Notification, SubscriptionConfirmation or
// UnsubscribeConfirmation.
type snsMessage struct {
	Type             string  `json:"Type"`
	MessageID        string  `json:"MessageId"`
	Token            string  `json:"Token"`
	TopicArn         string  `json:"TopicArn"`
	Subject          *string `json:"Subject"` // signed only when present
	Message          string  `json:"Message"`
	Timestamp        string  `json:"Timestamp"`
	SignatureVersion string  `json:"SignatureVersion"`
	Signature        string  `json:"Signature"`
	SigningCertURL   string  `json:"SigningCertURL"`
	SubscribeURL     string  `json:"SubscribeURL"`
}

// signedString is the canonical form SNS signs: each field's name and value on lines of their
// own, in this order, for the fields of the message's type.
func (m *snsMessage) signedString() (string, error) {
	var b strings.Builder
	add := func(name, value string) {
		b.WriteString(name)
		b.WriteByte('\n')
		b.WriteString(value)
		b.WriteByte('\n')
	}
	switch m.Type {
	case "Notification":
		add("Message", m.Message)
		add("MessageId", m.MessageID)
		if m.Subject != nil {
			add("Subject", *m.Subject)
		}
		add("Timestamp", m.Timestamp)
		add("TopicArn", m.TopicArn)
		add("Type", m.Type)
	case "SubscriptionConfirmation", "UnsubscribeConfirmation":
		add("Message", m.Message)
		add("MessageId", m.MessageID)
		add("SubscribeURL", m.SubscribeURL)
		add("Timestamp", m.Timestamp)
		add("Token", m.Token)
		add("TopicArn", m.TopicArn)
		add("Type", m.Type)
	default:
		return "", fmt.Errorf("%w: Type %q is not an SNS message type", ErrUnverified, m.Type)
	}
	return b.String(), nil
}

// snsHost matches SNS's endpoints: sns.<region>.amazonaws.com, and .com.cn in China.
var snsHost = regexp.MustCompile(`^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$`)

// checkSNSURL accepts only https URLs on an SNS host: a certificate or a confirmation fetched
// from anywhere else could be anyone's.
func checkSNSURL(field, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%w: %s is not a URL", ErrUnverified, field)
	case u.Scheme != "https":
		return nil, fmt.Errorf("%w: %s must be https, not %q", ErrUnverified, field, u.Scheme)
	case !snsHost.MatchString(u.Hostname()) || u.Port() != "" || u.User != nil:
		return nil, fmt.Errorf("%w: %s host %q is not an SNS host (sns.<region>.amazonaws.com)", ErrUnverified, field, u.Host)
	}
	return u, nil
}

// maxCertSize bounds a certificate fetch; SNS's are under 4 KiB.
const maxCertSize = 64 << 10

// certCache fetches each signing certificate once, however many messages ask for it at once.
type certCache struct {
	client *http.Client
	roots  *x509.CertPool // also trusted, beside the system's
	mu     sync.Mutex
	certs  map[string]*x509.Certificate
	group  singleflight.Group
}

// maxCachedCerts bounds the cache; SNS rotates its certificate rarely.
const maxCachedCerts = 64

func (c *certCache) get(ctx context.Context, certURL string) (*x509.Certificate, error) {
	c.mu.Lock()
	cert := c.certs[certURL]
	c.mu.Unlock()
	if cert != nil {
		return cert, nil
	}
	v, err, _ := c.group.Do(certURL, func() (any, error) {
		cert, err := c.fetch(context.WithoutCancel(ctx), certURL)
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		if len(c.certs) >= maxCachedCerts {
			clear(c.certs)
		}
		c.certs[certURL] = cert
		c.mu.Unlock()
		return cert, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*x509.Certificate), nil
}

// errFetch is a certificate that could not be fetched: the message may be genuine, so the
// handler answers 500 and SNS tries again.
var errFetch = errors.New("feedback: fetching the SNS signing certificate")

func (c *certCache) fetch(ctx context.Context, certURL string) (*x509.Certificate, error) {
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
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%w: SigningCertURL does not hold a PEM certificate", ErrUnverified)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: the signing certificate does not parse: %v", ErrUnverified, err)
	}
	if err := c.verifyChain(cert); err != nil {
		return nil, err
	}
	return cert, nil
}

// verifyChain checks that cert chains to a root of the system or of WithCertificates, and is
// valid now.
func (c *certCache) verifyChain(cert *x509.Certificate) error {
	opts := x509.VerifyOptions{KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}
	_, err := cert.Verify(opts) // the system's roots
	if err != nil && c.roots != nil {
		opts.Roots = c.roots
		_, err = cert.Verify(opts)
	}
	if err != nil {
		return fmt.Errorf("%w: the signing certificate does not chain to a trusted root: %v", ErrUnverified, err)
	}
	return nil
}

// verify checks m's signature with the certificate at its SigningCertURL.
func (c *certCache) verify(ctx context.Context, m *snsMessage) error {
	var hash crypto.Hash
	switch m.SignatureVersion {
	case "1":
		hash = crypto.SHA1
	case "2":
		hash = crypto.SHA256
	default:
		return fmt.Errorf("%w: SignatureVersion %q; SNS signs with 1 (SHA1withRSA) or 2 (SHA256withRSA)", ErrUnverified, m.SignatureVersion)
	}
	if _, err := checkSNSURL("SigningCertURL", m.SigningCertURL); err != nil {
		return err
	}
	if !strings.HasSuffix(m.SigningCertURL, ".pem") {
		return fmt.Errorf("%w: SigningCertURL must name a .pem certificate", ErrUnverified)
	}
	sig, err := base64.StdEncoding.DecodeString(m.Signature)
	if err != nil || len(sig) == 0 {
		return fmt.Errorf("%w: Signature is not base64", ErrUnverified)
	}
	signed, err := m.signedString()
	if err != nil {
		return err
	}
	cert, err := c.get(ctx, m.SigningCertURL)
	if err != nil {
		return err
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return fmt.Errorf("%w: the signing certificate's key is not RSA", ErrUnverified)
	}
	if err := rsa.VerifyPKCS1v15(pub, hash, digest(hash, signed), sig); err != nil {
		return fmt.Errorf("%w: the signature does not match the message", ErrUnverified)
	}
	return nil
}

func digest(hash crypto.Hash, s string) []byte {
	if hash == crypto.SHA1 {
		sum := sha1.Sum([]byte(s))
		return sum[:]
	}
	sum := sha256.Sum256([]byte(s))
	return sum[:]
}
