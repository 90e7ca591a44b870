package sesconnector_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ses "github.com/sesconnector/sesconnector"
	"github.com/sesconnector/sesconnector/internal/emulator"
	"github.com/sesconnector/sesconnector/internal/sestest"
)

// regionFault is what a region's proxy does with a request.
type regionFault int

const (
	pass      regionFault = iota // forwarded to the emulator, answered
	blackhole                    // read, never answered, never forwarded
	reset                        // read, the connection reset, never forwarded
	answer503                    // ServiceUnavailable, not forwarded
	answer429                    // TooManyRequestsException, not forwarded
	answer400                    // MessageRejected, not forwarded
	lose                         // forwarded (the emulator takes it), then the connection reset: a lost answer
)

var faultNames = map[regionFault]string{pass: "pass", blackhole: "blackhole", reset: "reset", answer503: "503",
	answer429: "429", answer400: "400", lose: "lost answer"}

// faultyRegion is an HTTP proxy in front of one emulator that applies the fault of the moment.
type faultyRegion struct {
	emu   *emulator.Emulator
	URL   string
	fault atomic.Int32
}

func startFaultyRegion(t *testing.T) *faultyRegion {
	t.Helper()
	r := &faultyRegion{emu: emulator.StartForTest(t)}
	target, err := url.Parse(r.emu.URL)
	require.NoError(t, err)
	forward := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		switch regionFault(r.fault.Load()) {
		case pass:
			forward.ServeHTTP(w, req)
		case blackhole:
			_, _ = io.Copy(io.Discard, req.Body)
			<-req.Context().Done()
		case reset:
			_, _ = io.Copy(io.Discard, req.Body)
			sestest.ResetConnection(w)
		case answer503:
			awsError(w, http.StatusServiceUnavailable, "ServiceUnavailable", "Service unavailable")
		case answer429:
			awsError(w, http.StatusTooManyRequests, "TooManyRequestsException", "Maximum sending rate exceeded.")
		case answer400:
			awsError(w, http.StatusBadRequest, "MessageRejected", "Email address is not verified.")
		case lose:
			forward.ServeHTTP(httptest.NewRecorder(), req) // the emulator took it
			sestest.ResetConnection(w)
		}
	}))
	srv.Config.ReadHeaderTimeout, srv.Config.IdleTimeout = 5*time.Second, 30*time.Second
	srv.Start()
	t.Cleanup(srv.Close)
	r.URL = srv.URL
	return r
}

func awsError(w http.ResponseWriter, status int, errorType, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", errorType)
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, `{"message":%q}`, message)
}

// copies counts the messages each emulator holds per recipient.
func copies(t *testing.T, r *faultyRegion) map[string]int {
	t.Helper()
	emails, err := r.emu.Emails()
	require.NoError(t, err)
	n := map[string]int{}
	for _, e := range emails {
		for _, to := range e.Destination.To {
			n[to]++
		}
	}
	return n
}

// Two regions, each the SES emulator behind a proxy that blackholes, resets, answers 503, 429 or
// 400, or loses the answer after the emulator took the message. For each fault of the primary,
// twelve concurrent sign-ins with a 4-s deadline: per recipient at most one copy per region; a
// 400 refusal sent nowhere else; every other fault failed over and sent; when both regions lose
// the answer, an error and at most one copy in each. Goroutines are back to where they were at the end.
func TestRegionFaultsAgainstEmulators(t *testing.T) {
	noLeaks(t)
	primary, secondary := startFaultyRegion(t), startFaultyRegion(t)
	cfg := testConfig()
	cfg.FailoverRegions = []string{"us-west-2"}

	// Copies per recipient in each region, or atMostOne where the region's skip decides: a
	// region that failed three times in a row is skipped by the sends still to come.
	const atMostOne = -1
	type want struct {
		sent             bool // SendMessage returned a MessageId
		inPrimary, inSec int
	}
	for _, tc := range []struct {
		primary, secondary regionFault
		want               want
	}{
		{pass, pass, want{true, 1, 0}},
		{blackhole, pass, want{true, 0, 1}},
		{reset, pass, want{true, 0, 1}},
		{answer503, pass, want{true, 0, 1}},
		{answer429, pass, want{true, 0, 1}},
		{answer400, pass, want{false, 0, 0}},
		{lose, pass, want{true, 1, 1}},
		{lose, lose, want{false, 1, atMostOne}},
		{blackhole, blackhole, want{false, 0, 0}},
	} {
		name := faultNames[tc.primary] + "/" + faultNames[tc.secondary]
		primary.fault.Store(int32(tc.primary))
		secondary.fault.Store(int32(tc.secondary))
		// A Connector per case: the primary's failures of one case do not skip it in the next.
		c, err := ses.New(context.Background(), cfg, ses.WithRegionEndpoint("eu-west-1", primary.URL),
			ses.WithRegionEndpoint("us-west-2", secondary.URL))
		require.NoError(t, err)

		const n = 12
		errs := make([]error, n)
		to := func(i int) string { return fmt.Sprintf("case%d-%d@example.com", tc.primary*10+tc.secondary, i) }
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
				defer cancel()
				_, errs[i] = c.SendMessage(ctx, to(i), ses.UsageSignIn, ses.Payload{"code": "123456"})
			})
		}
		wg.Wait()
		inPrimary, inSecondary := copies(t, primary), copies(t, secondary)
		for i := range n {
			if tc.want.sent {
				assert.NoError(t, errs[i], "%s: sent", name)
			} else {
				assert.ErrorIs(t, errs[i], ses.ErrSendFailed, "%s: failed", name)
			}
			for _, r := range []struct {
				region string
				want   int
				got    int
			}{{"primary", tc.want.inPrimary, inPrimary[to(i)]}, {"secondary", tc.want.inSec, inSecondary[to(i)]}} {
				assert.LessOrEqual(t, r.got, 1, "%s: at most one copy in the %s", name, r.region)
				if r.want != atMostOne {
					assert.Equal(t, r.want, r.got, "%s: copies in the %s", name, r.region)
				}
			}
		}
		t.Logf("%s: %d sends, %d errors", name, n, countErrors(errs))
	}
}

func countErrors(errs []error) int {
	n := 0
	for _, err := range errs {
		if err != nil {
			n++
		}
	}
	return n
}
