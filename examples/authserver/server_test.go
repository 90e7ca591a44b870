package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ses "github.com/sesconnector/sesconnector"
	"github.com/sesconnector/sesconnector/feedback"
	"github.com/sesconnector/sesconnector/internal/emulator"
	"github.com/sesconnector/sesconnector/internal/redistest"
	"github.com/sesconnector/sesconnector/internal/trickle"
)

// fakeSender remembers the last code sent to each address, or fails with err.
type fakeSender struct {
	mu    sync.Mutex
	codes map[string]string
	err   error
}

func (f *fakeSender) SendMessage(_ context.Context, to string, _ ses.UsageType, p ses.Payload) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return "", f.err
	}
	if f.codes == nil {
		f.codes = map[string]string{}
	}
	f.codes[to] = p["code"].(string)
	return "msg-1", nil
}

func (f *fakeSender) code(to string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.codes[to]
}

type testServer struct {
	*httptest.Server
	srv   *Server
	clock time.Time
}

// newTestServer serves with DefaultPolicy, but for the client limits: its tests ask from one
// client (127.0.0.1), and TestClientAndTotalLimits is about those.
func newTestServer(t *testing.T, sender Sender) *testServer {
	policy := DefaultPolicy
	policy.ClientCodes, policy.TotalCodes = 10_000, 10_000
	return newTestServerWith(t, sender, policy)
}

