package feedback_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesconnector/sesconnector/feedback"
)

const (
	testTopic = "arn:aws:sns:us-east-1:123456789012:ses-events"
	certURL   = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-test.pem"
)

// fakeSNS is SNS as the handler sees it: a TLS server for sns.us-east-1.amazonaws.com (reached
// through the test's client, whatever the host) that serves the signing certificate and
// answers subscription confirmations, and the key that signs the messages.
type fakeSNS struct {
	key        *rsa.PrivateKey
	roots      *x509.CertPool
	client     *http.Client
	certPEM    []byte
	fetches    atomic.Int64 // of every path
	confirmed  atomic.Int64
	otherFetch atomic.Int64
	files      map[string][]byte // more certificate files, by path
	hang       chan struct{}     // closed to release the requests for /hang.pem
}

var (
	pkiOnce sync.Once
	pki     struct {
		ca, server, signer *x509.Certificate
		caKey, serverKey   *ecdsa.PrivateKey
		signerKey          *rsa.PrivateKey
		rogueSigner        []byte // a PEM certificate of the same key, signed by no trusted CA
		wrongName          []byte // a PEM certificate of the same key, for another name
		chain, leafOnly    []byte // a certificate of the same key issued by an intermediate, with and without it
	}
)

// validFrom and validUntil bound the test certificates: the messages' fixed Timestamps fall
// between them, and a Timestamp before validFrom is outside.
var (
	validFrom  = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	validUntil = time.Now().Add(365 * 24 * time.Hour)
)

func pemOf(certs ...*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

func certificate(t testing.TB, tmpl *x509.Certificate, parent *x509.Certificate, pub any, signer crypto.Signer) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return cert
}

// testPKI is a CA of the test's own, a TLS certificate for the SNS host, and an RSA signing
// certificate like SNS's, made once for the package's tests.
func testPKI(t testing.TB) {
	pkiOnce.Do(func() {
		var err error
		pki.caKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		now := time.Now()
		caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sesconnector test CA"},
			NotBefore: validFrom, NotAfter: validUntil, IsCA: true, BasicConstraintsValid: true,
			KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
		pki.ca = certificate(t, caTmpl, caTmpl, &pki.caKey.PublicKey, pki.caKey)
		pki.serverKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		pki.server = certificate(t, &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "sns.us-east-1.amazonaws.com"},
			DNSNames: []string{"sns.us-east-1.amazonaws.com", "sns.us-gov-west-1.amazonaws.com", "sns.cn-north-1.amazonaws.com.cn", "sns.ap-southeast-2.amazonaws.com"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}, pki.ca, &pki.serverKey.PublicKey, pki.caKey)
		pki.signerKey, err = rsa.GenerateKey(rand.Reader, 2048)
		require.NoError(t, err)
		signerTmpl := &x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "sns.amazonaws.com"},
			NotBefore: validFrom, NotAfter: validUntil, KeyUsage: x509.KeyUsageDigitalSignature}
		pki.signer = certificate(t, signerTmpl, pki.ca, &pki.signerKey.PublicKey, pki.caKey)
		rogue := certificate(t, signerTmpl, signerTmpl, &pki.signerKey.PublicKey, pki.signerKey)
		pki.rogueSigner = pemOf(rogue)
		other := *signerTmpl
		other.SerialNumber, other.Subject = big.NewInt(4), pkix.Name{CommonName: "sns.amazonaws.com.evil.example"}
		pki.wrongName = pemOf(certificate(t, &other, pki.ca, &pki.signerKey.PublicKey, pki.caKey))
		interKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		inter := certificate(t, &x509.Certificate{SerialNumber: big.NewInt(5), Subject: pkix.Name{CommonName: "sesconnector test intermediate"},
			NotBefore: validFrom, NotAfter: validUntil, IsCA: true, BasicConstraintsValid: true,
			KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}, pki.ca, &interKey.PublicKey, pki.caKey)
		byInter := *signerTmpl
		byInter.SerialNumber = big.NewInt(6)
		leaf := certificate(t, &byInter, inter, &pki.signerKey.PublicKey, interKey)
		pki.chain, pki.leafOnly = pemOf(leaf, inter), pemOf(leaf)
	})
}

