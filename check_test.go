package sesconnector_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ses "github.com/sesconnector/sesconnector"
	"github.com/sesconnector/sesconnector/internal/sestest"
)

// fakeSES describes the state of an SES account, for an sestest.Server to answer Check's calls.
type fakeSES struct {
	account    map[string]any            // GetAccount's answer
	identities map[string]map[string]any // GetEmailIdentity's answers; others are NotFound
	sets       map[string]map[string]any // GetConfigurationSet's answers; others are NotFound
	denied     string                    // the path prefix answered with AccessDeniedException
	throttled  string                    // the path prefix answered with TooManyRequestsException
	recs       []map[string]any          // ListRecommendations's answer
	tenant     map[string]any            // GetTenant's answer; nil: NotFound
	resources  []string                  // the tenant's resource ARNs
}

func readyAccount() map[string]any {
	return map[string]any{
		"ProductionAccessEnabled": true, "SendingEnabled": true, "EnforcementStatus": "HEALTHY",
		"SendQuota": map[string]any{"MaxSendRate": 14, "Max24HourSend": 50000, "SentLast24Hours": 120},
	}
}

func verifiedIdentity(kind string) map[string]any {
	return map[string]any{"IdentityType": kind, "VerifiedForSendingStatus": true, "VerificationStatus": "SUCCESS"}
}

func pendingIdentity(kind string) map[string]any {
	return map[string]any{"IdentityType": kind, "VerifiedForSendingStatus": false, "VerificationStatus": "PENDING"}
}

func (f fakeSES) respond(_ int, req sestest.Request) sestest.Response {
	if f.denied != "" && strings.HasPrefix(req.Path, f.denied) {
		return sestest.Error(http.StatusForbidden, "AccessDeniedException", "User is not authorized to perform this action")
	}
	if f.throttled != "" && strings.HasPrefix(req.Path, f.throttled) {
		return sestest.Error(http.StatusTooManyRequests, "TooManyRequestsException", "Too many requests")
	}
	answer := func(v map[string]any) sestest.Response {
		if v == nil {
			return sestest.Error(http.StatusNotFound, "NotFoundException", "not found")
		}
		body, _ := json.Marshal(v)
		return sestest.Response{Body: string(body)}
	}
	name, _ := url.PathUnescape(req.Path[strings.LastIndexByte(req.Path, '/')+1:])
	switch {
	case req.Path == "/v2/email/outbound-emails":
		return sestest.Response{} // sent: a MessageId
	case req.Path == "/v2/email/account":
		return answer(f.account)
	case strings.HasPrefix(req.Path, "/v2/email/identities/"):
		return answer(f.identities[name])
	case strings.HasPrefix(req.Path, "/v2/email/configuration-sets/"):
		return answer(f.sets[name])
	case req.Path == "/v2/email/vdm/recommendations":
		return answer(map[string]any{"Recommendations": f.recs})
	case req.Path == "/v2/email/tenants/get":
		if f.tenant == nil {
			return answer(nil)
		}
		return answer(map[string]any{"Tenant": f.tenant})
	case req.Path == "/v2/email/tenants/resources/list":
		var rs []map[string]any
		for _, arn := range f.resources {
			rs = append(rs, map[string]any{"ResourceArn": arn, "ResourceType": "EMAIL_IDENTITY"})
		}
		return answer(map[string]any{"TenantResources": rs})
	}
	return sestest.Error(http.StatusNotFound, "UnknownOperationException", req.Path)
}

func checkWith(t *testing.T, cfg *ses.Config, f fakeSES) (*ses.Report, []string) {
	t.Helper()
	c, srv := wireConnector(t, cfg)
	srv.Respond(f.respond)
	r, err := c.Check(context.Background())
	require.NoError(t, err)
	var paths []string
	for _, req := range srv.Requests() {
		paths = append(paths, req.Method+" "+req.Path)
	}
	return r, paths
}

