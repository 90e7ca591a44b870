package sesconnector

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
)

// maxIdlePerHost is how many idle connections to SES the client keeps: as many as an auth
// service has sends in flight. The SDK keeps 10, so that when the sends in flight rise above
// 10 and fall back, the connections beyond 10 are closed, and the next rise pays a new TCP and
// TLS handshake (two round trips) for each of them. An idle connection is still closed after
// the SDK's 90 seconds.
const maxIdlePerHost = 1024

// sizedForConcurrency keeps an idle connection for every send in flight, on the client that
// the AWS configuration loader built: that client carries AWS_CA_BUNDLE's roots, the proxy
// settings and every other SDK default, which a fresh client would drop. A client of another
// kind (set with config options the loader was given) is left as it is.
func sizedForConcurrency(c aws.HTTPClient) aws.HTTPClient {
	bc, ok := c.(*awshttp.BuildableClient)
	if !ok {
		return c
	}
	return bc.WithTransportOptions(func(tr *http.Transport) {
		tr.MaxIdleConnsPerHost = maxIdlePerHost
		tr.MaxIdleConns = max(tr.MaxIdleConns, maxIdlePerHost)
	})
}

// Warm resolves the credentials and opens one connection to the SES endpoint, without
// sending mail and without any IAM permission (an unsigned request, which SES answers with an
// error), so that the first sign-in after a deploy does not pay for the credential look-up,
// DNS, TCP and TLS. Call it after New, before taking traffic. With WithClient there is nothing
// to warm, and it returns nil. An error says what could not be reached; sends would fail alike.
func (c *Connector) Warm(ctx context.Context) error {
	if ctx == nil {
		return errNilContext
	}
	client, ok := c.client.(*sesv2.Client)
	if !ok {
		return nil
	}
	o := client.Options()
	if o.Credentials != nil {
		if _, err := o.Credentials.Retrieve(ctx); err != nil {
			return fmt.Errorf("%w: warming up: resolving AWS credentials: %w", ErrSendFailed, err)
		}
	}
	endpoint, err := o.EndpointResolverV2.ResolveEndpoint(ctx, sesv2.EndpointParameters{
		Region:       aws.String(o.Region),
		Endpoint:     o.BaseEndpoint,
		UseFIPS:      aws.Bool(o.EndpointOptions.UseFIPSEndpoint == aws.FIPSEndpointStateEnabled),
		UseDualStack: aws.Bool(o.EndpointOptions.UseDualStackEndpoint == aws.DualStackEndpointStateEnabled),
	})
	if err != nil {
		return fmt.Errorf("%w: warming up: resolving the SES endpoint: %w", ErrSendFailed, err)
	}
	url := strings.TrimSuffix(endpoint.URI.String(), "/") + "/"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("%w: warming up: %w", ErrSendFailed, err)
	}
	resp, err := o.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("%w: warming up: connecting to %s: %w", ErrSendFailed, url, err)
	}
	// Read the answer to its end, so that the connection goes back to the pool.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return nil
}
