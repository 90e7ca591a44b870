package sesconnector_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ses "github.com/sesconnector/sesconnector"
)

// failoverRegions, endpointId and tenantName: what loads, and every problem by its path.
func TestRegionFields(t *testing.T) {
	t.Parallel()
	with := func(extra map[string]any) []byte {
		m := validConfig()
		for k, v := range extra {
			m[k] = v
		}
		data, err := json.Marshal(m)
		require.NoError(t, err)
		return data
	}
	cfg, err := ses.ParseConfig(with(map[string]any{"failoverRegions": []string{"us-west-2", "ap-southeast-2"}, "tenantName": "acme_tenant-1"}))
	require.NoError(t, err)
	assert.Equal(t, []string{"us-west-2", "ap-southeast-2"}, cfg.FailoverRegions)
	assert.Equal(t, "acme_tenant-1", cfg.TenantName)
	cfg, err = ses.ParseConfig(with(map[string]any{"endpointId": "abcd1234.xyz", "failoverRegions": nil}))
	require.NoError(t, err)
	assert.Equal(t, "abcd1234.xyz", cfg.EndpointID)

	cases := []struct {
		name  string
		extra map[string]any
		want  []string
	}{
		{"not a region", map[string]any{"failoverRegions": []string{"mars-1"}}, []string{`failoverRegions[0]: "mars-1" is not an AWS region name`}},
		{"the primary", map[string]any{"failoverRegions": []string{"eu-west-1"}}, []string{`failoverRegions[0]: "eu-west-1" is the primary region`}},
		{"a repeat", map[string]any{"failoverRegions": []string{"us-west-2", "ap-southeast-2", "us-west-2"}}, []string{"failoverRegions[2]: repeats failoverRegions[0]"}},
		{"not a list", map[string]any{"failoverRegions": "us-west-2"}, []string{"failoverRegions: must be an array of strings, not a string"}},
		{"not strings", map[string]any{"failoverRegions": []any{1}}, []string{"failoverRegions[0]: must be a string, not a number"}},
		{"bad endpoint ID", map[string]any{"endpointId": "-abc..x"}, []string{`endpointId: "-abc..x" is not an SES global endpoint ID`}},
		{"endpoint with failover", map[string]any{"endpointId": "abcd1234.xyz", "failoverRegions": []string{"us-west-2"}}, []string{"endpointId: not together with failoverRegions"}},
		{"bad tenant", map[string]any{"tenantName": "acme tenant"}, []string{`tenantName: "acme tenant" is not an SES tenant name`}},
		{"long tenant", map[string]any{"tenantName": string(make([]byte, 65))}, []string{"tenantName: "}},
	}
	for _, tc := range cases {
		_, err := ses.ParseConfig(with(tc.extra))
		require.ErrorIs(t, err, ses.ErrInvalidConfig, tc.name)
		for _, w := range tc.want {
			assert.Contains(t, err.Error(), w, tc.name)
		}
	}
}

// endpointId: every send carries it, to the global endpoint's host, signed with SigV4a (the
// SDK's endpoint rules choose it); tenantName: every send and suppression look-up carries it.
func TestWireEndpointIDAndTenant(t *testing.T) {
	var mu sync.Mutex
	var seen []*http.Request
	var bodies []map[string]any
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		mu.Lock()
		seen, bodies = append(seen, r), append(bodies, body)
		mu.Unlock()
		if strings.HasPrefix(r.URL.Path, "/v2/email/suppression/addresses/") {
			w.Header().Set("X-Amzn-ErrorType", "NotFoundException")
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"message":"not on the list"}`)
			return
		}
		io.WriteString(w, `{"MessageId":"global-1"}`)
	}))
	defer srv.Close()
	// Every host is the test server, whose certificate is for example.com.
	tr := srv.Client().Transport.(*http.Transport).Clone()
	tr.TLSClientConfig.ServerName = "example.com"
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, srv.Listener.Addr().String())
	}
	cfg := testConfig()
	cfg.EndpointID, cfg.TenantName = "abcd1234.xyz", "acme"
	c, err := ses.New(context.Background(), cfg, ses.WithSuppressionCheck(time.Minute), noBackoff(),
		ses.WithSESOptions(func(o *sesv2.Options) { o.HTTPClient = &http.Client{Transport: tr} }))
	require.NoError(t, err)
	id, err := c.SendMessage(context.Background(), "jane@example.com", ses.UsageSignIn, ses.Payload{"code": "1"})
	require.NoError(t, err)
	assert.Equal(t, "global-1", id)

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, seen, 2)
	lookup, send := seen[0], seen[1]
	assert.Equal(t, "/v2/email/outbound-emails", send.URL.Path)
	assert.Equal(t, "abcd1234.xyz.endpoints.email.amazonaws.com", send.Host, "the global endpoint's host")
	assert.True(t, strings.HasPrefix(send.Header.Get("Authorization"), "AWS4-ECDSA-P256-SHA256 "), "SigV4a: %s", send.Header.Get("Authorization"))
	assert.Equal(t, "*", send.Header.Get("X-Amz-Region-Set"))
	assert.Equal(t, "abcd1234.xyz", bodies[1]["EndpointId"])
	assert.Equal(t, "acme", bodies[1]["TenantName"])
	assert.Equal(t, "acme", lookup.URL.Query().Get("TenantName"), "the tenant's suppression list")
}