func TestCheckReady(t *testing.T) {
	t.Parallel()
	cfg := fullConfig()
	cfg.EmailAddressIdentityArn = ""
	r, paths := checkWith(t, cfg, fakeSES{
		account:    readyAccount(),
		identities: map[string]map[string]any{"noreply@example.com": verifiedIdentity("EMAIL_ADDRESS")},
		sets: map[string]map[string]any{"auth-mail": {"ConfigurationSetName": "auth-mail", "SendingOptions": map[string]any{"SendingEnabled": true},
			"DeliveryOptions": map[string]any{"MaxDeliverySeconds": 900}}},
	})
	assert.Equal(t, &ses.Report{
		Region: "us-east-1", ProductionAccess: true, SendingEnabled: true, EnforcementStatus: "HEALTHY",
		MaxSendRate: 14, Max24HourSend: 50000, SentLast24Hours: 120,
		Identity: "noreply@example.com", IdentityVerified: true, ConfigurationSet: "auth-mail", ConfigurationSetFound: true,
		AccountRead: true, IdentityRead: true, ConfigurationSetRead: true,
	}, r)
	assert.Equal(t, []string{
		"GET /v2/email/account", "GET /v2/email/identities/noreply@example.com", "GET /v2/email/configuration-sets/auth-mail",
	}, paths)
}

