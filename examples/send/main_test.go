package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesconnector/sesconnector/internal/sestest"
)

var exampleConfig = filepath.Join("..", "config.example.json")

func runSend(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestSend(t *testing.T) {
	srv := sestest.New(t)
	code, stdout, stderr := runSend("-config", exampleConfig, "-to", "jane@example.com", "-code", "987654", "-endpoint", srv.URL)
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "sestest-1\n", stdout)
	reqs := srv.Requests()
	require.Len(t, reqs, 1)
	assert.Contains(t, string(reqs[0].Body), "Your Acme sign-in code is 987654")

	code, stdout, _ = runSend("-config", exampleConfig, "-to", "jane@example.com", "-test", "-endpoint", srv.URL)
	require.Equal(t, 0, code)
	assert.Equal(t, "sestest-2\n", stdout)
	assert.Contains(t, string(srv.Requests()[1].Body), "Your Acme verification code is <b>000000</b>")
}

func TestSendDryRun(t *testing.T) {
	code, stdout, stderr := runSend("-config", exampleConfig, "-to", "jane@example.com", "-locale", "pt-BR", "-dry-run")
	require.Equal(t, 0, code, stderr)
	var in map[string]any
	require.NoError(t, json.Unmarshal([]byte(stdout), &in))
	assert.Equal(t, map[string]any{"ToAddresses": []any{"jane@example.com"}}, in["Destination"])
	assert.Equal(t, "Seu código de acesso Acme é 123456", in["Content"].(map[string]any)["Simple"].(map[string]any)["Subject"].(map[string]any)["Data"])
	assert.NotContains(t, stdout, "null", "unset fields are left out")
}

func TestSendFailures(t *testing.T) {
	srv := sestest.New(t)
	srv.Respond(func(int, sestest.Request) sestest.Response {
		return sestest.Error(http.StatusBadRequest, "MessageRejected", "Email address is not verified.")
	})
	cases := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"unknown flag", []string{"-nope"}, 2, "flag provided but not defined"},
		{"no recipient", []string{"-config", exampleConfig}, 2, "-config and -to are required"},
		{"no config", []string{"-to", "a@example.com"}, 2, "-config and -to are required"},
		{"stray argument", []string{"-config", exampleConfig, "-to", "a@example.com", "extra"}, 2, "no arguments besides flags"},
		{"missing config file", []string{"-config", "nope.json", "-to", "a@example.com"}, 1, "invalid config"},
		{"bad recipient", []string{"-config", exampleConfig, "-to", "Jane <a@example.com>", "-dry-run"}, 1, "must be one bare address"},
		{"unknown usage", []string{"-config", exampleConfig, "-to", "a@example.com", "-usage", "Login", "-endpoint", srv.URL}, 1, `unknown usage type "Login"`},
		{"bad endpoint", []string{"-config", exampleConfig, "-to", "a@example.com", "-endpoint", "localhost"}, 1, "WithEndpoint"},
		{"SES refuses", []string{"-config", exampleConfig, "-to", "a@example.com", "-endpoint", srv.URL}, 1, "MessageRejected"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runSend(tc.args...)
			assert.Equal(t, tc.code, code)
			assert.Empty(t, stdout)
			assert.Contains(t, stderr, tc.stderr)
		})
	}
	assert.Len(t, srv.Requests(), 1, "only the send SES refused reached it")
}

func TestSendCheck(t *testing.T) {
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
	code, stdout, stderr := runSend("-config", exampleConfig, "-check", "-endpoint", srv.URL)
	assert.Equal(t, 1, code, stderr)
	assert.Contains(t, stdout, "Identity:          acme.example (verified: yes)\n")
	assert.Contains(t, stdout, "Problem: the account is in the SES sandbox in us-east-1")
	for _, req := range srv.Requests() {
		assert.Equal(t, http.MethodGet, req.Method, "nothing sent")
	}
}
