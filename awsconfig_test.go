package sesconnector_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ses "github.com/sesconnector/sesconnector"
	"github.com/sesconnector/sesconnector/internal/sestest"
)

// countingTransport is a user's own HTTP client: it records the host of every request.
type countingTransport struct {
	mu    sync.Mutex
	hosts []string
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.hosts = append(c.hosts, r.URL.Host)
	c.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

func (c *countingTransport) count(host string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, h := range c.hosts {
		if h == host {
			n++
		}
	}
	return n
}

// userAWSConfig is an aws.Config as a service builds it: its own credentials, HTTP client and a
// middleware that stamps a header (as otelaws adds its spans).
func userAWSConfig(tr *countingTransport) aws.Config {
	stamp := middleware.BuildMiddlewareFunc("userStamp", func(ctx context.Context, in middleware.BuildInput, next middleware.BuildHandler) (middleware.BuildOutput, middleware.Metadata, error) {
		if req, ok := in.Request.(*smithyhttp.Request); ok {
			req.Header.Set("X-User-Middleware", "1")
		}
		return next.HandleBuild(ctx, in)
	})
	return aws.Config{
		Region:      "ap-south-1", // the Config's region wins
		Credentials: credentials.NewStaticCredentialsProvider("AKIDUSERCHAIN0000000", "user-chain-fake-secret", ""),
		HTTPClient:  &http.Client{Transport: tr},
		APIOptions: []func(*middleware.Stack) error{func(s *middleware.Stack) error {
			return s.Build.Add(stamp, middleware.After)
		}},
	}
}

// WithAWSConfig builds every region's client from the user's aws.Config: its credentials, HTTP
// client and middleware; failover, Check and Warm work as with New's own clients.
func TestWithAWSConfigKeepsFailoverCheckAndWarm(t *testing.T) {
	primary, secondary := sestest.New(t), sestest.New(t)
	ready := fakeSES{account: readyAccount(), identities: map[string]map[string]any{"example.com": verifiedIdentity("DOMAIN")}}
	primary.Respond(func(n int, req sestest.Request) sestest.Response {
		if req.Path == "/v2/email/outbound-emails" {
			return sestest.Error(http.StatusServiceUnavailable, "ServiceUnavailable", "try later")
		}
		return ready.respond(n, req)
	})
	secondary.Respond(ready.respond)
	tr := &countingTransport{}
	cfg := testConfig()
	cfg.AccessKeyID, cfg.AccessKeySecret = "", "" // the user's credential chain
	cfg.FailoverRegions = []string{"us-west-2"}
	c, err := ses.New(context.Background(), cfg, ses.WithAWSConfig(userAWSConfig(tr)),
		ses.WithRegionEndpoint("eu-west-1", primary.URL), ses.WithRegionEndpoint("us-west-2", secondary.URL))
	require.NoError(t, err)

	require.NoError(t, c.Warm(context.Background()))
	primaryHost, secondaryHost := strings.TrimPrefix(primary.URL, "http://"), strings.TrimPrefix(secondary.URL, "http://")
	assert.Equal(t, 1, tr.count(primaryHost), "Warm connected through the user's HTTP client")

	id, err := c.SendMessage(context.Background(), "jane@example.com", ses.UsageSignIn, ses.Payload{"code": "123456"})
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(id, "sestest-"), id)
	sent := secondary.Requests()
	require.Len(t, sent, 1, "the failover region took the message")
	assert.Equal(t, "/v2/email/outbound-emails", sent[0].Path)
	assert.Equal(t, "1", sent[0].Header.Get("X-User-Middleware"), "the user's middleware ran")
	assert.Contains(t, sent[0].Header.Get("Authorization"), "Credential=AKIDUSERCHAIN0000000/", "the user's credentials")
	assert.Contains(t, sent[0].Header.Get("Authorization"), "/us-west-2/ses/", "signed for the failover region")

	r, err := c.Check(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "eu-west-1", r.Region)
	assert.Empty(t, r.Problems)
	require.Len(t, r.Regions, 1)
	assert.Equal(t, "us-west-2", r.Regions[0].Region)
	assert.Empty(t, r.Regions[0].Problems)
	assert.Positive(t, tr.count(secondaryHost), "Check asked every region through the user's HTTP client")
	for _, srv := range []*sestest.Server{primary, secondary} {
		for _, req := range srv.Requests() {
			if req.Method != http.MethodGet || req.Path != "/" { // Warm's request is unsigned, outside the SDK
				assert.Equal(t, "1", req.Header.Get("X-User-Middleware"), req.Path)
			}
		}
	}
}

// The Config's keys, when set, win over the aws.Config's credentials; a WithAWSConfig without
// credentials or beside WithClient is a config error that says what to do.
func TestWithAWSConfigRules(t *testing.T) {
	srv := sestest.New(t)
	tr := &countingTransport{}
	c, err := ses.New(context.Background(), testConfig(), ses.WithAWSConfig(userAWSConfig(tr)), ses.WithEndpoint(srv.URL))
	require.NoError(t, err)
	_, err = c.SendMessage(context.Background(), "jane@example.com", ses.UsageSignIn, ses.Payload{"code": "123456"})
	require.NoError(t, err)
	require.Len(t, srv.Requests(), 1)
	assert.Contains(t, srv.Requests()[0].Header.Get("Authorization"), "Credential=AKIAIOSFODNN7EXAMPLE/", "the Config's keys win")

	noKeys := testConfig()
	noKeys.AccessKeyID, noKeys.AccessKeySecret = "", ""
	for name, c := range map[string]struct {
		cfg  *ses.Config
		opts []ses.Option
		want string
	}{
		"no credentials":  {noKeys, []ses.Option{ses.WithAWSConfig(aws.Config{})}, "WithAWSConfig: the aws.Config has no Credentials"},
		"with WithClient": {testConfig(), []ses.Option{ses.WithAWSConfig(userAWSConfig(tr)), ses.WithClient(quietSES{})}, "WithAWSConfig: WithClient gives the client itself"},
	} {
		_, err := ses.New(context.Background(), c.cfg, c.opts...)
		require.Error(t, err, name)
		assert.True(t, errors.Is(err, ses.ErrInvalidConfig), name)
		assert.Contains(t, err.Error(), c.want, name)
	}
}