func TestCheckProblems(t *testing.T) {
	t.Parallel()
	domainOnly := map[string]map[string]any{"example.com": verifiedIdentity("DOMAIN")}
	cases := []struct {
		name     string
		cfg      func(*ses.Config)
		fake     fakeSES
		problems []string // substrings, one per problem
		notes    []string
		identity string
		verified bool
	}{
		{name: "sandbox", fake: fakeSES{account: map[string]any{"ProductionAccessEnabled": false, "SendingEnabled": true}, identities: domainOnly},
			problems: []string{"the account is in the SES sandbox in eu-west-1: only verified recipients receive mail; request production access"},
			identity: "example.com", verified: true},
		{name: "sending paused", fake: fakeSES{account: map[string]any{"ProductionAccessEnabled": true, "SendingEnabled": false, "EnforcementStatus": "PROBATION"}, identities: domainOnly},
			problems: []string{"SES is reviewing the account in eu-west-1 (enforcement status PROBATION)", `sending is paused for the account in eu-west-1 (enforcement status "PROBATION")`},
			identity: "example.com", verified: true},
		{name: "quota used up", fake: fakeSES{account: map[string]any{"ProductionAccessEnabled": true, "SendingEnabled": true, "SendQuota": map[string]any{"Max24HourSend": 200, "SentLast24Hours": 200}}, identities: domainOnly},
			problems: []string{"the 24-hour sending quota in eu-west-1 is used up (200 of 200)"},
			identity: "example.com", verified: true},
		{name: "identity missing", fake: fakeSES{account: readyAccount()},
			problems: []string{"neither noreply@example.com nor its domain example.com is an SES identity in eu-west-1: verify one of them"},
			identity: "noreply@example.com"},
		{name: "domain verified, not the address", fake: fakeSES{account: readyAccount(), identities: map[string]map[string]any{
			"noreply@example.com": pendingIdentity("EMAIL_ADDRESS"), "example.com": verifiedIdentity("DOMAIN")}},
			notes:    []string{"the address identity noreply@example.com is not verified (PENDING), but its domain example.com is"},
			identity: "example.com", verified: true},
		{name: "address pending", fake: fakeSES{account: readyAccount(), identities: map[string]map[string]any{"noreply@example.com": pendingIdentity("EMAIL_ADDRESS")}},
			problems: []string{"the identity noreply@example.com in eu-west-1 is not verified yet (PENDING): click the link in the verification email"},
			identity: "noreply@example.com"},
		{name: "domain pending", fake: fakeSES{account: readyAccount(), identities: map[string]map[string]any{"example.com": pendingIdentity("DOMAIN")}},
			problems: []string{"the identity example.com in eu-west-1 is not verified yet (PENDING): publish the DKIM CNAME records"},
			identity: "example.com"},
		{name: "domain verification failed", fake: fakeSES{account: readyAccount(), identities: map[string]map[string]any{
			"example.com": {"IdentityType": "DOMAIN", "VerifiedForSendingStatus": false, "VerificationStatus": "FAILED"}}},
			problems: []string{"the identity example.com in eu-west-1 is not verified for sending (FAILED)"},
			identity: "example.com"},
		{name: "verified, not for sending", fake: fakeSES{account: readyAccount(), identities: map[string]map[string]any{
			"example.com": {"IdentityType": "DOMAIN", "VerifiedForSendingStatus": false, "VerificationStatus": "SUCCESS"}}},
			notes:    []string{"the identity example.com in eu-west-1 is verified (SUCCESS) but SES does not mark it verified for sending: if sends from it are refused with MessageRejected"},
			identity: "example.com"},
		{name: "configuration set missing", cfg: func(c *ses.Config) { c.ConfigurationSetName = "auth-mial" },
			fake:     fakeSES{account: readyAccount(), identities: domainOnly},
			problems: []string{`the configuration set "auth-mial" does not exist in eu-west-1: every send would be refused; create it or fix configurationSetName`},
			identity: "example.com", verified: true},
		{name: "configuration set disabled", cfg: func(c *ses.Config) { c.ConfigurationSetName = "auth-mail" },
			fake: fakeSES{account: readyAccount(), identities: domainOnly, sets: map[string]map[string]any{
				"auth-mail": {"SendingOptions": map[string]any{"SendingEnabled": false}}}},
			problems: []string{`sending is disabled for the configuration set "auth-mail"`},
			notes:    []string{`the configuration set "auth-mail" lets SES retry a message's delivery for long (MaxDeliverySeconds unset, so SES retries a message for up to 14 hours)`},
			identity: "example.com", verified: true},
		{name: "cross-account identity ARN", cfg: func(c *ses.Config) {
			c.EmailAddressIdentityArn = "arn:aws:ses:eu-west-1:999999999999:identity/partner.example"
		}, fake: fakeSES{account: readyAccount()},
			notes:    []string{"the identity arn:aws:ses:eu-west-1:999999999999:identity/partner.example is not in this account's eu-west-1 identities: Check cannot see another account's identities"},
			identity: "arn:aws:ses:eu-west-1:999999999999:identity/partner.example"},
		{name: "own identity ARN", cfg: func(c *ses.Config) {
			c.EmailAddressIdentityArn = "arn:aws:ses:eu-west-1:123456789012:identity/example.com"
		}, fake: fakeSES{account: readyAccount(), identities: domainOnly},
			identity: "arn:aws:ses:eu-west-1:123456789012:identity/example.com", verified: true},
		{name: "GetAccount denied", fake: fakeSES{account: readyAccount(), identities: domainOnly, denied: "/v2/email/account"},
			problems: []string{"access denied to ses:GetAccount: grant it to these credentials to let Check read the account's sandbox status and quota"},
			identity: "example.com", verified: true},
		{name: "GetEmailIdentity denied", fake: fakeSES{account: readyAccount(), denied: "/v2/email/identities/"},
			problems: []string{"access denied to ses:GetEmailIdentity: grant it"}, identity: "noreply@example.com"},
		{name: "GetConfigurationSet denied", cfg: func(c *ses.Config) { c.ConfigurationSetName = "auth-mail" },
			fake:     fakeSES{account: readyAccount(), identities: domainOnly, denied: "/v2/email/configuration-sets/"},
			problems: []string{"access denied to ses:GetConfigurationSet: grant it"},
			identity: "example.com", verified: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig()
			if tc.cfg != nil {
				tc.cfg(cfg)
			}
			r, _ := checkWith(t, cfg, tc.fake)
			assertFindings(t, r, tc.problems, tc.notes)
			assert.Equal(t, tc.identity, r.Identity)
			assert.Equal(t, tc.verified, r.IdentityVerified)
			assert.Equal(t, cfg.ConfigurationSetName == "" || strings.Contains(tc.name, "disabled"), r.ConfigurationSetFound)
		})
	}
}

