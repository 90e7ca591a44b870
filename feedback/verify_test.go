package feedback_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesconnector/sesconnector/feedback"
)

// genuineCertPath is where SNS served the certificate of the genuine message in testdata: both
// are AWS's, public, from 2015 (the certificate, CN sns.amazonaws.com, issued by VeriSign's
// Class 3 Secure Server CA - G3, was valid from 2014-08-23 to 2015-08-22).
const genuineCertPath = "/SimpleNotificationService-d6d679a1d18e95c2f9ffcf11f4f9e198.pem"

// genuineSNS serves AWS's real signing certificate, alone, as SNS serves it.
func genuineSNS(t *testing.T) (*fakeSNS, []byte) {
	f := newFakeSNS(t)
	cert, err := os.ReadFile(filepath.Join("testdata", "sns-signing-cert-2014.pem"))
	require.NoError(t, err)
	f.files[genuineCertPath] = cert
	msg, err := os.ReadFile(filepath.Join("testdata", "sns-notification-2015.json"))
	require.NoError(t, err)
	return f, msg
}

// TestSNSHandlerGenuineMessage verifies a message SNS really signed, with the certificate SNS
// really served (no intermediate): its Message is not an SES record, so a verified message is
// answered 400, an unverified one 403.
func TestSNSHandlerGenuineMessage(t *testing.T) {
	t.Parallel()
	f, msg := genuineSNS(t)
	var logs bytes.Buffer
	rec := &recorder{}
	h, err := feedback.NewSNSHandler(rec.handle, feedback.WithHTTPClient(f.client),
		feedback.WithTopicARNs("arn:aws:sns:us-east-1:041977924901:foo"), feedback.WithSNSLogger(newTextLogger(&logs)))
	require.NoError(t, err)

	assert.Equal(t, http.StatusBadRequest, post(h, msg), "verified, then refused as no SES event")
	assert.Contains(t, logs.String(), "not an SES event")
	assert.NotContains(t, logs.String(), "not verified")

	tampered := bytes.Replace(msg, []byte(`"test message"`), []byte(`"test massage"`), 1)
	assert.Equal(t, http.StatusForbidden, post(h, tampered))
	assert.Contains(t, logs.String(), "the signature does not match the message")

	late := bytes.Replace(msg, []byte(`2015-02-20T20:59:25.401Z`), []byte(`2016-02-20T20:59:25.401Z`), 1)
	assert.Equal(t, http.StatusForbidden, post(h, late), "a Timestamp outside the certificate's validity")
	assert.Contains(t, logs.String(), "not valid at the message's Timestamp")
	assert.Equal(t, int64(1), f.fetches.Load(), "fetched once")
	assert.Equal(t, 0, rec.count())

	// Demanding a chain to the system's roots, as this handler did before, refuses it.
	strict, err := feedback.NewSNSHandler(rec.handle, feedback.WithHTTPClient(f.client), feedback.WithAnyTopic(), feedback.WithCertificates(f.roots))
	require.NoError(t, err)
	assert.Equal(t, http.StatusForbidden, post(strict, msg), "SNS serves no intermediate")
}

// TestSNSHandlerWithoutChain is SNS as it serves its certificate: alone, from a CA that is no
// root of this machine. Without WithCertificates no chain is asked for.
func TestSNSHandlerWithoutChain(t *testing.T) {
	t.Parallel()
	f := newFakeSNS(t)
	rec := &recorder{}
	h, err := feedback.NewSNSHandler(rec.handle, feedback.WithHTTPClient(f.client), feedback.WithTopicARNs(testTopic))
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, post(h, f.sign(t, f.notification(fixture(t, "event-bounce"))).json(t)))
	assert.Equal(t, 1, rec.count())
}

