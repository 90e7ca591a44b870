package sesconnector_test

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ses "github.com/sesconnector/sesconnector"
	"github.com/sesconnector/sesconnector/internal/emulator"
)

// These tests send through the real client New builds (SigV4, JSON, HTTP) to aws-ses-v2-local,
// the SES v2 emulator, and read what it stored. Each test starts its own emulator.

// emulatorAccount is what the emulator answers GetAccount with: a sandboxed account.
const emulatorAccount = `{"DedicatedIpAutoWarmupEnabled":false,"Details":{"AdditionalContactEmailAddresses":[],"ContactLanguage":"EN","MailType":"TRANSACTIONAL","ReviewDetails":{"CaseId":"","Status":"PENDING"},"UseCaseDescription":"","WebsiteURL":""},"EnforcementStatus":"HEALTHY","ProductionAccessEnabled":false,"SendingEnabled":true,"SendQuota":{"Max24HourSend":200,"MaxSendRate":1,"SentLast24Hours":3},"SuppressionAttributes":{"SuppressedReasons":[]}}`

func emulatorConnector(t *testing.T, cfg *ses.Config) (*ses.Connector, *emulator.Emulator) {
	t.Helper()
	emu := emulator.StartForTest(t, "AWS_SES_ACCOUNT="+emulatorAccount)
	c, err := ses.New(context.Background(), cfg, ses.WithEndpoint(emu.URL))
	require.NoError(t, err)
	return c, emu
}

// emailsTo returns the stored emails whose only recipient has the given prefix.
func emailsTo(t *testing.T, emu *emulator.Emulator, prefix string) []emulator.Email {
	t.Helper()
	all, err := emu.Emails()
	require.NoError(t, err)
	var mine []emulator.Email
	for _, e := range all {
		if len(e.Destination.To) == 1 && strings.HasPrefix(e.Destination.To[0], prefix) {
			mine = append(mine, e)
		}
	}
	return mine
}

var allUsages = []ses.UsageType{
	ses.UsageSignIn, ses.UsageRegister, ses.UsageForgotPassword, ses.UsageOrganizationInvitation, ses.UsageGeneric,
	ses.UsageUserPermissionValidation, ses.UsageBindNewIdentifier, ses.UsageMfaVerification, ses.UsageBindMfa,
}

func TestEmulatorEveryUsageType(t *testing.T) {
	cfg := testConfig()
	cfg.EmailAddress = "Équipe Sécurité <security@example.com>"
	cfg.Templates = nil
	for _, u := range allUsages {
		cfg.Templates = append(cfg.Templates, ses.Template{
			UsageType: u,
			Subject:   string(u) + " code {{code}}",
			Content:   "<p>" + string(u) + ": <b>{{code}}</b></p>",
			Text:      string(u) + ": {{code}}",
			ReplyTo:   "Support <support@example.com>",
			Headers:   map[string]string{"X-Entity-Ref-ID": "{{code}}"},
		})
	}
	c, emu := emulatorConnector(t, cfg)
	for i, u := range allUsages {
		to := fmt.Sprintf("every-usage-%d@example.com", i)
		_, err := c.SendMessage(context.Background(), to, u, ses.Payload{"code": fmt.Sprintf("1000%02d", i)})
		require.NoError(t, err, u)
	}
	got := emailsTo(t, emu, "every-usage-")
	require.Len(t, got, len(allUsages))
	for i, e := range got {
		code := fmt.Sprintf("1000%02d", i)
		u := allUsages[i]
		assert.Equal(t, "=?utf-8?q?=C3=89quipe_S=C3=A9curit=C3=A9?= <security@example.com>", e.From)
		assert.Equal(t, []string{fmt.Sprintf("every-usage-%d@example.com", i)}, e.Destination.To)
		assert.Equal(t, []string{`"Support" <support@example.com>`}, e.ReplyTo)
		assert.Equal(t, string(u)+" code "+code, e.Subject)
		assert.Equal(t, "<p>"+string(u)+": <b>"+code+"</b></p>", e.Body.HTML)
		assert.Equal(t, string(u)+": "+code, e.Body.Text)
		require.Len(t, e.Headers, 1)
		assert.Equal(t, "X-Entity-Ref-ID", e.Headers[0].Name)
		assert.Equal(t, code, e.Headers[0].Value)
	}
}