func newFakeSNS(t testing.TB) *fakeSNS {
	testPKI(t)
	f := &fakeSNS{key: pki.signerKey, roots: x509.NewCertPool(), certPEM: pemOf(pki.signer), hang: make(chan struct{}),
		files: map[string][]byte{"/rogue.pem": pki.rogueSigner, "/wrong-name.pem": pki.wrongName, "/chain.pem": pki.chain, "/leaf-only.pem": pki.leafOnly}}
	f.roots.AddCert(pki.ca)
	t.Cleanup(func() {
		select {
		case <-f.hang:
		default:
			close(f.hang)
		}
	})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, ".pem") {
			f.fetches.Add(1)
		}
		switch {
		case r.URL.Path == "/SimpleNotificationService-test.pem":
			w.Write(f.certPEM)
		case f.files[r.URL.Path] != nil:
			w.Write(f.files[r.URL.Path])
		case r.URL.Path == "/redirect.pem":
			http.Redirect(w, r, "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-test.pem", http.StatusFound)
		case r.URL.Path == "/hang.pem":
			<-f.hang
			w.Write(f.certPEM)
		case r.URL.Path == "/missing.pem":
			http.NotFound(w, r)
		case r.URL.Query().Get("Action") == "ConfirmSubscription" && r.URL.Query().Get("redirect") != "":
			http.Redirect(w, r, "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&Token=x", http.StatusFound)
		case r.URL.Query().Get("Action") == "ConfirmSubscription":
			f.confirmed.Add(1)
			w.Write([]byte("<ConfirmSubscriptionResponse/>"))
		default:
			f.otherFetch.Add(1)
			http.NotFound(w, r)
		}
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{pki.server.Raw}, PrivateKey: pki.serverKey}}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	addr := srv.Listener.Addr().String()
	f.client = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr) // every host is this server
		},
		TLSClientConfig: &tls.Config{RootCAs: f.roots},
	}}
	return f
}

// message is an SNS delivery as the test builds it; sign fills in Signature.
type message map[string]string

func (f *fakeSNS) notification(record []byte) message {
	return message{
		"Type": "Notification", "MessageId": "da41e39f-ea4d-435a-b922-c6aae3915ebe", "TopicArn": testTopic,
		"Subject": "Amazon SES Email Event Notification", "Message": string(record), "Timestamp": "2026-11-24T09:00:00.000Z",
		"SignatureVersion": "1", "SigningCertURL": certURL,
		"UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=x",
	}
}

func (f *fakeSNS) confirmation(typ string) message {
	return message{
		"Type": typ, "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b", "Token": "2336412f37fb687f5d51e6e241d09c805a5a57b30d712f794cc5f6a988666d92768dd60a747ba6f3beb71854e285d6ad02428b09ceece29417f1f02d609c582afbacc99c583a916b9981dd2728f4ae6fdb82efd087cc3b7849e05798d2d2785c03b0879594eeac82c01f235d0e717736",
		"TopicArn": testTopic, "Message": "You have chosen to subscribe to the topic " + testTopic + ".",
		"SubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=" + testTopic + "&Token=2336412f37",
		"Timestamp":    "2026-11-24T09:00:00.000Z", "SignatureVersion": "2", "SigningCertURL": certURL,
	}
}

// sign signs m as SNS does, with the fields of its type in order.
func (f *fakeSNS) sign(t testing.TB, m message) message {
	t.Helper()
	fields := []string{"Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"}
	if m["Type"] != "Notification" {
		fields = []string{"Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"}
	}
	var b strings.Builder
	for _, k := range fields {
		if v, ok := m[k]; ok {
			b.WriteString(k + "\n" + v + "\n")
		}
	}
	var hash crypto.Hash
	var sum []byte
	if m["SignatureVersion"] == "2" {
		s := sha256.Sum256([]byte(b.String()))
		hash, sum = crypto.SHA256, s[:]
	} else {
		s := sha1.Sum([]byte(b.String()))
		hash, sum = crypto.SHA1, s[:]
	}
	sig, err := rsa.SignPKCS1v15(rand.Reader, f.key, hash, sum)
	require.NoError(t, err)
	m["Signature"] = base64.StdEncoding.EncodeToString(sig)
	return m
}

// recorder is a Handler that keeps what it was given, and fails with err.
type recorder struct {
	mu     sync.Mutex
	events []*feedback.Event
	err    error
}

func (r *recorder) handle(_ context.Context, e *feedback.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
	return r.err
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.events)
}

func (f *fakeSNS) handler(t *testing.T, rec *recorder, opts ...feedback.SNSOption) http.Handler {
	t.Helper()
	h, err := feedback.NewSNSHandler(rec.handle, append([]feedback.SNSOption{feedback.WithHTTPClient(f.client), feedback.WithCertificates(f.roots), feedback.WithAnyTopic()}, opts...)...)
	require.NoError(t, err)
	return h
}

func post(h http.Handler, body []byte) int {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/ses-events", bytes.NewReader(body)))
	return w.Code
}

func (m message) json(t testing.TB) []byte {
	data, err := json.Marshal(m)
	require.NoError(t, err)
	return data
}