func newTestServerWith(t *testing.T, sender Sender, policy Policy) *testServer {
	ts := &testServer{clock: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
	ts.srv = NewServer(sender, policy, slog.New(slog.DiscardHandler))
	ts.srv.now = func() time.Time { return ts.clock }
	ts.Server = httptest.NewServer(ts.srv.Handler(nil))
	t.Cleanup(ts.Close)
	return ts
}

func (ts *testServer) post(t *testing.T, path string, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(ts.URL+path, "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var out map[string]any
	require.NoError(t, json.Unmarshal(data, &out), string(data))
	return resp.StatusCode, out
}

func codeBody(email string) string {
	return fmt.Sprintf(`{"email":%q,"usageType":"SignIn"}`, email)
}

func verifyBody(email, code string) string {
	return fmt.Sprintf(`{"email":%q,"usageType":"SignIn","code":%q}`, email, code)
}

func TestHappyPath(t *testing.T) {
	sender := &fakeSender{}
	ts := newTestServer(t, sender)
	status, out := ts.post(t, "/codes", codeBody("jane@example.com"))
	require.Equal(t, http.StatusAccepted, status, out)
	assert.Equal(t, map[string]any{"sent": true, "expiresInSeconds": 600.0}, out, "the code is never in the answer")
	code := sender.code("jane@example.com")
	assert.Regexp(t, `^\d{6}$`, code)

	status, out = ts.post(t, "/verify", verifyBody("jane@example.com", code))
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, map[string]any{"verified": true}, out)
}

func TestWrongExpiredReused(t *testing.T) {
	sender := &fakeSender{}
	ts := newTestServer(t, sender)
	ts.post(t, "/codes", codeBody("a@example.com"))
	code := sender.code("a@example.com")
	wrong := fmt.Sprintf("%06d", (mustAtoi(code)+1)%1_000_000)

	status, out := ts.post(t, "/verify", verifyBody("a@example.com", wrong))
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.Equal(t, "wrong code", out["error"])

	status, _ = ts.post(t, "/verify", verifyBody("a@example.com", code))
	assert.Equal(t, http.StatusOK, status, "a wrong try does not void the code")
	status, out = ts.post(t, "/verify", verifyBody("a@example.com", code))
	assert.Equal(t, http.StatusUnauthorized, status, "reused")
	assert.Contains(t, out["error"], "no code pending")

	ts.post(t, "/codes", codeBody("b@example.com"))
	ts.clock = ts.clock.Add(10 * time.Minute)
	status, out = ts.post(t, "/verify", verifyBody("b@example.com", sender.code("b@example.com")))
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.Contains(t, out["error"], "expired")

	ts.post(t, "/codes", codeBody("c@example.com"))
	for range DefaultPolicy.MaxAttempts {
		ts.post(t, "/verify", verifyBody("c@example.com", "------"))
	}
	status, _ = ts.post(t, "/verify", verifyBody("c@example.com", sender.code("c@example.com")))
	assert.Equal(t, http.StatusUnauthorized, status, "void after too many attempts")
}

func mustAtoi(s string) int {
	var n int
	_, _ = fmt.Sscanf(s, "%d", &n)
	return n
}

// capturingSES is the SES client of a real Connector in these tests: it keeps the code of the
// last message to each address, read from the rendered subject.
type capturingSES struct {
	mu    sync.Mutex
	codes map[string]string
}

var codeInSubject = regexp.MustCompile(`(\d{6})$`)

func (c *capturingSES) SendEmail(_ context.Context, in *sesv2.SendEmailInput, _ ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.codes == nil {
		c.codes = map[string]string{}
	}
	c.codes[in.Destination.ToAddresses[0]] = codeInSubject.FindString(*in.Content.Simple.Subject.Data)
	return &sesv2.SendEmailOutput{MessageId: aws.String("m")}, nil
}

func (c *capturingSES) code(to string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.codes[to]
}

// limitedServer is the server as main builds it, with the memory limiter, over capturingSES.
func limitedServer(t *testing.T) (*testServer, *capturingSES) {
	api := &capturingSES{}
	limiter, err := recipientLimiter("", DefaultPolicy)
	require.NoError(t, err)
	cfg, err := ses.LoadConfig(filepath.Join("..", "config.example.json"))
	require.NoError(t, err)
	conn, err := ses.New(context.Background(), cfg, ses.WithClient(api), ses.WithRecipientLimit(limiter))
	require.NoError(t, err)
	return newTestServer(t, conn), api
}

func TestTooManyRequests(t *testing.T) {
	ts, _ := limitedServer(t)
	for range DefaultPolicy.SendsPerWindow {
		status, _ := ts.post(t, "/codes", codeBody("d@example.com"))
		require.Equal(t, http.StatusAccepted, status)
	}
	resp, err := http.Post(ts.URL+"/codes", "application/json", strings.NewReader(codeBody("d@example.com")))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	retry, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	require.NoError(t, err)
	assert.InDelta(t, DefaultPolicy.SendWindow.Seconds(), retry, 5)

	status, _ := ts.post(t, "/codes", codeBody("other@example.com"))
	assert.Equal(t, http.StatusAccepted, status, "limits are per address")
}

func TestSendFailures(t *testing.T) {
	cases := []struct {
		err    error
		status int
	}{
		{fmt.Errorf("%w: %w", ses.ErrThrottled, &types.TooManyRequestsException{}), http.StatusTooManyRequests},
		{fmt.Errorf("%w: recipient is bad", ses.ErrInvalidParameters), http.StatusBadRequest},
		{fmt.Errorf("%w: %w", ses.ErrSendFailed, &types.MessageRejected{}), http.StatusBadGateway},
		{fmt.Errorf("%w: %w", ses.ErrSendFailed, context.DeadlineExceeded), http.StatusGatewayTimeout},
		{errors.New("anything else"), http.StatusBadGateway},
	}
	for _, tc := range cases {
		ts := newTestServer(t, &fakeSender{err: tc.err})
		status, out := ts.post(t, "/codes", codeBody("e@example.com"))
		assert.Equal(t, tc.status, status, tc.err.Error())
		assert.NotEmpty(t, out["error"])
		status, _ = ts.post(t, "/verify", verifyBody("e@example.com", "000000"))
		assert.Equal(t, http.StatusUnauthorized, status, "no code is pending after a failed send")
	}
}

func TestBadRequests(t *testing.T) {
	ts := newTestServer(t, &fakeSender{})
	for _, body := range []string{`not json`, `{}`, `{"email":"a@example.com"}`, `{"email":"a@example.com","usageType":"SignIn","extra":1}`} {
		status, out := ts.post(t, "/codes", body)
		assert.Equal(t, http.StatusBadRequest, status, body)
		assert.NotEmpty(t, out["error"])
	}
	resp, err := http.Get(ts.URL + "/codes")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
}

// The whole path: the real connector sends to the SES emulator, and the code read from the
// stored email verifies.
func TestWithEmulator(t *testing.T) {
	emu := emulator.StartForTest(t)
	cfg, err := ses.LoadConfig(filepath.Join("..", "config.example.json"))
	require.NoError(t, err)
	conn, err := ses.New(context.Background(), cfg, ses.WithEndpoint(emu.URL))
	require.NoError(t, err)
	ts := newTestServer(t, conn)

	status, _ := ts.post(t, "/codes", `{"email":"jane@example.com","usageType":"SignIn","locale":"pt-BR"}`)
	require.Equal(t, http.StatusAccepted, status)
	emails, err := emu.Emails()
	require.NoError(t, err)
	require.Len(t, emails, 1)
	m := regexp.MustCompile(`Seu código de acesso Acme é (\d{6})$`).FindStringSubmatch(emails[0].Subject)
	require.NotNil(t, m, emails[0].Subject)

	status, _ = ts.post(t, "/verify", verifyBody("jane@example.com", m[1]))
	assert.Equal(t, http.StatusOK, status)

	status, out := ts.post(t, "/codes", `{"email":"Jane <jane@example.com>","usageType":"SignIn"}`)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, out["error"], "must be one bare address")
}