func TestCheckRejectedCredentials(t *testing.T) {
	t.Parallel()
	c, srv := wireConnector(t, testConfig())
	srv.Respond(func(int, sestest.Request) sestest.Response {
		return sestest.Error(http.StatusForbidden, "UnrecognizedClientException", "The security token included in the request is invalid.")
	})
	r, err := c.Check(context.Background())
	require.NoError(t, err)
	require.Len(t, r.Problems, 1)
	assert.Contains(t, r.Problems[0], "SES rejected the credentials (UnrecognizedClientException")
	assert.Len(t, srv.Requests(), 1, "stops after the first call")
}

func TestCheckCannotAsk(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	c, err := ses.New(context.Background(), testConfig(), ses.WithEndpoint("http://"+addr), ses.WithRetryMaxAttempts(1))
	require.NoError(t, err)
	r, err := c.Check(context.Background())
	assert.Nil(t, r)
	require.ErrorIs(t, err, ses.ErrSendFailed)
	assert.Contains(t, err.Error(), "SES could not be reached (GetAccount)")

	c, _ = newConnector(t, testConfig()) // a mock with SendEmail only
	_, err = c.Check(context.Background())
	require.ErrorIs(t, err, ses.ErrInvalidConfig)
	assert.Contains(t, err.Error(), "does not implement CheckAPI")
}

func TestEmulatorCheckReadsAccount(t *testing.T) {
	c, _ := emulatorConnector(t, testConfig())
	r, err := c.Check(context.Background())
	require.NoError(t, err)
	assert.False(t, r.ProductionAccess)
	assert.True(t, r.SendingEnabled)
	assert.Equal(t, 1.0, r.MaxSendRate)
	assert.Equal(t, 200.0, r.Max24HourSend)
	assert.Equal(t, 3.0, r.SentLast24Hours)
	require.NotEmpty(t, r.Problems)
	assert.Contains(t, r.Problems[0], "the account is in the SES sandbox in eu-west-1")
	// The emulator has no GetEmailIdentity: Check says so as a problem, and goes on.
	assert.Contains(t, strings.Join(r.Problems, "\n"), "ses:GetEmailIdentity failed")
}