func TestSNSHandlerVerifiedNotification(t *testing.T) {
	t.Parallel()
	f := newFakeSNS(t)
	rec := &recorder{}
	h := f.handler(t, rec)
	for _, version := range []string{"1", "2"} {
		m := f.notification(fixture(t, "event-bounce"))
		m["SignatureVersion"] = version
		assert.Equal(t, http.StatusOK, post(h, f.sign(t, m).json(t)), "SignatureVersion %s", version)
	}
	m := f.notification(fixture(t, "event-delivery"))
	delete(m, "Subject") // a message without Subject signs without it
	assert.Equal(t, http.StatusOK, post(h, f.sign(t, m).json(t)))
	require.Equal(t, 3, rec.count())
	assert.Equal(t, feedback.TypeBounce, rec.events[0].Type)
	assert.Equal(t, "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000", rec.events[0].MessageID)
	assert.Equal(t, int64(1), f.fetches.Load(), "the certificate is fetched once")
}

func TestSNSHandlerRefusesTampering(t *testing.T) {
	t.Parallel()
	f := newFakeSNS(t)
	rec := &recorder{}
	h := f.handler(t, rec)
	signed := func() message { return f.sign(t, f.notification(fixture(t, "event-bounce"))) }
	cases := map[string]func(m message){
		"Message":                 func(m message) { m["Message"] = strings.Replace(m["Message"], "Permanent", "Transient", 1) },
		"MessageId":               func(m message) { m["MessageId"] += "x" },
		"Subject":                 func(m message) { m["Subject"] = "other" },
		"Subject removed":         func(m message) { delete(m, "Subject") },
		"Timestamp":               func(m message) { m["Timestamp"] = "2026-11-24T09:00:01.000Z" },
		"TopicArn":                func(m message) { m["TopicArn"] = "arn:aws:sns:us-east-1:123456789012:other" },
		"Type":                    func(m message) { m["Type"] = "UnsubscribeConfirmation" },
		"Signature":               func(m message) { m["Signature"] = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 256)) },
		"Signature not base64":    func(m message) { m["Signature"] = "%%%" },
		"Signature empty":         func(m message) { m["Signature"] = "" },
		"SignatureVersion 2 on 1": func(m message) { m["SignatureVersion"] = "2" },
		"SignatureVersion 3":      func(m message) { m["SignatureVersion"] = "3" },
		"cert URL over http":      func(m message) { m["SigningCertURL"] = strings.Replace(certURL, "https", "http", 1) },
		"cert URL on another host": func(m message) {
			m["SigningCertURL"] = "https://sns.us-east-1.amazonaws.com.evil.example/SimpleNotificationService-test.pem"
		},
		"cert URL with a port": func(m message) { m["SigningCertURL"] = "https://sns.us-east-1.amazonaws.com:8443/x.pem" },
		"cert URL not a pem": func(m message) {
			m["SigningCertURL"] = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-test.txt"
		},
		"cert of an untrusted CA": func(m message) { m["SigningCertURL"] = "https://sns.us-east-1.amazonaws.com/rogue.pem" },
		"cert URL with user info": func(m message) {
			m["SigningCertURL"] = "https://x@sns.us-east-1.amazonaws.com/SimpleNotificationService-test.pem"
		},
		"cert URL that is no URL": func(m message) { m["SigningCertURL"] = "https://%zz" },
	}
	for name, tamper := range cases {
		m := signed()
		tamper(m)
		assert.Equal(t, http.StatusForbidden, post(h, m.json(t)), name)
	}
	assert.Equal(t, 0, rec.count(), "the Handler never saw a tampered message")
	assert.Equal(t, int64(0), f.otherFetch.Load(), "nothing was fetched from elsewhere")
	assert.Equal(t, http.StatusOK, post(h, signed().json(t)), "the untampered message passes")
}

