package deliverylog_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesconnector/sesconnector"
	"github.com/sesconnector/sesconnector/deliverylog"
	"github.com/sesconnector/sesconnector/feedback"
	"github.com/sesconnector/sesconnector/internal/motoserver"
)

// motoMessageID is the MessageId of every notification moto publishes: it sends AWS's sample
// notification, whose mail.messageId is fixed, where SES names the message it sent.
const motoMessageID = "000001378603177f-7a5433e7-8edb-42ae-af10-f0181f34d6ee-000000"

// givesMotoMessageID is moto behind a proxy that answers each SendEmail with the MessageId
// moto's notification for it will carry, as SES's own notifications carry the send's.
func givesMotoMessageID(t testing.TB, moto string) string {
	t.Helper()
	target, err := url.Parse(moto)
	require.NoError(t, err)
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = func(r *http.Response) error {
		if r.Request.URL.Path != "/v2/email/outbound-emails" || r.StatusCode != http.StatusOK {
			return nil
		}
		body := []byte(`{"MessageId":"` + motoMessageID + `"}`)
		r.Body.Close()
		r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		r.Header.Set("Content-Length", strconv.Itoa(len(body)))
		return nil
	}
	srv := httptest.NewUnstartedServer(proxy)
	srv.Config.ReadHeaderTimeout, srv.Config.WriteTimeout = 10*time.Second, 30*time.Second
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL
}

// The whole path on moto: the Connector sends to SES's mailbox simulator (moto's SES), the
// identity's notification goes to SNS, SNS to an SQS queue, Consume reads it into the log's
// Feedback handler, and the send and its event meet on one timeline — on both stores.
func TestMotoSimulatorTimeline(t *testing.T) {
	moto := motoserver.StartForTest(t)
	q := moto.SQS()
	endpoint := givesMotoMessageID(t, moto.URL)

	want := map[string]deliverylog.Event{
		"bounce@simulator.amazonses.com": {Type: "Bounce", BounceType: "Permanent", BounceSubType: "General",
			Diagnostic: "smtp; 550 user unknown", At: at("2012-05-25T14:59:38.605Z")},
		"complaint@simulator.amazonses.com": {Type: "Complaint", Diagnostic: "abuse", At: at("2012-05-25T14:59:38.623Z")},
		"success@simulator.amazonses.com":   {Type: "Delivery", Diagnostic: "250 ok:  Message 64111812 accepted", At: at("2014-05-28T22:41:01.184Z")},
	}
	runs := 0
	for _, store := range stores {
		for to, event := range want {
			t.Run(store.name+"/"+strings.Split(to, "@")[0], func(t *testing.T) {
				// A queue of its own: a receive cancelled at the end of the run before keeps
				// what moto gives it in flight.
				runs++
				queueURL, topic := moto.FeedbackQueue(t, q, "ses-feedback-"+strconv.Itoa(runs))
				moto.NotifyIdentity(t, "example.com", topic)
				l := open(t, store.dsn(t))
				conn := connector(t, l, endpoint)
				id, err := conn.SendMessage(context.Background(), to, sesconnector.UsageSignIn, sesconnector.Payload{"code": "123456"})
				require.NoError(t, err)
				require.Equal(t, motoMessageID, id)

				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				h := l.Feedback(func(context.Context, *feedback.Event) error { cancel(); return nil })
				require.NoError(t, feedback.Consume(ctx, q, queueURL, h))
				require.ErrorIs(t, ctx.Err(), context.Canceled, "the event arrived before the deadline")

				var got []deliverylog.Message
				eventually(t, 5*time.Second, func() bool {
					got, err = l.ByAddress(context.Background(), to, 10)
					require.NoError(t, err)
					return len(got) == 1 && len(got[0].Events) == 1
				}, "the send and its event written")
				assert.Equal(t, motoMessageID, got[0].MessageID)
				assert.Equal(t, "sent", got[0].Outcome)
				assert.Equal(t, to[:1]+"***@simulator.amazonses.com", got[0].Masked)
				assert.Equal(t, []deliverylog.Event{event}, got[0].Events)
			})
		}
	}
}
