package sesconnector_test

import (
	"context"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ses "github.com/sesconnector/sesconnector"
)

// tlsSES is an HTTPS SES endpoint (HTTP/1.1, as SES's API is to this SDK) trusted through
// AWS_CA_BUNDLE, that counts connections and can hold sends until a burst has arrived.
type tlsSES struct {
	*httptest.Server
	conns    atomic.Int64
	gets     atomic.Int64
	mu       sync.Mutex
	burst    int           // hold each send until this many are in flight; 0: answer at once
	arrived  int           // sends of the current burst
	released chan struct{} // closed when the burst is complete
}

func newTLSSES(t *testing.T) *tlsSES {
	s := &tlsSES{}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.StartTLS()
	t.Cleanup(s.Close)
	bundle := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(bundle, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw}), 0o600))
	t.Setenv("AWS_CA_BUNDLE", bundle) // New's client must keep the loader's CA bundle
	return s
}

func (s *tlsSES) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet {
		s.gets.Add(1)
		w.Header().Set("X-Amzn-ErrorType", "MissingAuthenticationTokenException")
		http.Error(w, `{"message":"Missing Authentication Token"}`, http.StatusForbidden)
		return
	}
	s.mu.Lock()
	if s.burst > 0 {
		s.arrived++
		if s.arrived == s.burst {
			close(s.released)
		}
		released := s.released
		s.mu.Unlock()
		select {
		case <-released:
		case <-time.After(10 * time.Second):
		}
	} else {
		s.mu.Unlock()
	}
	fmt.Fprint(w, `{"MessageId":"tls-sink"}`)
}

// expectBurst makes the next n sends wait for each other: n connections at once.
func (s *tlsSES) expectBurst(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.burst, s.arrived, s.released = n, 0, make(chan struct{})
}

func burst(t *testing.T, n int, send func() error) {
	t.Helper()
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() { assert.NoError(t, send()) })
	}
	wg.Wait()
}

// Not parallel: AWS_CA_BUNDLE is the process's environment.
func TestPoolKeepsAConnectionPerSendInFlight(t *testing.T) {
	s := newTLSSES(t)
	ctx := context.Background()
	c, err := ses.New(ctx, testConfig(), ses.WithEndpoint(s.URL))
	require.NoError(t, err)
	send := func() error {
		_, err := c.SendMessage(ctx, "user@example.com", ses.UsageSignIn, ses.Payload{"code": "1"})
		return err
	}
	const inFlight = 32
	s.expectBurst(inFlight)
	burst(t, inFlight, send)
	first := s.conns.Load()
	assert.Equal(t, int64(inFlight), first, "a connection per send in flight")
	s.expectBurst(inFlight)
	burst(t, inFlight, send)
	assert.Equal(t, first, s.conns.Load(), "the next rise reuses every connection: no new handshake")

	// The SDK's default client keeps 10 and handshakes again for the rest.
	awsCfg, err := config.LoadDefaultConfig(ctx, config.WithRegion("eu-west-1"),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("AKIAIOSFODNN7EXAMPLE", fakeSecret, "")))
	require.NoError(t, err)
	raw := sesv2.NewFromConfig(awsCfg, func(o *sesv2.Options) { o.BaseEndpoint = aws.String(s.URL) })
	rawSend := func() error {
		_, err := raw.SendEmail(ctx, &sesv2.SendEmailInput{FromEmailAddress: aws.String("noreply@example.com"),
			Destination: &types.Destination{ToAddresses: []string{"user@example.com"}},
			Content: &types.EmailContent{Simple: &types.Message{Subject: &types.Content{Data: aws.String("s")},
				Body: &types.Body{Text: &types.Content{Data: aws.String("b")}}}}})
		return err
	}
	s.expectBurst(inFlight)
	burst(t, inFlight, rawSend)
	before := s.conns.Load()
	s.expectBurst(inFlight)
	burst(t, inFlight, rawSend)
	assert.Equal(t, int64(inFlight-10), s.conns.Load()-before, "the SDK default keeps 10 idle connections")
}

func TestWarm(t *testing.T) {
	s := newTLSSES(t)
	ctx := context.Background()
	c, err := ses.New(ctx, testConfig(), ses.WithEndpoint(s.URL))
	require.NoError(t, err)
	require.NoError(t, c.Warm(ctx))
	assert.Equal(t, int64(1), s.conns.Load(), "one connection open")
	assert.Equal(t, int64(1), s.gets.Load(), "one unsigned request, no mail")
	_, err = c.SendMessage(ctx, "user@example.com", ses.UsageSignIn, ses.Payload{"code": "1"})
	require.NoError(t, err)
	assert.Equal(t, int64(1), s.conns.Load(), "the first send takes the warm connection")

	mocked, _ := newConnector(t, testConfig())
	require.NoError(t, mocked.Warm(ctx), "WithClient: nothing to warm")
	var nilCtx context.Context
	require.ErrorIs(t, c.Warm(nilCtx), ses.ErrInvalidParameters)

	s.Close()
	down, err := ses.New(ctx, testConfig(), ses.WithEndpoint(s.URL))
	require.NoError(t, err)
	err = down.Warm(ctx)
	require.ErrorIs(t, err, ses.ErrSendFailed)
	assert.Contains(t, err.Error(), "warming up: connecting to "+s.URL)
}

// WithSESOptions setting HTTPClient still wins over the sized client.
func TestWithSESOptionsHTTPClientWins(t *testing.T) {
	s := newTLSSES(t)
	var used atomic.Int64
	client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		used.Add(1)
		return s.Client().Transport.RoundTrip(r)
	})}
	c, err := ses.New(context.Background(), testConfig(), ses.WithEndpoint(s.URL),
		ses.WithSESOptions(func(o *sesv2.Options) { o.HTTPClient = client }))
	require.NoError(t, err)
	_, err = c.SendMessage(context.Background(), "user@example.com", ses.UsageSignIn, ses.Payload{"code": "1"})
	require.NoError(t, err)
	assert.Equal(t, int64(1), used.Load())
}
