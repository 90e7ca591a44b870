package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesconnector/sesconnector/internal/childproc"
	"github.com/sesconnector/sesconnector/internal/motoserver"
	"github.com/sesconnector/sesconnector/internal/sestest"
)

var exampleConfig = filepath.Join("..", "..", "examples", "config.example.json")

func sesconnector(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &env{stdout: &out, stderr: &errOut})
	return code, out.String(), errOut.String()
}

func TestSendAndTest(t *testing.T) {
	srv := sestest.New(t)
	code, stdout, stderr := sesconnector("send", "-config", exampleConfig, "-to", "jane@example.com", "-code", "987654", "-endpoint", srv.URL)
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "sestest-1\n", stdout)
	reqs := srv.Requests()
	require.Len(t, reqs, 1)
	assert.Contains(t, string(reqs[0].Body), "Your Acme sign-in code is 987654")

	code, stdout, stderr = sesconnector("test", "-config", exampleConfig, "-to", "jane@example.com", "-endpoint", srv.URL)
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "sestest-2\n", stdout)
	assert.Contains(t, string(srv.Requests()[1].Body), "Your Acme verification code is <b>000000</b>")
}

func TestSendPayload(t *testing.T) {
	code, stdout, stderr := sesconnector("send", "-config", exampleConfig, "-to", "jane@example.com", "-dry-run",
		"-payload", `{"code":"111111","locale":"pt-BR"}`)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "Seu código de acesso Acme é 111111", "-payload's code, since -code was not given")

	code, stdout, stderr = sesconnector("send", "-config", exampleConfig, "-to", "jane@example.com", "-dry-run",
		"-payload", `{"code":"111111"}`, "-code", "222222")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "Your Acme sign-in code is 222222", "-code given on the command line wins")
}

func dryRun(t *testing.T, args ...string) map[string]any {
	t.Helper()
	code, stdout, stderr := sesconnector(args...)
	require.Equal(t, 0, code, stderr)
	var in map[string]any
	require.NoError(t, json.Unmarshal([]byte(stdout), &in))
	assert.NotContains(t, stdout, "null", "unset fields are left out")
	return in
}

func subjectOf(in map[string]any) any {
	return in["Content"].(map[string]any)["Simple"].(map[string]any)["Subject"].(map[string]any)["Data"]
}

func TestDryRun(t *testing.T) {
	in := dryRun(t, "send", "-config", exampleConfig, "-to", "jane@example.com", "-locale", "pt-BR", "-dry-run")
	assert.Equal(t, map[string]any{"ToAddresses": []any{"jane@example.com"}}, in["Destination"])
	assert.Equal(t, "Seu código de acesso Acme é 123456", subjectOf(in))

	in = dryRun(t, "test", "-config", exampleConfig, "-to", "jane@example.com", "-dry-run")
	assert.Equal(t, "Your Acme verification code is 000000", subjectOf(in), "test -dry-run shows the test message")
}

