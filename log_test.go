package sesconnector_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ses "github.com/sesconnector/sesconnector"
)

func jsonLogger(w io.Writer) *slog.Logger { return slog.New(slog.NewJSONHandler(w, nil)) }

// forms are the ways a recipient could show in a log line: as it is, quoted by %q or JSON,
// in another letter case, and its local part.
func forms(to string) []string {
	quoted := strconv.Quote(to)
	js, _ := json.Marshal(to)
	out := []string{to, quoted[1 : len(quoted)-1], string(js[1 : len(js)-1]), strings.ToUpper(to), strings.ToLower(to)}
	if at := strings.LastIndexByte(to, '@'); at > 2 {
		out = append(out, to[:at])
	}
	for i := len(out) - 1; i >= 0; i-- {
		if strings.TrimSpace(out[i]) == "" || len(out[i]) < 2 {
			out = append(out[:i], out[i+1:]...)
		}
	}
	return out
}

func TestLogsNeverHoldRecipient(t *testing.T) {
	t.Parallel()
	recipients := []string{
		"jane.doe@example.com", "jane.doe@example.com\n", "\"jane doe\"@example.com", "Jane <jane.doe@example.com>",
		"jane.doe@example.com.", "a", "ab@example.com", "zqxwv", "jane.doe@@example.com", "jane.doe@exa mple.com",
		"jane.doe@example.com, bob@example.com", "JANE.DOE@EXAMPLE.COM",
	}
	failures := map[string]error{
		"SES quotes the address":          errors.New("Email address is not verified. The following identities failed the check in region EU-WEST-1: JANE.DOE@EXAMPLE.COM, jane.doe@example.com"),
		"SES quotes it in another case":   errors.New("Address blacklisted: Jane.Doe@Example.com"),
		"SES quotes its local part alone": errors.New("rejected"),
	}
	for _, to := range recipients {
		for name, sesErr := range failures {
			var logs strings.Builder
			for _, h := range []slog.Handler{slog.NewJSONHandler(&logs, nil), slog.NewTextHandler(&logs, nil)} {
				c, m := newConnector(t, testConfig(), ses.WithLogger(slog.New(h)))
				m.err = sesErr
				_, err := c.SendMessage(context.Background(), to, ses.UsageSignIn, ses.Payload{"code": "1"})
				require.Error(t, err)
				_, err = c.SendTest(context.Background(), to)
				require.Error(t, err)
			}
			out := logs.String()
			for _, form := range forms(to) {
				assert.NotContains(t, out, form, "%s: recipient %q", name, to)
			}
			assert.NotContains(t, out, "***lid", "the message itself is not masked")
			assert.Equal(t, 4, strings.Count(out, "email not sent"))
		}
	}
}

func TestLogShowsMaskedRecipient(t *testing.T) {
	t.Parallel()
	var logs strings.Builder
	c, m := newConnector(t, testConfig(), ses.WithLogger(jsonLogger(&logs)))
	for _, to := range []string{"jane.doe@example.com", "jo@example.com", `"a b"@example.com`, "not an address"} {
		_, _ = c.SendMessage(context.Background(), to, ses.UsageSignIn, ses.Payload{"code": "1"})
	}
	m.err = errors.New("Email address is not verified: JANE.DOE@example.com")
	_, err := c.SendMessage(context.Background(), "jane.doe@example.com", ses.UsageSignIn, ses.Payload{"code": "1"})
	require.Error(t, err)
	var got []string
	var lastErr string
	for line := range strings.Lines(logs.String()) {
		var r map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &r))
		got = append(got, r["to"].(string))
		lastErr, _ = r["error"].(string)
	}
	assert.Equal(t, []string{"j***@example.com", "***@example.com", "***", "***", "j***@example.com"}, got)
	assert.Equal(t, "sesconnector: send failed: Email address is not verified: j***@example.com", lastErr)
}
