// Package motoserver starts and stops moto_server (Python's moto, which emulates SES, SNS and
// SQS, and SES's mailbox simulator) on a free loopback port, for tests. Install it with
// `pip install "moto[server]"`; `make test` does so where moto_server is missing.
package motoserver

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/stretchr/testify/require"

	"github.com/sesconnector/sesconnector/internal/childproc"
)

// Region is the region the helpers below use.
const Region = "us-east-1"

// Server is a running moto_server on 127.0.0.1.
type Server struct {
	*childproc.Process
	URL string // http://127.0.0.1:PORT, the endpoint of every service
}

// Start runs moto_server on a free loopback port and waits until it answers.
func Start(ctx context.Context) (*Server, error) {
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		return nil, fmt.Errorf(`moto_server not installed (pip install "moto[server]"): %w`, err)
	}
	port, err := childproc.FreePort()
	if err != nil {
		return nil, err
	}
	s := &Server{URL: "http://127.0.0.1:" + strconv.Itoa(port)}
	s.Process, err = childproc.Start(ctx, "moto_server", exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port)), 30*time.Second, func() error {
		resp, err := http.Get(s.URL + "/moto-api/")
		if err == nil {
			resp.Body.Close()
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// StartForTest starts a server for one test and stops it when the test ends; where it cannot
// start, the test fails (see childproc.Need).
func StartForTest(t testing.TB) *Server {
	t.Helper()
	s, err := Start(context.Background())
	if err != nil {
		childproc.Need(t, err, "Run `make test`, which installs moto_server where it is missing.")
	}
	t.Cleanup(s.Stop)
	return s
}

// Query calls an AWS query-protocol action (SNS, SES v1) on moto, which routes by the service
// named in the credential scope and does not check the signature, and returns the answer.
func (s *Server) Query(t testing.TB, service string, params url.Values) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL+"/", strings.NewReader(params.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", fmt.Sprintf("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20260101/%s/%s/aws4_request, SignedHeaders=host, Signature=00", Region, service))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s %s: %s", service, params.Get("Action"), body)
	return string(body)
}

// SQS is an SQS client of the server.
func (s *Server) SQS() *sqs.Client {
	return sqs.New(sqs.Options{
		Region: Region, BaseEndpoint: aws.String(s.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIAIOSFODNN7EXAMPLE", "fake-secret-for-moto", ""),
	})
}

// FeedbackQueue creates a queue subscribed to a new topic, and returns both.
func (s *Server) FeedbackQueue(t testing.TB, q *sqs.Client, name string) (queueURL, topicARN string) {
	t.Helper()
	ctx := context.Background()
	created, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name)})
	require.NoError(t, err)
	attrs, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: created.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	require.NoError(t, err)
	body := s.Query(t, "sns", url.Values{"Action": {"CreateTopic"}, "Name": {name}, "Version": {"2010-03-31"}})
	m := regexp.MustCompile(`<TopicArn>([^<]+)</TopicArn>`).FindStringSubmatch(body)
	require.NotNil(t, m, body)
	s.Query(t, "sns", url.Values{"Action": {"Subscribe"}, "TopicArn": {m[1]}, "Protocol": {"sqs"},
		"Endpoint": {attrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]}, "Version": {"2010-03-31"}})
	return *created.QueueUrl, m[1]
}

// NotifyIdentity verifies the domain identity and sends its Bounce, Complaint and Delivery
// notifications to topic.
func (s *Server) NotifyIdentity(t testing.TB, domain, topic string) {
	t.Helper()
	s.Query(t, "ses", url.Values{"Action": {"VerifyDomainIdentity"}, "Domain": {domain}, "Version": {"2010-12-01"}})
	for _, kind := range []string{"Bounce", "Complaint", "Delivery"} {
		s.Query(t, "ses", url.Values{"Action": {"SetIdentityNotificationTopic"}, "Identity": {domain},
			"NotificationType": {kind}, "SnsTopic": {topic}, "Version": {"2010-12-01"}})
	}
}