// What decides whether a code arrives in time: enforcement status, DKIM, how long SES retries,
// and SES's recommendations where Virtual Deliverability Manager is on; each new call denied
// or throttled is a note naming what Check could not read.
func TestCheckDeliverability(t *testing.T) {
	t.Parallel()
	withDKIM := func(status string, signing bool) map[string]map[string]any {
		id := verifiedIdentity("DOMAIN")
		id["DkimAttributes"] = map[string]any{"Status": status, "SigningEnabled": signing}
		return map[string]map[string]any{"example.com": id}
	}
	account := func(status string, vdm bool) map[string]any {
		a := readyAccount()
		a["EnforcementStatus"] = status
		if vdm {
			a["VdmAttributes"] = map[string]any{"VdmEnabled": "ENABLED"}
		}
		return a
	}
	set := func(seconds any) map[string]map[string]any {
		s := map[string]any{"SendingOptions": map[string]any{"SendingEnabled": true}}
		if seconds != nil {
			s["DeliveryOptions"] = map[string]any{"MaxDeliverySeconds": seconds}
		}
		return map[string]map[string]any{"auth-mail": s}
	}
	recs := []map[string]any{
		{"ResourceArn": "arn:aws:ses:eu-west-1:123456789012:identity/example.com", "Type": "DMARC", "Impact": "HIGH", "Status": "OPEN", "Description": "No DMARC record found for example.com"},
		{"ResourceArn": "arn:aws:ses:eu-west-1:123456789012:identity/example.com", "Type": "BIMI", "Impact": "LOW", "Status": "OPEN", "Description": "No BIMI record"},
		{"ResourceArn": "arn:aws:ses:eu-west-1:123456789012:identity/other.example", "Type": "SPF", "Impact": "HIGH", "Status": "OPEN", "Description": "not ours"},
	}
	cases := []struct {
		name           string
		fake           fakeSES
		set            bool
		problems       []string
		notes          []string
		enforcement    string
		wantRecsCalled bool
	}{
		{name: "healthy, DKIM signing, retries bounded", fake: fakeSES{account: account("HEALTHY", false), identities: withDKIM("SUCCESS", true), sets: set(900)}, set: true, enforcement: "HEALTHY"},
		{name: "probation", fake: fakeSES{account: account("PROBATION", false), identities: withDKIM("SUCCESS", true)},
			problems: []string{"SES is reviewing the account in eu-west-1 (enforcement status PROBATION)"}, enforcement: "PROBATION"},
		{name: "shutdown", fake: fakeSES{account: func() map[string]any { a := account("SHUTDOWN", false); a["SendingEnabled"] = false; return a }(), identities: withDKIM("SUCCESS", true)},
			problems: []string{"SES has shut down sending for the account in eu-west-1 (enforcement status SHUTDOWN): contact AWS Support"}, enforcement: "SHUTDOWN"},
		{name: "DKIM failed", fake: fakeSES{account: account("HEALTHY", false), identities: withDKIM("FAILED", true)},
			problems: []string{"DKIM for example.com in eu-west-1 is FAILED"}, enforcement: "HEALTHY"},
		{name: "DKIM pending", fake: fakeSES{account: account("HEALTHY", false), identities: withDKIM("PENDING", true)},
			notes: []string{"DKIM for example.com in eu-west-1 is PENDING"}, enforcement: "HEALTHY"},
		{name: "DKIM signing off", fake: fakeSES{account: account("HEALTHY", false), identities: withDKIM("SUCCESS", false)},
			notes: []string{"DKIM signing is off for example.com"}, enforcement: "HEALTHY"},
		{name: "retries for 2 hours", fake: fakeSES{account: account("HEALTHY", false), identities: withDKIM("SUCCESS", true), sets: set(7200)}, set: true,
			notes:       []string{`the configuration set "auth-mail" lets SES retry a message's delivery for long (MaxDeliverySeconds 7200 s): a code delivered after it expired is worse than none; set 900 s: aws sesv2 put-configuration-set-delivery-options --configuration-set-name auth-mail --max-delivery-seconds 900`},
			enforcement: "HEALTHY"},
		{name: "VDM recommendations", fake: fakeSES{account: account("HEALTHY", true), identities: withDKIM("SUCCESS", true), recs: recs},
			problems: []string{"SES recommends, for example.com (DMARC, HIGH impact): No DMARC record found for example.com"},
			notes:    []string{"SES recommends, for example.com (BIMI, LOW impact): No BIMI record"}, enforcement: "HEALTHY", wantRecsCalled: true},
		{name: "VDM recommendations denied", fake: fakeSES{account: account("HEALTHY", true), identities: withDKIM("SUCCESS", true), denied: "/v2/email/vdm/"},
			notes: []string{"access denied to ses:ListRecommendations: grant it to let Check read SES's deliverability recommendations for the identity"}, enforcement: "HEALTHY", wantRecsCalled: true},
		{name: "VDM recommendations throttled", fake: fakeSES{account: account("HEALTHY", true), identities: withDKIM("SUCCESS", true), throttled: "/v2/email/vdm/"},
			notes: []string{"ses:ListRecommendations was throttled, so Check could not read SES's deliverability recommendations for the identity; try again"}, enforcement: "HEALTHY", wantRecsCalled: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig()
			if tc.set {
				cfg.ConfigurationSetName = "auth-mail"
			}
			r, paths := checkWith(t, cfg, tc.fake)
			assertFindings(t, r, tc.problems, tc.notes)
			assert.Equal(t, tc.enforcement, r.EnforcementStatus)
			assert.Equal(t, tc.wantRecsCalled, slices.Contains(paths, "POST /v2/email/vdm/recommendations"), "%v", paths)
		})
	}
}