func TestLimitIgnoresLetterCase(t *testing.T) {
	ts, api := limitedServer(t)
	for i := range DefaultPolicy.SendsPerWindow {
		email := []string{"jane@example.com", "JANE@example.com", "Jane@Example.com"}[i%3]
		status, _ := ts.post(t, "/codes", codeBody(email))
		require.Equal(t, http.StatusAccepted, status)
	}
	status, _ := ts.post(t, "/codes", codeBody("JANE@EXAMPLE.COM"))
	assert.Equal(t, http.StatusTooManyRequests, status, "one inbox, one limit")

	code := api.code("Jane@Example.com") // the last one sent
	require.NotEmpty(t, code)
	status, _ = ts.post(t, "/verify", verifyBody("jane@EXAMPLE.com", code))
	assert.Equal(t, http.StatusOK, status, "a code verifies for the address in any letter case")
}

func TestInvalidSendsDoNotCount(t *testing.T) {
	ts, _ := limitedServer(t)
	for range DefaultPolicy.SendsPerWindow + 2 {
		status, _ := ts.post(t, "/codes", `{"email":"f@example.com","usageType":"Login"}`)
		require.Equal(t, http.StatusBadRequest, status)
	}
	status, _ := ts.post(t, "/codes", codeBody("f@example.com"))
	assert.Equal(t, http.StatusAccepted, status, "refused requests used none of the address's sends")
}

// Whether an address has an account is not the server's to tell: a known and an unknown
// address get the same status and body.
func TestSameAnswerForEveryAddress(t *testing.T) {
	ts, _ := limitedServer(t)
	s1, out1 := ts.post(t, "/codes", codeBody("known@example.com"))
	s2, out2 := ts.post(t, "/codes", codeBody("nobody-ever@example.com"))
	assert.Equal(t, s1, s2)
	assert.Equal(t, out1, out2)
}

func TestBadRequestMessages(t *testing.T) {
	ts := newTestServer(t, &fakeSender{})
	for body, want := range map[string]string{
		`{"email":"a@example.com","usageType":"SignIn","extra":1}`: `unknown field "extra": send {"email", "usageType", "locale"}`,
		`not json`:                         "the body is not JSON",
		`{"email":"a@example.com"`:         "the body is not JSON",
		`{"email":7,"usageType":"SignIn"}`: "email must be a string, not number",
		`{"email":"a@example.com"}`:        "usageType is required",
		`{}`:                               "email and usageType are required",
		`{"email":"a@example.com","usageType":"SignIn"} {"email":"b@example.com","usageType":"SignIn"}`: "the body holds more after its JSON object",
		`{"email":"a@example.com","usageType":"SignIn"}}`:                                               "the body holds more after its JSON object",
		`[1]`:             "the body must be a JSON object, not array",
		`"a@example.com"`: "the body must be a JSON object, not string",
		`{"email":"a@example.com","usageType":SignIn}`: `the body is not JSON (in "usageType")`,
		`{"email":"a@example.com","locale":["pt"]}`:    "locale must be a string, not array",
	} {
		status, out := ts.post(t, "/codes", body)
		assert.Equal(t, http.StatusBadRequest, status, body)
		assert.Contains(t, out["error"], want, body)
	}
	status, out := ts.post(t, "/codes", `{"email":"`+strings.Repeat("a", 5000)+`"}`)
	assert.Equal(t, http.StatusRequestEntityTooLarge, status)
	assert.Equal(t, "the body is over 4 KiB", out["error"])
}