func TestExitStatusAndMessages(t *testing.T) {
	srv := sestest.New(t)
	srv.Respond(func(int, sestest.Request) sestest.Response {
		return sestest.Error(http.StatusBadRequest, "MessageRejected", "Email address is not verified.")
	})
	bad := filepath.Join(t.TempDir(), "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte(`{"region":"mars","templates":[]}`), 0o600))
	cases := []struct {
		name   string
		args   []string
		code   int
		stderr []string
	}{
		{"no command", nil, 2, []string{"Usage:", "sesconnector send"}},
		{"unknown command", []string{"mail"}, 2, []string{`unknown command "mail"`}},
		{"unknown flag", []string{"send", "-nope"}, 2, []string{"flag provided but not defined", "Example:"}},
		{"no recipient", []string{"send", "-config", exampleConfig}, 2, []string{"sesconnector send: -to is required", "Example:"}},
		{"no config", []string{"send", "-to", "a@example.com"}, 2, []string{"sesconnector send: -config is required"}},
		{"neither", []string{"test"}, 2, []string{"sesconnector test: -config and -to are required"}},
		{"stray argument", []string{"send", "-config", exampleConfig, "-to", "a@example.com", "extra"}, 2, []string{`unexpected argument "extra"`}},
		{"bad -payload", []string{"send", "-config", exampleConfig, "-to", "a@example.com", "-payload", "[1]"}, 2, []string{"-payload must be a JSON object"}},
		{"missing config file", []string{"send", "-config", "nope.json", "-to", "a@example.com"}, 1, []string{"sesconnector send: cannot read nope.json: no such file or directory\n"}},
		{"invalid config", []string{"send", "-config", bad, "-to", "a@example.com"}, 1, []string{"region: \"mars\" is not an AWS region name"}},
		{"bad recipient", []string{"send", "-config", exampleConfig, "-to", "Jane <a@example.com>", "-dry-run"}, 1, []string{"must be one bare address"}},
		{"recipient ending in a dot", []string{"send", "-config", exampleConfig, "-to", "a@example.com.", "-dry-run"}, 1, []string{`the domain "example.com." ends with a dot; remove it`}},
		{"unknown usage", []string{"send", "-config", exampleConfig, "-to", "a@example.com", "-usage", "Login", "-endpoint", srv.URL}, 2, []string{`-usage "Login": not a usage type; use one of SignIn, Register`}},
		{"usage in another case", []string{"send", "-config", exampleConfig, "-to", "a@example.com", "-usage", "signin"}, 2, []string{`-usage "signin": did you mean SignIn?`}},
		{"bad endpoint", []string{"send", "-config", exampleConfig, "-to", "a@example.com", "-endpoint", "localhost"}, 2, []string{`-endpoint "localhost": give an http or https URL`}},
		{"endpoint not a URL", []string{"check", "-config", exampleConfig, "-endpoint", "not-a-url"}, 2, []string{`sesconnector check: -endpoint "not-a-url"`}},
		{"events endpoint not a URL", []string{"events", "-queue", "q", "-endpoint", "not-a-url"}, 2, []string{`-endpoint "not-a-url"`}},
		{"zero timeout", []string{"test", "-config", exampleConfig, "-to", "a@example.com", "-timeout", "0s"}, 2, []string{"-timeout 0s: give a positive duration"}},
		{"preview payload not an object", []string{"preview", "-config", exampleConfig, "-payload", "[1]"}, 2, []string{`sesconnector preview: -payload "[1]": give a JSON object`}},
		{"SES unreachable", []string{"check", "-config", exampleConfig, "-endpoint", "http://127.0.0.1:1", "-timeout", "5s"}, 1, []string{"sesconnector check: SES could not be reached (GetAccount)"}},
		{"SES refuses", []string{"send", "-config", exampleConfig, "-to", "a@example.com", "-endpoint", srv.URL}, 1, []string{"MessageRejected"}},
		{"check without config", []string{"check"}, 2, []string{"-config is required"}},
		{"validate nothing", []string{"validate"}, 2, []string{"give at least one config file"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := sesconnector(tc.args...)
			assert.Equal(t, tc.code, code)
			assert.Empty(t, stdout)
			for _, want := range tc.stderr {
				assert.Contains(t, stderr, want)
			}
			assert.NotContains(t, stderr, ": sesconnector: ", "each error is prefixed once")
			assert.NotContains(t, stderr, "check: send failed", "check sends nothing")
		})
	}
	assert.Len(t, srv.Requests(), 1, "only the send SES refused reached it")
}

// -h is asked for: the usage goes to standard output (sesconnector -h | less), exit 0; a bad
// flag prints it to standard error, exit 2.
func TestHelp(t *testing.T) {
	for _, c := range commands {
		code, stdout, stderr := sesconnector(c.name, "-h")
		assert.Equal(t, 0, code, c.name)
		assert.Empty(t, stderr, c.name)
		assert.Contains(t, stdout, "sesconnector "+c.name+": "+c.summary, c.name)
		assert.Contains(t, stdout, "Example:\n  "+c.example, c.name)
		assert.NotContains(t, stdout, "Flags:\n\n", "%s: no empty Flags heading", c.name)

		code, stdout, stderr = sesconnector(c.name, "-no-such-flag")
		assert.Equal(t, 2, code, c.name)
		assert.Empty(t, stdout, c.name)
		assert.Contains(t, stderr, "flag provided but not defined: -no-such-flag", c.name)
		assert.Contains(t, stderr, "Example:\n  "+c.example, c.name)
	}
	for _, h := range []string{"-h", "--help", "help"} {
		code, stdout, stderr := sesconnector(h)
		assert.Equal(t, 0, code)
		assert.Empty(t, stderr)
		assert.Contains(t, stdout, "Exit status: 0 done; 1")
	}
	code, stdout, stderr := sesconnector()
	assert.Equal(t, 2, code)
	assert.Empty(t, stdout)
	assert.Contains(t, stderr, "Exit status: 0 done; 1")
}

// -endpoint says what it is for in each subcommand.
func TestEndpointFlagSaysWhatFor(t *testing.T) {
	for cmd, want := range map[string]string{"send": "send to this SES endpoint", "test": "send to this SES endpoint", "check": "check the account, identity and configuration set at this SES endpoint",
		"insights": "ask for address insights at this SES endpoint", "preview": "with -allow-send: send through this SES endpoint", "events": "with -queue: the SQS endpoint"} {
		_, stdout, _ := sesconnector(cmd, "-h")
		assert.Contains(t, stdout, want, cmd)
	}
}

func TestCheck(t *testing.T) {
	srv := sestest.New(t)
	srv.Respond(func(_ int, req sestest.Request) sestest.Response {
		switch req.Path {
		case "/v2/email/account":
			return sestest.Response{Body: `{"ProductionAccessEnabled":false,"SendingEnabled":true,"SendQuota":{"MaxSendRate":1,"Max24HourSend":200,"SentLast24Hours":0}}`}
		case "/v2/email/identities/acme.example":
			return sestest.Response{Body: `{"IdentityType":"DOMAIN","VerifiedForSendingStatus":true,"VerificationStatus":"SUCCESS"}`}
		}
		return sestest.Error(http.StatusNotFound, "NotFoundException", "not found")
	})
	code, stdout, stderr := sesconnector("check", "-config", exampleConfig, "-endpoint", srv.URL)
	assert.Equal(t, 1, code, stderr)
	assert.Contains(t, stdout, "Identity:          acme.example (verified: yes)\n")
	assert.Contains(t, stdout, "Configuration set: none configured\n")
	assert.Contains(t, stdout, "Problem: the account is in the SES sandbox in us-east-1")
	for _, req := range srv.Requests() {
		assert.Equal(t, http.MethodGet, req.Method, "nothing sent")
	}

	code, stdout, _ = sesconnector("check", "-config", exampleConfig, "-endpoint", srv.URL, "-json")
	assert.Equal(t, 1, code)
	var report map[string]any
	require.NoError(t, json.Unmarshal([]byte(stdout), &report))
	assert.Equal(t, "acme.example", report["identity"])
	assert.Equal(t, true, report["identityVerified"])
	assert.Equal(t, false, report["productionAccess"], "read, and false")
}

// Against a server that answers nothing Check can read, what it never read is "unknown", the
// identity is the From address, and no configuration set is "none configured".
func TestCheckUnknowns(t *testing.T) {
	srv := sestest.New(t)
	srv.Respond(func(int, sestest.Request) sestest.Response {
		return sestest.Error(http.StatusNotFound, "NotFound", "no such route")
	})
	code, stdout, _ := sesconnector("check", "-config", exampleConfig, "-endpoint", srv.URL)
	assert.Equal(t, 1, code)
	for _, want := range []string{
		"Production access: unknown\n", "Sending enabled:   unknown\n", "Send quota:        unknown\n",
		"Identity:          no-reply@acme.example (verified: unknown)\n", "Configuration set: none configured\n",
	} {
		assert.Contains(t, stdout, want)
	}

	code, stdout, _ = sesconnector("check", "-config", exampleConfig, "-endpoint", srv.URL, "-json")
	assert.Equal(t, 1, code)
	var report map[string]any
	require.NoError(t, json.Unmarshal([]byte(stdout), &report))
	for _, unread := range []string{"productionAccess", "sendingEnabled", "maxSendRate", "max24HourSend", "sentLast24Hours", "identityVerified", "configurationSet", "configurationSetFound"} {
		v, ok := report[unread]
		assert.True(t, ok, unread)
		assert.Nil(t, v, "%s: null, never a zero or a false nobody read", unread)
	}
	assert.Equal(t, "no-reply@acme.example", report["identity"])
	assert.NotEmpty(t, report["problems"])
}

func TestVersion(t *testing.T) {
	code, stdout, stderr := sesconnector("version")
	assert.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "github.com/sesconnector/sesconnector")
	assert.Contains(t, stdout, "go1.")
	info := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/sesconnector/sesconnector/cmd/sesconnector", Version: "v0.1.0"},
		Deps:     []*debug.Module{{Path: "github.com/sesconnector/sesconnector", Version: "v0.1.0"}},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123abc"}, {Key: "vcs.time", Value: "2026-12-01T10:00:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	assert.Equal(t, "github.com/sesconnector/sesconnector/cmd/sesconnector v0.1.0\nlibrary github.com/sesconnector/sesconnector v0.1.0\nrevision 0123abc (2026-12-01T10:00:00Z), with local changes\ngo1.26.8", versionText(info))

	// Built from this checkout, in the workspace, as the README says: the revision is HEAD's.
	bin := filepath.Join(t.TempDir(), "sesconnector")
	out, err := exec.Command("go", "build", "-buildvcs=true", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "%s", out)
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	require.NoError(t, err)
	out, err = exec.Command(bin, "version").Output()
	require.NoError(t, err)
	assert.Contains(t, string(out), "\nrevision "+strings.TrimSpace(string(head))+" (")
	info.Settings, info.Main.Version = nil, "(devel)"
	assert.Contains(t, versionText(info), "build with go build -buildvcs=true")
}

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte(`{"region":"eu-west-1","region":"x"}`), 0o600))
	code, stdout, _ := sesconnector("validate", exampleConfig, bad, filepath.Join(dir, "missing.json"))
	assert.Equal(t, 1, code)
	assert.Contains(t, stdout, exampleConfig+": valid\n")
	assert.Contains(t, stdout, bad+": ")
	assert.Contains(t, stdout, "  region: appears more than once")
	assert.Contains(t, stdout, "\ncannot read "+filepath.Join(dir, "missing.json")+": no such file or directory\n")

	code, stdout, _ = sesconnector("validate", exampleConfig)
	assert.Equal(t, 0, code)
	assert.Equal(t, exampleConfig+": valid\n", stdout)
}