func TestSNSHandlerCertificateRules(t *testing.T) {
	t.Parallel()
	f := newFakeSNS(t)
	rec := &recorder{}
	withRoots := f.handler(t, rec)
	noRoots, err := feedback.NewSNSHandler(rec.handle, feedback.WithHTTPClient(f.client), feedback.WithAnyTopic())
	require.NoError(t, err)
	signedAt := func(path, timestamp string) []byte {
		m := f.notification(fixture(t, "event-bounce"))
		m["SigningCertURL"] = "https://sns.us-east-1.amazonaws.com" + path
		if timestamp != "" {
			m["Timestamp"] = timestamp
		}
		return f.sign(t, m).json(t)
	}
	cases := []struct {
		name            string
		handler         http.Handler
		body            []byte
		want            int
		wantHandlerSees bool
	}{
		{"intermediate in the file, chained to WithCertificates", withRoots, signedAt("/chain.pem", ""), http.StatusOK, true},
		{"no intermediate, WithCertificates asks for a chain", withRoots, signedAt("/leaf-only.pem", ""), http.StatusForbidden, false},
		{"intermediate in the file, to no root of the system", noRoots, signedAt("/chain.pem", ""), http.StatusForbidden, false},
		{"no intermediate, no chain asked", noRoots, signedAt("/leaf-only.pem", ""), http.StatusOK, true},
		{"a certificate for another name", noRoots, signedAt("/wrong-name.pem", ""), http.StatusForbidden, false},
		{"signed before the certificate was valid", noRoots, signedAt("/SimpleNotificationService-test.pem", "2019-12-31T23:59:59.000Z"), http.StatusForbidden, false},
		{"a Timestamp that is no time", noRoots, signedAt("/SimpleNotificationService-test.pem", "yesterday"), http.StatusForbidden, false},
		{"redirected elsewhere", noRoots, signedAt("/redirect.pem", ""), http.StatusInternalServerError, false},
	}
	for _, c := range cases {
		before := rec.count()
		assert.Equal(t, c.want, post(c.handler, c.body), c.name)
		assert.Equal(t, c.wantHandlerSees, rec.count() > before, c.name)
	}
	assert.Equal(t, int64(0), f.otherFetch.Load(), "nothing fetched but .pem files")
}

// TestSNSHandlerURLRules: SigningCertURL and SubscribeURL are pinned to SNS's hosts; nothing is
// fetched for a message whose URL is not.
func TestSNSHandlerURLRules(t *testing.T) {
	t.Parallel()
	f := newFakeSNS(t)
	rec := &recorder{}
	h := f.handler(t, rec)
	refused := []string{
		"https://sns.s3.amazonaws.com/SimpleNotificationService-test.pem",
		"https://sns.s3-accelerate.amazonaws.com/SimpleNotificationService-test.pem",
		"https://sns.amazonaws.com/SimpleNotificationService-test.pem",
		"https://sns.us-east-1.amazonaws.com.evil.example/SimpleNotificationService-test.pem",
		"https://sns.evil.example/SimpleNotificationService-test.pem",
		"https://snsx.us-east-1.amazonaws.com/SimpleNotificationService-test.pem",
		"https://sns.us-east-1.amazonaws.com:8443/SimpleNotificationService-test.pem",
		"https://user:pw@sns.us-east-1.amazonaws.com/SimpleNotificationService-test.pem",
		"http://sns.us-east-1.amazonaws.com/SimpleNotificationService-test.pem",
		"https://sns.us-east-1.amazonaws.com/SimpleNotificationService-test?x=.pem",
		"https://sns.us-east-1.amazonaws.com/SimpleNotificationService-test.pem?x=1",
		"https://sns.us-east-1.amazonaws.com/SimpleNotificationService-test.pem#x",
		"https://SNS.US-EAST-1.AMAZONAWS.COM/SimpleNotificationService-test.pem",
		"https://sns.us-east-1.amazonaws.com/",
		"file:///etc/passwd.pem",
		"",
	}
	for _, u := range refused {
		m := f.notification(fixture(t, "event-bounce"))
		m["SigningCertURL"] = u
		assert.Equal(t, http.StatusForbidden, post(h, f.sign(t, m).json(t)), u)
	}
	assert.Equal(t, int64(0), f.fetches.Load()+f.otherFetch.Load(), "nothing fetched")

	accepted := []string{
		"https://sns.us-east-1.amazonaws.com/SimpleNotificationService-test.pem",
		"https://sns.us-east-1.amazonaws.com:443/SimpleNotificationService-test.pem",
		"https://sns.us-gov-west-1.amazonaws.com/SimpleNotificationService-test.pem",
		"https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-test.pem",
		"https://sns.ap-southeast-2.amazonaws.com/SimpleNotificationService-test.pem",
	}
	for _, u := range accepted {
		m := f.notification(fixture(t, "event-bounce"))
		m["SigningCertURL"] = u
		assert.Equal(t, http.StatusOK, post(h, f.sign(t, m).json(t)), u)
	}

	for _, u := range []string{
		"https://sns.s3.amazonaws.com/?Action=ConfirmSubscription&Token=x",
		"https://sns.us-east-1.amazonaws.com:8443/?Action=ConfirmSubscription&Token=x",
		"http://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&Token=x",
	} {
		m := f.confirmation("SubscriptionConfirmation")
		m["SubscribeURL"] = u
		assert.Equal(t, http.StatusForbidden, post(h, f.sign(t, m).json(t)), u)
	}
	redirected := f.confirmation("SubscriptionConfirmation")
	redirected["SubscribeURL"] += "&redirect=1"
	assert.Equal(t, http.StatusInternalServerError, post(h, f.sign(t, redirected).json(t)), "a redirect is not followed")
	assert.Equal(t, int64(0), f.confirmed.Load())
}