// One client cannot spray codes at many inboxes: 60 addresses from one client, and only its
// share of the server-wide budget goes out (TotalCodes/50 a minute); over a longer window,
// ClientCodes binds. The whole server stops at TotalCodes.
func TestClientAndTotalLimits(t *testing.T) {
	ask := func(h http.Handler, remote, email string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/codes", strings.NewReader(codeBody(email)))
		req.RemoteAddr = remote
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	spray := func(policy Policy, remote string) map[int]int {
		h := NewServer(&fakeSender{}, policy, slog.New(slog.DiscardHandler)).Handler(nil)
		codes := map[int]int{}
		for i := range 60 {
			w := ask(h, remote, fmt.Sprintf("user%d@example.com", i))
			codes[w.Code]++
			if w.Code == http.StatusTooManyRequests {
				assert.NotEmpty(t, w.Header().Get("Retry-After"))
			}
		}
		return codes
	}
	assert.Equal(t, map[int]int{http.StatusAccepted: 2, http.StatusTooManyRequests: 58}, spray(DefaultPolicy, "192.0.2.1:5000"))
	big := DefaultPolicy
	big.TotalCodes = 5000 // a client's share is 100 a minute: ClientCodes per ClientWindow binds
	assert.Equal(t, map[int]int{http.StatusAccepted: big.ClientCodes, http.StatusTooManyRequests: 60 - big.ClientCodes}, spray(big, "192.0.2.1:5000"))

	h := NewServer(&fakeSender{}, DefaultPolicy, slog.New(slog.DiscardHandler)).Handler(nil)
	codes := map[int]int{}
	for i := range DefaultPolicy.TotalCodes + 5 {
		codes[ask(h, fmt.Sprintf("10.0.%d.%d:5000", i/200, i%200), fmt.Sprintf("u%d@example.com", i)).Code]++ // a client each: only the total limits
	}
	assert.Equal(t, map[int]int{http.StatusAccepted: DefaultPolicy.TotalCodes, http.StatusTooManyRequests: 5}, codes)
}

// A client is its IPv4 address or its IPv6 /64: the addresses of one /64 are one client, an
// IPv4 address mapped into IPv6 is that address.
func TestClientKey(t *testing.T) {
	for remote, want := range map[string]string{
		"192.0.2.7:5000":                       "192.0.2.7",
		"[::ffff:192.0.2.7]:5000":              "192.0.2.7",
		"[2001:db8:1:2::1]:443":                "2001:db8:1:2::/64",
		"[2001:db8:1:2:ffff:ffff:ffff:ffff]:1": "2001:db8:1:2::/64",
		"[2001:db8:1:3::1]:443":                "2001:db8:1:3::/64",
		"[fe80::1%eth0]:80":                    "fe80::/64",
		"[::1]:80":                             "::/64",
		"@":                                    "@",
	} {
		assert.Equal(t, want, clientKey(remote), remote)
	}
	h := NewServer(&fakeSender{}, DefaultPolicy, slog.New(slog.DiscardHandler)).Handler(nil)
	codes := map[int]int{}
	for i := range 20 { // 20 addresses of one /64, each asking once
		req := httptest.NewRequest(http.MethodPost, "/codes", strings.NewReader(codeBody(fmt.Sprintf("v%d@example.com", i))))
		req.RemoteAddr = fmt.Sprintf("[2001:db8:1:2:%x::%x]:5000", i*997, i+1)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		codes[w.Code]++
	}
	assert.Equal(t, map[int]int{http.StatusAccepted: 2, http.StatusTooManyRequests: 18}, codes, "one /64 is one client")
}

// The attack of issue 25, over real sockets from distinct loopback addresses (127.0.0.0/8 is
// all loopback on Linux): eleven clients asking for 10 codes each get 2 each, and a user from
// another address is still served; it takes 50 clients to spend the server-wide
// budget.
func TestHandfulOfClientsCannotExhaustTheBudget(t *testing.T) {
	sender := &fakeSender{}
	srv := NewServer(sender, DefaultPolicy, slog.New(slog.DiscardHandler))
	ts := httptest.NewServer(srv.Handler(nil))
	defer ts.Close()
	from := func(ip string) *http.Client {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
		return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}
	}
	ask := func(c *http.Client, email string) int {
		resp, err := c.Post(ts.URL+"/codes", "application/json", strings.NewReader(codeBody(email)))
		require.NoError(t, err)
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode
	}
	sent := 0
	for c := range 11 {
		client := from(fmt.Sprintf("127.0.1.%d", c+1))
		for i := range 10 {
			if ask(client, fmt.Sprintf("victim%d-%d@example.com", c, i)) == http.StatusAccepted {
				sent++
			}
		}
		client.CloseIdleConnections()
	}
	assert.Equal(t, 22, sent, "11 clients x 10 codes: 2 each")
	user := from("127.0.2.1")
	assert.Equal(t, http.StatusAccepted, ask(user, "real.user@example.com"), "a user from another address is served")
	user.CloseIdleConnections()

	// On a server of its own: how many clients, each asking as much as it may, spend the budget.
	ts2 := httptest.NewServer(NewServer(&fakeSender{}, DefaultPolicy, slog.New(slog.DiscardHandler)).Handler(nil))
	defer ts2.Close()
	ts = ts2
	sent, clients := 0, 0
	for sent < DefaultPolicy.TotalCodes && clients < 200 {
		clients++
		client := from(fmt.Sprintf("127.0.3.%d", clients))
		for range 3 {
			if ask(client, fmt.Sprintf("more%d@example.com", sent)) == http.StatusAccepted {
				sent++
			}
		}
		client.CloseIdleConnections()
	}
	assert.Equal(t, DefaultPolicy.TotalCodes, sent)
	assert.Equal(t, clientShare, clients, "clients it took to spend the server-wide budget")
	assert.Equal(t, http.StatusTooManyRequests, ask(from("127.0.4.1"), "late@example.com"), "then the budget is spent")
}