// With tenantName, Check reports whether the tenant exists and may send, and whether the
// identity and the configuration set are its resources.
func TestCheckTenant(t *testing.T) {
	t.Parallel()
	domainOnly := map[string]map[string]any{"example.com": verifiedIdentity("DOMAIN")}
	sets := map[string]map[string]any{"auth-mail": {"SendingOptions": map[string]any{"SendingEnabled": true}, "DeliveryOptions": map[string]any{"MaxDeliverySeconds": 900}}}
	both := []string{"arn:aws:ses:eu-west-1:123456789012:identity/example.com", "arn:aws:ses:eu-west-1:123456789012:configuration-set/auth-mail"}
	cases := []struct {
		name     string
		fake     fakeSES
		problems []string
		notes    []string
	}{
		{name: "a tenant holding both", fake: fakeSES{account: readyAccount(), identities: domainOnly, sets: sets, tenant: map[string]any{"TenantName": "acme", "SendingStatus": "ENABLED"}, resources: both}},
		{name: "no such tenant", fake: fakeSES{account: readyAccount(), identities: domainOnly, sets: sets},
			problems: []string{`the tenant "acme" does not exist in eu-west-1: every send would be refused`}},
		{name: "sending disabled", fake: fakeSES{account: readyAccount(), identities: domainOnly, sets: sets, tenant: map[string]any{"TenantName": "acme", "SendingStatus": "DISABLED"}, resources: both},
			problems: []string{`sending is disabled for the tenant "acme"`}},
		{name: "resources missing", fake: fakeSES{account: readyAccount(), identities: domainOnly, sets: sets, tenant: map[string]any{"TenantName": "acme", "SendingStatus": "ENABLED"}},
			problems: []string{"the identity example.com is not a resource of the tenant", `the configuration set "auth-mail" is not a resource of the tenant`}},
		{name: "denied", fake: fakeSES{account: readyAccount(), identities: domainOnly, sets: sets, denied: "/v2/email/tenants/"},
			notes: []string{"access denied to ses:GetTenant: grant it to let Check see the tenant acme"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig()
			cfg.TenantName, cfg.ConfigurationSetName = "acme", "auth-mail"
			r, _ := checkWith(t, cfg, tc.fake)
			assertFindings(t, r, tc.problems, tc.notes)
		})
	}
}

// With failoverRegions, Check reports every region, each checked like the primary: the From
// identity must be verified in each.
func TestCheckEveryRegion(t *testing.T) {
	t.Parallel()
	primary, secondary := sestest.New(t), sestest.New(t)
	primary.Respond(fakeSES{account: readyAccount(), identities: map[string]map[string]any{"example.com": verifiedIdentity("DOMAIN")}}.respond)
	secondary.Respond(fakeSES{account: readyAccount()}.respond) // no identity there
	cfg := testConfig()
	cfg.FailoverRegions = []string{"us-west-2"}
	c, err := ses.New(context.Background(), cfg, ses.WithRegionEndpoint("eu-west-1", primary.URL), ses.WithRegionEndpoint("us-west-2", secondary.URL))
	require.NoError(t, err)
	r, err := c.Check(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "eu-west-1", r.Region)
	assert.Empty(t, r.Problems)
	require.Len(t, r.Regions, 1)
	assert.Equal(t, "us-west-2", r.Regions[0].Region)
	require.Len(t, r.Regions[0].Problems, 1)
	assert.Contains(t, r.Regions[0].Problems[0], "neither noreply@example.com nor its domain example.com is an SES identity in us-west-2")
}

// assertFindings checks a report's problems and notes, in order, each containing its text.
func assertFindings(t *testing.T, r *ses.Report, problems, notes []string) {
	t.Helper()
	require.Len(t, r.Problems, len(problems), "%q", r.Problems)
	for i, want := range problems {
		assert.Contains(t, r.Problems[i], want)
	}
	require.Len(t, r.Notes, len(notes), "%q", r.Notes)
	for i, want := range notes {
		assert.Contains(t, r.Notes[i], want)
	}
}