// TestSNSHandlerBoundedWaits: one fetch for many requests, each request waiting only as long as
// its own context, and a failed fetch not tried again at once.
func TestSNSHandlerBoundedWaits(t *testing.T) {
	t.Parallel()
	f := newFakeSNS(t)
	rec := &recorder{}
	h := f.handler(t, rec)
	hung := f.notification(fixture(t, "event-bounce"))
	hung["SigningCertURL"] = "https://sns.us-east-1.amazonaws.com/hang.pem"
	body := f.sign(t, hung).json(t)

	var wg sync.WaitGroup
	codes := make([]int, 20)
	start := time.Now()
	for i := range codes {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/ses-events", bytes.NewReader(body)).WithContext(ctx))
			codes[i] = w.Code
		})
	}
	wg.Wait()
	assert.Less(t, time.Since(start), 5*time.Second, "each request stopped with its own context, not with the fetch")
	for _, c := range codes {
		assert.Equal(t, http.StatusInternalServerError, c, "SNS will try again")
	}
	assert.Equal(t, int64(1), f.fetches.Load(), "twenty requests, one fetch")

	close(f.hang) // the fetch, on its own context, finishes and is cached
	require.Eventually(t, func() bool { return post(h, body) == http.StatusOK }, 5*time.Second, 10*time.Millisecond)
	assert.Equal(t, int64(1), f.fetches.Load(), "the shared fetch was not abandoned")

	missing := f.notification(fixture(t, "event-bounce"))
	missing["SigningCertURL"] = "https://sns.us-east-1.amazonaws.com/missing.pem"
	forged := f.sign(t, missing).json(t)
	for range 10 {
		assert.Equal(t, http.StatusInternalServerError, post(h, forged))
	}
	assert.Equal(t, int64(2), f.fetches.Load(), "a failed fetch is remembered: ten tries, one download")
	assert.Equal(t, 1, rec.count())
}

func TestParseEventBridgeInSNS(t *testing.T) {
	t.Parallel()
	bridge := shapes(t, fixture(t, "event-bounce"))["EventBridge"]
	envelope, err := json.Marshal(map[string]string{"Type": "Notification", "MessageId": "x", "TopicArn": testTopic, "Message": string(bridge)})
	require.NoError(t, err)
	e, err := feedback.Parse(envelope)
	require.NoError(t, err)
	assert.Equal(t, feedback.TypeBounce, e.Type)
	assert.Equal(t, "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000", e.MessageID)

	other := strings.Replace(string(bridge), `"aws.ses"`, `"aws.ec2"`, 1)
	envelope, err = json.Marshal(map[string]string{"Type": "Notification", "MessageId": "x", "TopicArn": testTopic, "Message": other})
	require.NoError(t, err)
	_, err = feedback.Parse(envelope)
	require.ErrorIs(t, err, feedback.ErrMalformed)
}

// TestParseRawIsACopy: the caller may reuse its buffer; the Event keeps its own bytes.
func TestParseRawIsACopy(t *testing.T) {
	t.Parallel()
	for name, data := range shapes(t, fixture(t, "event-bounce")) {
		e, err := feedback.Parse(data)
		require.NoError(t, err, name)
		want := string(e.Raw)
		for i := range data {
			data[i] = 'x'
		}
		assert.Equal(t, want, string(e.Raw), name)
		assert.True(t, json.Valid(e.Raw), name)
	}
}

func newTextLogger(w *bytes.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(&lockedWriter{w: w}, nil))
}

// lockedWriter lets handlers running at once share one buffer.
type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