// Asking about an address the server will not mail counts against the client like a code: the
// 422 answers (marked undeliverable, suppressed) cannot be used to probe addresses unlimited.
func TestUndeliverableAnswersCount(t *testing.T) {
	for name, sender := range map[string]*fakeSender{
		"marked":     {},
		"suppressed": {err: &ses.Suppression{Address: "gone@example.com", Reason: "BOUNCE", LastUpdated: time.Now()}},
	} {
		srv := NewServer(sender, DefaultPolicy, slog.New(slog.DiscardHandler))
		srv.undeliverable["gone@example.com"] = name == "marked"
		h := srv.Handler(nil)
		codes := map[int]int{}
		for range 10 {
			req := httptest.NewRequest(http.MethodPost, "/codes", strings.NewReader(codeBody("gone@example.com")))
			req.RemoteAddr = "192.0.2.9:4000"
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			codes[w.Code]++
		}
		assert.Equal(t, map[int]int{http.StatusUnprocessableEntity: 2, http.StatusTooManyRequests: 8}, codes, name)
	}
}

// Codes never verified do not stay: the expired ones are swept as new ones are sent.
func TestPendingCodesAreSwept(t *testing.T) {
	policy := DefaultPolicy
	policy.ClientCodes, policy.TotalCodes = 10_000, 10_000
	ts := newTestServerWith(t, &fakeSender{}, policy)
	for i := range 50 {
		status, _ := ts.post(t, "/codes", codeBody(fmt.Sprintf("never%d@example.com", i)))
		require.Equal(t, http.StatusAccepted, status)
	}
	pending := func() int {
		ts.srv.mu.Lock()
		defer ts.srv.mu.Unlock()
		return len(ts.srv.pending)
	}
	assert.Equal(t, 50, pending())
	ts.clock = ts.clock.Add(policy.CodeTTL)
	status, _ := ts.post(t, "/codes", codeBody("fresh@example.com"))
	require.Equal(t, http.StatusAccepted, status)
	assert.Equal(t, 1, pending(), "the 50 expired codes were swept")
}

// Two replicas of the server, each with its own Connector, share the per-address limit
// through REDIS_URL: the fourth code for an address is refused whichever replica gets it.
func TestReplicasShareRedisLimit(t *testing.T) {
	srv := redistest.StartForTest(t)
	cfg, err := ses.LoadConfig(filepath.Join("..", "config.example.json"))
	require.NoError(t, err)
	var replicas []*testServer
	for range 2 {
		limiter, err := recipientLimiter(srv.URL(), DefaultPolicy)
		require.NoError(t, err)
		conn, err := ses.New(context.Background(), cfg, ses.WithClient(&capturingSES{}), ses.WithRecipientLimit(limiter))
		require.NoError(t, err)
		replicas = append(replicas, newTestServer(t, conn))
	}
	for i := range DefaultPolicy.SendsPerWindow {
		status, _ := replicas[i%2].post(t, "/codes", codeBody("g@example.com"))
		require.Equal(t, http.StatusAccepted, status)
	}
	for _, r := range replicas {
		status, _ := r.post(t, "/codes", codeBody("G@example.com"))
		assert.Equal(t, http.StatusTooManyRequests, status)
	}
	_, err = recipientLimiter("http://not-redis", DefaultPolicy)
	require.Error(t, err)
}