func TestSNSHandlerAnswers(t *testing.T) {
	t.Parallel()
	f := newFakeSNS(t)
	rec := &recorder{}
	h := f.handler(t, rec, feedback.WithTopicARNs(testTopic))

	big := f.notification(fixture(t, "event-bounce"))
	big["Message"] = strings.Repeat("x", 1<<20)
	assert.Equal(t, http.StatusRequestEntityTooLarge, post(h, big.json(t)), "over 1 MiB")
	maxed := f.sign(t, f.notification(append(fixture(t, "event-bounce"), bytes.Repeat([]byte(" "), 300<<10)...)))
	assert.Equal(t, http.StatusOK, post(h, maxed.json(t)), "SNS's largest envelope, above 256 KiB, is read")

	assert.Equal(t, http.StatusBadRequest, post(h, []byte("not json")))
	assert.Equal(t, http.StatusBadRequest, post(h, []byte(`{"Type":"Notification"}`)))
	fetched := f.fetches.Load()
	for _, typ := range []string{"Bogus", "notification", "Notification\u200b", " Notification", "NOTIFICATION", "Notification\u0000"} {
		m := f.sign(t, f.notification(fixture(t, "event-bounce")))
		m["Type"] = typ
		assert.Equal(t, http.StatusBadRequest, post(h, m.json(t)), "Type %q", typ)
	}
	assert.Equal(t, fetched, f.fetches.Load(), "nothing was fetched for a message of an unknown Type")
	notEvent := f.notification([]byte(`{"hello":"world"}`))
	assert.Equal(t, http.StatusBadRequest, post(h, f.sign(t, notEvent).json(t)), "verified, but no SES event")

	other := f.notification(fixture(t, "event-bounce"))
	other["TopicArn"] = "arn:aws:sns:us-east-1:123456789012:someone-elses"
	assert.Equal(t, http.StatusForbidden, post(h, f.sign(t, other).json(t)), "a topic outside WithTopicARNs")

	setup := f.notification([]byte(`{"notificationType":"AmazonSnsSubscriptionSucceeded","message":"You have successfully subscribed your Amazon SNS topic"}`))
	assert.Equal(t, http.StatusOK, post(h, f.sign(t, setup).json(t)), "SES's setup notice is acknowledged")
	assert.Equal(t, 1, rec.count())

	rec.err = errors.New("database down")
	assert.Equal(t, http.StatusInternalServerError, post(h, f.sign(t, f.notification(fixture(t, "event-complaint"))).json(t)), "the Handler failed: SNS retries")

	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/ses-events", nil))
	assert.Equal(t, http.StatusMethodNotAllowed, w.Code)
}

func TestSNSHandlerSubscriptions(t *testing.T) {
	t.Parallel()
	f := newFakeSNS(t)
	rec := &recorder{}
	h := f.handler(t, rec, feedback.WithTopicARNs(testTopic))
	assert.Equal(t, http.StatusOK, post(h, f.sign(t, f.confirmation("SubscriptionConfirmation")).json(t)))
	assert.Equal(t, int64(1), f.confirmed.Load())

	assert.Equal(t, http.StatusOK, post(h, f.sign(t, f.confirmation("UnsubscribeConfirmation")).json(t)), "ignored")
	assert.Equal(t, int64(1), f.confirmed.Load())

	other := f.confirmation("SubscriptionConfirmation")
	other["TopicArn"] = "arn:aws:sns:us-east-1:123456789012:someone-elses"
	assert.Equal(t, http.StatusForbidden, post(h, f.sign(t, other).json(t)))
	elsewhere := f.confirmation("SubscriptionConfirmation")
	elsewhere["SubscribeURL"] = "https://evil.example/?Action=ConfirmSubscription"
	assert.Equal(t, http.StatusForbidden, post(h, f.sign(t, elsewhere).json(t)), "a SubscribeURL off SNS is not visited")
	forged := f.confirmation("SubscriptionConfirmation")
	forged["Signature"] = base64.StdEncoding.EncodeToString([]byte("forged"))
	assert.Equal(t, http.StatusForbidden, post(h, forged.json(t)))
	assert.Equal(t, int64(1), f.confirmed.Load(), "only the verified confirmation of an allowed topic was confirmed")
	assert.Equal(t, 0, rec.count())
}

func TestNewSNSHandlerOptions(t *testing.T) {
	t.Parallel()
	noop := func(context.Context, *feedback.Event) error { return nil }
	for name, args := range map[string][]feedback.SNSOption{
		"nil client":               {feedback.WithHTTPClient(nil)},
		"nil pool":                 {feedback.WithCertificates(nil)},
		"no topics":                {feedback.WithTopicARNs()},
		"nil option":               {nil},
		"nil handler":              nil,
		"no topic":                 {feedback.WithHTTPClient(http.DefaultClient)},
		"not an ARN":               {feedback.WithTopicARNs("ses-events")},
		"any topic, then no topic": {feedback.WithAnyTopic(), feedback.WithTopicARNs()},
	} {
		h := noop
		if name == "nil handler" {
			h = nil
		}
		_, err := feedback.NewSNSHandler(h, args...)
		require.Error(t, err, name)
	}
}

// BenchmarkSNSHandler is one verified Bounce notification with the certificate cached: the
// CPU the handler spends per message.
func BenchmarkSNSHandler(b *testing.B) {
	f := newFakeSNS(b)
	h, err := feedback.NewSNSHandler(func(context.Context, *feedback.Event) error { return nil },
		feedback.WithHTTPClient(f.client), feedback.WithTopicARNs(testTopic))
	require.NoError(b, err)
	body := f.sign(b, f.notification(fixture(b, "event-bounce"))).json(b)
	b.ReportAllocs()
	for b.Loop() {
		if code := post(h, body); code != http.StatusOK {
			b.Fatal(code)
		}
	}
}
