package feedback

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// This file verifies SNS messages as AWS's own validators do. SNS serves its signing
// certificate alone (CN sns.amazonaws.com, without the intermediate that issued it), and Go does
// not fetch missing intermediates, so demanding a chain to the system roots would refuse every
// genuine message. Trust comes instead from: the certificate's URL (https, pinned to an SNS
// host, fetched without redirects), the certificate's name, its validity at the message's
// Timestamp (SNS retries old messages), and the signature over the canonical string of the
// message's fields, SHA1withRSA (SignatureVersion 1) or SHA256withRSA (2). Intermediates in the
// file, and roots given with WithCertificates, add a chain check.

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

// snsHost matches SNS's endpoints, sns.<region>.amazonaws.com and .amazonaws.com.cn, where the
// region is a region name (us-east-1, us-gov-west-1, cn-north-1): never an S3 host such as
// sns.s3.amazonaws.com, which anyone can put a file on.
var snsHost = regexp.MustCompile(`^sns\.[a-z]{2}(-[a-z]+)+-[0-9]{1,2}\.amazonaws\.com(\.cn)?$`)

// checkSNSURL accepts only https URLs on an SNS host, on port 443, without user info: a
// certificate or a confirmation fetched from anywhere else could be anyone's. A certificate's
// URL must also name a .pem file in its path, with no query.
func checkSNSURL(field, raw string, certificate bool) (*url.URL, error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%w: %s is not a URL", ErrUnverified, field)
	case u.Scheme != "https":
		return nil, fmt.Errorf("%w: %s must be https, not %q", ErrUnverified, field, u.Scheme)
	case u.User != nil || !snsHost.MatchString(u.Hostname()) || (u.Port() != "" && u.Port() != "443"):
		return nil, fmt.Errorf("%w: %s host %q is not an SNS host (sns.<region>.amazonaws.com)", ErrUnverified, field, cutText(u.Host, 100))
	case certificate && (!strings.HasSuffix(u.Path, ".pem") || u.RawQuery != "" || u.Fragment != ""):
		return nil, fmt.Errorf("%w: %s must name a .pem certificate in its path, with no query", ErrUnverified, field)
	}
	return u, nil
}

// snsCertName reports whether name is one SNS signs with: sns.amazonaws.com, or the forms AWS's
// validators accept in other partitions, a name under amazonaws.com or amazonaws.com.cn that
// begins with "sns" (sns-signing.<region>.amazonaws.com, sns-cn-north-1.amazonaws.com.cn).
func snsCertName(name string) bool {
	if name == "sns.amazonaws.com" {
		return true
	}
	base, ok := strings.CutSuffix(name, ".amazonaws.com")
	if !ok {
		base, ok = strings.CutSuffix(name, ".amazonaws.com.cn")
	}
	if !ok || !strings.HasPrefix(base, "sns") {
		return false
	}
	for _, c := range base {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// checkCertificate checks the signing certificate's name and its validity at the message's
// time (SNS retries a message for hours, with the certificate of the day it was signed).
func checkCertificate(cert *x509.Certificate, at time.Time) error {
	named := snsCertName(cert.Subject.CommonName)
	for _, n := range cert.DNSNames {
		named = named || snsCertName(n)
	}
	switch {
	case !named:
		return fmt.Errorf("%w: the signing certificate is for %q, not sns.amazonaws.com", ErrUnverified, cutText(cert.Subject.CommonName, 100))
	case at.Before(cert.NotBefore) || at.After(cert.NotAfter):
		return fmt.Errorf("%w: the signing certificate was not valid at the message's Timestamp %s (valid %s to %s)",
			ErrUnverified, at.Format(time.RFC3339), cert.NotBefore.Format(time.RFC3339), cert.NotAfter.Format(time.RFC3339))
	}
	return nil
}

// verifyChain checks that leaf chains, through intermediates, to a root of the system or of
// roots (WithCertificates), at time at.
func verifyChain(leaf *x509.Certificate, intermediates []*x509.Certificate, roots *x509.CertPool, at time.Time) error {
	opts := x509.VerifyOptions{CurrentTime: at, Intermediates: x509.NewCertPool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}
	for _, c := range intermediates {
		opts.Intermediates.AddCert(c)
	}
	_, err := leaf.Verify(opts) // the system's roots
	if err != nil && roots != nil {
		opts.Roots = roots
		_, err = leaf.Verify(opts)
	}
	if err != nil {
		return fmt.Errorf("%w: the signing certificate does not chain to a trusted root: %v", ErrUnverified, err)
	}
	return nil
}

// checkMessage checks what can be checked before anything is fetched for m: its signature
// version, the certificate's URL, and that its signature and timestamp parse.
func checkMessage(m *snsMessage) (hash crypto.Hash, sig []byte, at time.Time, err error) {
	switch m.SignatureVersion {
	case "1":
		hash = crypto.SHA1
	case "2":
		hash = crypto.SHA256
	default:
		return 0, nil, at, fmt.Errorf("%w: SignatureVersion %q; SNS signs with 1 (SHA1withRSA) or 2 (SHA256withRSA)", ErrUnverified, cutText(m.SignatureVersion, 20))
	}
	if _, err := checkSNSURL("SigningCertURL", m.SigningCertURL, true); err != nil {
		return 0, nil, at, err
	}
	if sig, err = base64.StdEncoding.DecodeString(m.Signature); err != nil || len(sig) == 0 {
		return 0, nil, at, fmt.Errorf("%w: Signature is not base64", ErrUnverified)
	}
	if at, err = time.Parse(time.RFC3339Nano, m.Timestamp); err != nil {
		return 0, nil, at, fmt.Errorf("%w: Timestamp %q is not an RFC 3339 time", ErrUnverified, cutText(m.Timestamp, 40))
	}
	return hash, sig, at, nil
}

// verifySignature checks m's signature with the certificate's key.
func verifySignature(cert *x509.Certificate, m *snsMessage, hash crypto.Hash, sig []byte) error {
	signed, err := m.signedString()
	if err != nil {
		return err
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return fmt.Errorf("%w: the signing certificate's key is not RSA", ErrUnverified)
	}
	var sum []byte
	if hash == crypto.SHA1 {
		s := sha1.Sum([]byte(signed))
		sum = s[:]
	} else {
		s := sha256.Sum256([]byte(signed))
		sum = s[:]
	}
	if err := rsa.VerifyPKCS1v15(pub, hash, sum, sig); err != nil {
		return fmt.Errorf("%w: the signature does not match the message", ErrUnverified)
	}
	return nil
}

// cutText shortens s for an error message: an attacker's field is quoted, not echoed whole.
func cutText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