func TestSuppressedAddressGets422(t *testing.T) {
	ts := newTestServer(t, &fakeSender{err: &ses.Suppression{Address: "gone@example.com", Reason: "BOUNCE", LastUpdated: time.Now()}})
	status, out := ts.post(t, "/codes", codeBody("gone@example.com"))
	assert.Equal(t, http.StatusUnprocessableEntity, status)
	assert.Equal(t, "this address cannot receive our mail; use another", out["error"])
}

// insightsSES is capturingSES with SES's address insights: one mistyped domain is not valid.
type insightsSES struct{ capturingSES }

func (*insightsSES) GetEmailAddressInsights(_ context.Context, in *sesv2.GetEmailAddressInsightsInput, _ ...func(*sesv2.Options)) (*sesv2.GetEmailAddressInsightsOutput, error) {
	valid := types.EmailAddressInsightsConfidenceVerdictHigh
	if strings.HasSuffix(*in.EmailAddress, "@exmaple.com") {
		valid = types.EmailAddressInsightsConfidenceVerdictLow
	}
	return &sesv2.GetEmailAddressInsightsOutput{MailboxValidation: &types.MailboxValidation{IsValid: &types.EmailAddressInsightsVerdict{ConfidenceVerdict: valid}}}, nil
}

// A sign-up to an address SES says would not receive mail gets 422 and a message the form can
// show; a sign-in is not checked (the address was, at sign-up).
func TestSignUpRefusesUndeliverable(t *testing.T) {
	cfg, err := ses.LoadConfig(filepath.Join("..", "config.example.json"))
	require.NoError(t, err)
	api := &insightsSES{}
	conn, err := ses.New(context.Background(), cfg, ses.WithClient(api), ses.WithAddressInsights(ses.InsightsPolicy{}))
	require.NoError(t, err)
	ts := newTestServer(t, conn)
	status, out := ts.post(t, "/codes", `{"email":"jane@exmaple.com","usageType":"Register"}`)
	assert.Equal(t, http.StatusUnprocessableEntity, status)
	assert.Equal(t, "this address does not look deliverable: check for a typo", out["error"])
	assert.Empty(t, api.code("jane@exmaple.com"), "nothing sent")
	status, _ = ts.post(t, "/codes", `{"email":"jane@example.com","usageType":"Register"}`)
	assert.Equal(t, http.StatusAccepted, status)
	status, _ = ts.post(t, "/codes", `{"email":"jane@exmaple.com","usageType":"SignIn"}`)
	assert.Equal(t, http.StatusAccepted, status, "sign-ins are not checked")
}

// SES's feedback marks addresses, once however often SNS delivers it; /codes then answers 422
// without sending.
func TestFeedbackMarksUndeliverable(t *testing.T) {
	sender := &fakeSender{}
	ts := newTestServer(t, sender)
	event := func(name string, edit func(rec map[string]any)) *feedback.Event {
		data, err := os.ReadFile(filepath.Join("..", "..", "feedback", "testdata", name+".json"))
		require.NoError(t, err)
		var rec map[string]any
		require.NoError(t, json.Unmarshal(data, &rec))
		if edit != nil {
			edit(rec)
		}
		data, err = json.Marshal(rec)
		require.NoError(t, err)
		e, err := feedback.Parse(data)
		require.NoError(t, err)
		return e
	}
	bounce := event("event-bounce", nil) // Permanent, to recipient@example.com
	for range 2 {
		require.NoError(t, ts.srv.HandleEvent(context.Background(), bounce), "at least once: the same event again")
	}
	transient := event("event-bounce", func(rec map[string]any) {
		b := rec["bounce"].(map[string]any)
		b["bounceType"] = "Transient"
		b["bouncedRecipients"].([]any)[0].(map[string]any)["emailAddress"] = "full@example.com"
	})
	require.NoError(t, ts.srv.HandleEvent(context.Background(), transient))
	require.NoError(t, ts.srv.HandleEvent(context.Background(), event("notification-complaint-with-feedback-report", nil)))

	for _, email := range []string{"Recipient@Example.com", "richard@example.com"} {
		status, out := ts.post(t, "/codes", codeBody(email))
		assert.Equal(t, http.StatusUnprocessableEntity, status, email)
		assert.Equal(t, "this address cannot receive our mail; use another", out["error"])
	}
	status, _ := ts.post(t, "/codes", codeBody("full@example.com"))
	assert.Equal(t, http.StatusAccepted, status, "a transient bounce is no reason to stop")
	assert.Empty(t, sender.code("Recipient@Example.com"), "nothing was sent to the marked address")
}