// events -queue reads a queue as Consume does and prints a line per event, until stopped.
func TestEventsFromQueue(t *testing.T) {
	moto := motoserver.StartForTest(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "fake-secret-for-moto")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	q := sqs.New(sqs.Options{Region: "us-east-1", BaseEndpoint: aws.String(moto.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIAIOSFODNN7EXAMPLE", "fake-secret-for-moto", "")})
	created, err := q.CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: aws.String("events")})
	require.NoError(t, err)
	bounce, err := os.ReadFile(filepath.Join("..", "..", "feedback", "testdata", "event-bounce.json"))
	require.NoError(t, err)
	_, err = q.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: created.QueueUrl, MessageBody: aws.String(string(bounce))})
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	code := run(ctx, []string{"events", "-queue", *created.QueueUrl, "-endpoint", moto.URL, "-region", "us-east-1"}, &env{stdout: &out, stderr: &errOut})
	assert.Equal(t, 0, code, errOut.String())
	assert.Equal(t, "2017-08-05T00:41:02Z Bounce           Permanent/General    -              EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000 recipient@example.com\n", out.String())
}

func TestEventsFlags(t *testing.T) {
	for _, args := range [][]string{
		{"events"}, {"events", "-queue", "q", "-listen", "127.0.0.1:0"}, {"events", "-queue", "q", "-topic", "arn"},
		{"events", "-listen", "127.0.0.1:0", "-endpoint", "http://x"},
		{"events", "-listen", "127.0.0.1:0"}, // no -topic
	} {
		code, _, stderr := sesconnector(args...)
		assert.Equal(t, 2, code, args)
		assert.Contains(t, stderr, "Usage:", args)
	}
	assert.Equal(t, "eu-west-1", regionOf("https://sqs.eu-west-1.amazonaws.com/123456789012/q"))
	assert.Equal(t, "", regionOf("http://127.0.0.1:5000/123456789012/q"))
}

