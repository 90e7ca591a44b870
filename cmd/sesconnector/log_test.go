package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ses "github.com/sesconnector/sesconnector"
	"github.com/sesconnector/sesconnector/deliverylog"
	"github.com/sesconnector/sesconnector/feedback"
	"github.com/sesconnector/sesconnector/internal/pgtest"
)

// recordTimeline writes, through the log's Observer and Feedback as a service would, a code
// sent to jane@example.com that bounced, and one SES refused.
func recordTimeline(t *testing.T, dsn string, key []byte) {
	t.Helper()
	l, err := deliverylog.Open(context.Background(), dsn, deliverylog.WithAddressKey(key))
	require.NoError(t, err)
	o := l.Observer()
	info := ses.SendInfo{Usage: ses.UsageSignIn, To: "jane@example.com"}
	o.SendDone(context.Background(), info, ses.SendResult{MessageID: "0100018c-sent", Template: "templates[0]", Region: "us-east-1", Outcome: ses.OutcomeSent})
	o.SendDone(context.Background(), info, ses.SendResult{Region: "us-east-1", Outcome: ses.OutcomeThrottled,
		Err: ses.ErrThrottled})
	at := time.Date(2026, 12, 4, 10, 40, 0, 0, time.UTC)
	require.NoError(t, l.Feedback(nil)(context.Background(), &feedback.Event{Type: feedback.TypeBounce, MessageID: "0100018c-sent", Timestamp: at,
		Bounce: &feedback.Bounce{Type: "Transient", SubType: "MailboxFull"}, Recipients: []feedback.Recipient{{Address: "jane@example.com", DiagnosticCode: "smtp; 552 jane@example.com mailbox full"}}}))
	require.NoError(t, l.Close(context.Background()))
}

func TestLog(t *testing.T) {
	key := filepath.Join(t.TempDir(), "address.key")
	require.NoError(t, os.WriteFile(key, []byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"), 0o600))
	keyBytes, err := deliverylog.ReadKeyFile(key)
	require.NoError(t, err)
	pg := pgtest.StartForTest(t)
	for name, dsn := range map[string]string{
		"SQLite":     "sqlite:" + filepath.Join(t.TempDir(), "log.db"),
		"PostgreSQL": pg.DSN("postgres"),
	} {
		t.Run(name, func(t *testing.T) {
			recordTimeline(t, dsn, keyBytes)

			code, stdout, stderr := sesconnector("log", "-db", dsn, "-key-file", key, "Jane@Example.com")
			require.Equal(t, exitOK, code, stderr)
			lines := strings.Split(strings.TrimRight(stdout, "\n"), "\n")
			require.Len(t, lines, 4, stdout)
			assert.Regexp(t, `^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} UTC +j\*\*\*@example\.com +SignIn +throttled +us-east-1 +-$`, lines[0])
			assert.Regexp(t, `^ +sesconnector: throttled$`, lines[1], "the error, under the address")
			assert.Regexp(t, `^\d{4}-.* UTC +j\*\*\*@example\.com +SignIn +sent +us-east-1 +0100018c-sent$`, lines[2])
			assert.Regexp(t, `^  2026-12-04 10:40:00\.000 UTC +Bounce Transient/MailboxFull +smtp; 552 j\*\*\*@example\.com mailbox full$`, lines[3])
			assert.NotContains(t, stdout, "jane@")

			code, stdout, stderr = sesconnector("log", "-db", dsn, "-key-file", key, "-json", "0100018c-sent")
			require.Equal(t, exitOK, code, stderr)
			var got []deliverylog.Message
			require.NoError(t, json.Unmarshal([]byte(stdout), &got))
			require.Len(t, got, 1)
			assert.Equal(t, "0100018c-sent", got[0].MessageID)
			assert.Equal(t, []string{"Bounce"}, []string{got[0].Events[0].Type})

			code, _, stderr = sesconnector("log", "-db", dsn, "-key-file", key, "joe@example.com")
			assert.Equal(t, exitNo, code)
			assert.Equal(t, "sesconnector log: deliverylog: no such message: nothing was sent to that address in the log's retention\n", stderr)
			code, _, stderr = sesconnector("log", "-db", dsn, "-key-file", key, "0100018c-unknown")
			assert.Equal(t, exitNo, code)
			assert.Contains(t, stderr, `no such message: "0100018c-unknown"`)
		})
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"jane@example.com"}, "give -db DSN and -key-file FILE (or -ses to ask SES)"},
		{[]string{"-db", "sqlite:x.db", "-key-file", key}, "give one address or MessageId"},
		{[]string{"-db", "sqlite:x.db", "-key-file", key, "-limit", "0", "jane@example.com"}, "-limit 0: give 1 to 1000"},
		{[]string{"-db", "sqlite:x.db", "-key-file", key, "-config", exampleConfig, "jane@example.com"}, "-config and -endpoint go with -ses"},
		{[]string{"-ses", "-db", "sqlite:x.db", "0100018c-sent"}, "-ses asks SES, not the log: leave out -db and -key-file"},
		{[]string{"-ses", "0100018c-sent"}, "-ses needs -config FILE"},
		{[]string{"-ses", "-config", exampleConfig, "jane@example.com"}, "-ses looks up a MessageId, not an address"},
	} {
		code, _, stderr := sesconnector(append([]string{"log"}, tc.args...)...)
		assert.Equal(t, exitUsage, code, tc.args)
		assert.Contains(t, stderr, tc.want, tc.args)
	}
	code, _, stderr := sesconnector("log", "-db", "mysql://root:hunter2@db/x", "-key-file", key, "jane@example.com")
	assert.Equal(t, exitNo, code)
	assert.Contains(t, stderr, "give postgres://user@host/database or sqlite:path/to/log.db")
	assert.NotContains(t, stderr, "hunter2")
	code, _, stderr = sesconnector("log", "-db", "sqlite:x.db", "-key-file", filepath.Join(t.TempDir(), "missing"), "jane@example.com")
	assert.Equal(t, exitNo, code)
	assert.Contains(t, stderr, "reading the address key")
}