// /ses-events is wired to the SNS handler, which refuses what it cannot verify.
func TestSESEventsRoute(t *testing.T) {
	srv := NewServer(&fakeSender{}, DefaultPolicy, slog.New(slog.DiscardHandler))
	events, err := feedback.NewSNSHandler(srv.HandleEvent, feedback.WithTopicARNs("arn:aws:sns:us-east-1:1:t"))
	require.NoError(t, err)
	ts := httptest.NewServer(srv.Handler(events))
	defer ts.Close()
	resp, err := http.Post(ts.URL+"/ses-events", "application/json", strings.NewReader(`{"Type":"Notification","MessageId":"m","TopicArn":"arn:aws:sns:us-east-1:1:t","Message":"{}","SignatureVersion":"1","Signature":"AAAA","SigningCertURL":"https://evil.example/x.pem"}`))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
}

// The server does not start without the feedback topic: /ses-events would take any topic's.
func TestRunNeedsTheTopic(t *testing.T) {
	err := run(filepath.Join("..", "config.example.json"), "127.0.0.1:0", "127.0.0.1:0", "", "", deliveries{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "give -topic ARN (or SES_TOPIC_ARN)")
}

// A client that trickles its body one byte every 2 s is cut off by ReadTimeout, not kept.
func TestSlowClientIsCut(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := newHTTPServer("", NewServer(&fakeSender{}, DefaultPolicy, slog.New(slog.DiscardHandler)).Handler(nil))
	go srv.Serve(l)
	defer srv.Close()
	held, err := trickle.HeldFor(l.Addr().String(), "/codes", 30*time.Second)
	require.NoError(t, err)
	assert.Less(t, held, 13*time.Second, "cut within ReadTimeout (10 s)")
	assert.Greater(t, held, 5*time.Second)
	assert.Positive(t, srv.IdleTimeout, "idle keep-alive connections close")
	assert.Positive(t, srv.WriteTimeout)
	t.Logf("a body trickled at 1 byte per 2 s was cut after %v", held.Round(time.Millisecond))
}

// With REDIS_URL, the replicas share the send rate, sized from the account's quota with
// headroom; where the quota cannot be read, they go without, saying so.
func TestSharedSendRateFromQuota(t *testing.T) {
	rds := redistest.StartForTest(t)
	for _, tc := range []struct {
		account string
		want    int
	}{{`{"SendQuota":{"MaxSendRate":20,"Max24HourSend":50000}}`, 1}, {"", 0}} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if tc.account == "" {
				w.Header().Set("X-Amzn-ErrorType", "AccessDeniedException")
				w.WriteHeader(http.StatusForbidden)
				io.WriteString(w, `{"message":"not authorized to perform ses:GetAccount"}`)
				return
			}
			io.WriteString(w, tc.account)
		}))
		cfg, err := ses.LoadConfig(filepath.Join("..", "config.example.json"))
		require.NoError(t, err)
		var logs strings.Builder
		opts, err := sharedSendRate(context.Background(), cfg, rds.URL(), []ses.Option{ses.WithEndpoint(srv.URL)}, slog.New(slog.NewTextHandler(&logs, nil)))
		srv.Close()
		require.NoError(t, err)
		assert.Len(t, opts, tc.want)
		if tc.want == 1 {
			assert.Contains(t, logs.String(), "perSecond=18 quota=20")
		} else {
			assert.Contains(t, logs.String(), "the replicas do not share a send rate")
		}
	}
}