// events -listen serves the SNS endpoint until stopped, and refuses what it cannot verify.
func TestEventsListen(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	var out, errOut childproc.Buffer
	go func() {
		done <- run(ctx, []string{"events", "-listen", addr, "-topic", "arn:aws:sns:us-east-1:1:t"}, &env{stdout: &out, stderr: &errOut})
	}()
	var resp *http.Response
	require.Eventually(t, func() bool {
		resp, err = http.Post("http://"+addr+"/", "application/json", strings.NewReader(`{"Type":"Notification","MessageId":"m","TopicArn":"arn:aws:sns:us-east-1:1:t","Message":"{}","SignatureVersion":"1","Signature":"AAAA","SigningCertURL":"http://evil.example/x.pem"}`))
		return err == nil
	}, 5*time.Second, 20*time.Millisecond)
	resp.Body.Close()
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	cancel()
	assert.Equal(t, 0, <-done)
	assert.Empty(t, out.String(), "nothing unverified is printed")
	assert.Contains(t, errOut.String(), "SNS endpoint at http://"+addr)
}

// insights prints every verdict per address, and exits 1 when the default policy would refuse one.
func TestInsights(t *testing.T) {
	srv := sestest.New(t)
	verdicts := func(valid, disposable types.EmailAddressInsightsConfidenceVerdict) string {
		v := func(c types.EmailAddressInsightsConfidenceVerdict) *types.EmailAddressInsightsVerdict {
			return &types.EmailAddressInsightsVerdict{ConfidenceVerdict: c}
		}
		body, err := json.Marshal(&sesv2.GetEmailAddressInsightsOutput{MailboxValidation: &types.MailboxValidation{IsValid: v(valid),
			Evaluations: &types.EmailAddressInsightsMailboxEvaluations{HasValidSyntax: v("HIGH"), HasValidDnsRecords: v(valid), MailboxExists: v(valid),
				IsDisposable: v(disposable), IsRoleAddress: v("LOW"), IsRandomInput: v("LOW")}}})
		require.NoError(t, err)
		return string(body)
	}
	srv.Respond(func(_ int, req sestest.Request) sestest.Response {
		switch req.JSON["EmailAddress"] {
		case "jane@example.com":
			return sestest.Response{Body: verdicts("HIGH", "LOW")}
		case "jnae@exmaple.com":
			return sestest.Response{Body: verdicts("LOW", "LOW")}
		}
		return sestest.Error(http.StatusForbidden, "AccessDeniedException", "not authorized to perform ses:GetEmailAddressInsights")
	})
	code, stdout, stderr := sesconnector("insights", "-config", exampleConfig, "-endpoint", srv.URL, "jane@example.com")
	assert.Equal(t, 0, code, stderr)
	assert.Equal(t, "ADDRESS           VALID  SYNTAX  DNS   MAILBOX  DISPOSABLE  ROLE  RANDOM  DEFAULT POLICY\njane@example.com  HIGH   HIGH    HIGH  HIGH     LOW         LOW   LOW     send\n", stdout)

	code, stdout, stderr = sesconnector("insights", "-config", exampleConfig, "-endpoint", srv.URL, "jane@example.com", "jnae@exmaple.com", "denied@example.com")
	assert.Equal(t, 1, code)
	assert.Contains(t, stdout, "jnae@exmaple.com  LOW    HIGH    LOW   LOW      LOW         LOW   LOW     refuse\n")
	assert.Contains(t, stderr, "sesconnector insights: denied@example.com: SES's address insights: ")
	assert.Contains(t, stderr, "AccessDeniedException")

	code, _, stderr = sesconnector("insights", "-config", exampleConfig)
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "give at least one address")
}