func TestEmulatorSendTest(t *testing.T) {
	c, emu := emulatorConnector(t, testConfig())
	id, err := c.SendTest(context.Background(), "send-test@example.com")
	require.NoError(t, err)
	got := emailsTo(t, emu, "send-test@")
	require.Len(t, got, 1)
	assert.Equal(t, id, got[0].MessageID)
	assert.Equal(t, "Verification code", got[0].Subject)
	assert.Equal(t, "<p>Your code is 000000.</p>", got[0].Body.HTML)
	assert.Equal(t, "noreply@example.com", got[0].From)
}

func TestEmulatorConcurrentSends(t *testing.T) {
	c, emu := emulatorConnector(t, testConfig())
	const goroutines, total = 32, 500
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := g; i < total; i += goroutines {
				_, err := c.SendMessage(context.Background(), fmt.Sprintf("concurrent-%03d@example.com", i),
					ses.UsageSignIn, ses.Payload{"code": fmt.Sprintf("C%03d", i)})
				assert.NoError(t, err)
			}
		})
	}
	wg.Wait()
	// Count by the unique code, not by MessageId: the emulator's ids are random and can collide.
	seen := map[string]int{}
	for _, e := range emailsTo(t, emu, "concurrent-") {
		seen[strings.TrimPrefix(e.Subject, "Sign-in code ")]++
	}
	assert.Len(t, seen, total)
	for i := range total {
		assert.Equal(t, 1, seen[fmt.Sprintf("C%03d", i)], "code C%03d", i)
	}
}

// The emulator has no GetSuppressedDestination and no GetEmailAddressInsights: the first hour
// against it is quiet, one WARN for each saying so, no ERROR, and every code still goes out.
func TestEmulatorWithoutSuppressionList(t *testing.T) {
	emu := emulator.StartForTest(t)
	var logs strings.Builder
	c, err := ses.New(context.Background(), testConfig(), ses.WithEndpoint(emu.URL), ses.WithSuppressionCheck(time.Minute),
		ses.WithAddressInsights(ses.InsightsPolicy{Usages: []ses.UsageType{ses.UsageSignIn}}), ses.WithLogger(jsonLogger(&logs)))
	require.NoError(t, err)
	for i := range 5 {
		_, err := c.SendMessage(context.Background(), fmt.Sprintf("quiet%d@example.com", i), ses.UsageSignIn, ses.Payload{"code": "123456"})
		require.NoError(t, err)
	}
	assert.Len(t, emailsTo(t, emu, "quiet"), 5)
	assert.Equal(t, 2, strings.Count(logs.String(), `"level":"WARN"`), logs.String())
	assert.Equal(t, 1, strings.Count(logs.String(), "does not implement GetSuppressedDestination"))
	assert.Equal(t, 1, strings.Count(logs.String(), "does not implement GetEmailAddressInsights"))
	assert.NotContains(t, logs.String(), `"level":"ERROR"`)
}

// The README's quickstart runs as the README says, against the local emulator.
func TestQuickstartAgainstEmulator(t *testing.T) {
	emu := emulator.StartForTest(t)
	bin := filepath.Join(t.TempDir(), "quickstart")
	build := exec.Command("go", "build", "-o", bin, "./examples/quickstart")
	out, err := build.CombinedOutput()
	require.NoError(t, err, string(out))
	out, err = exec.Command(bin, "-config", filepath.Join("examples", "config.example.json"), "-endpoint", emu.URL, "-to", "quick@example.com").CombinedOutput()
	require.NoError(t, err, string(out))
	assert.Regexp(t, `^sent, SES MessageId \S+\n$`, string(out))
	mails := emailsTo(t, emu, "quick@")
	require.Len(t, mails, 1)
	assert.Contains(t, mails[0].Subject, "123456")

	out, err = exec.Command(bin, "-config", "nope.json").CombinedOutput()
	require.Error(t, err)
	assert.Contains(t, string(out), "cannot read nope.json")
}