// -ses asks SES's GetMessageInsights, and prints its events with the recipient masked and
// without the subject, which may hold the code.
func TestLogFromSES(t *testing.T) {
	var asked string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked = r.Method + " " + r.URL.Path
		w.Header().Set("Content-Type", "application/json")
		if strings.HasSuffix(r.URL.Path, "/unknown") {
			w.Header().Set("X-Amzn-ErrorType", "NotFoundException")
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"message":"Message not found"}`)
			return
		}
		_, _ = io.WriteString(w, `{"MessageId":"0100018c-sent","FromEmailAddress":"noreply@example.com","Subject":"Your code is 123456",
			"Insights":[{"Destination":"jane@example.com","Isp":"Gmail","Events":[
				{"Timestamp":1764842400,"Type":"SEND"},
				{"Timestamp":1764842460,"Type":"BOUNCE","Details":{"Bounce":{"BounceType":"PERMANENT","BounceSubType":"NoEmail","DiagnosticCode":"smtp; 550 5.1.1 jane@example.com unknown"}}}]}]}`)
	}))
	defer srv.Close()

	code, stdout, stderr := sesconnector("log", "-ses", "-config", exampleConfig, "-endpoint", srv.URL, "0100018c-sent")
	require.Equal(t, exitOK, code, stderr)
	assert.Equal(t, "GET /v2/email/insights/0100018c-sent", asked)
	assert.Equal(t, "0100018c-sent (from SES's message insights)\n"+
		"  2025-12-04 10:00:00.000 UTC  j***@example.com  SEND                      Gmail  \n"+
		"  2025-12-04 10:01:00.000 UTC  j***@example.com  BOUNCE PERMANENT/NoEmail  Gmail  smtp; 550 5.1.1 j***@example.com unknown\n", stdout)
	assert.NotContains(t, stdout, "123456")

	code, _, stderr = sesconnector("log", "-ses", "-config", exampleConfig, "-endpoint", srv.URL, "unknown")
	assert.Equal(t, exitNo, code)
	assert.Contains(t, stderr, "GetMessageInsights (ses:GetMessageInsights; VDM must be on for the account)")
	assert.Contains(t, stderr, "NotFoundException")
}
