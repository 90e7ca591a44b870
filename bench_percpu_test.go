//go:build unix

package sesconnector_test

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	ses "github.com/sesconnector/sesconnector"
	"github.com/sesconnector/sesconnector/internal/sessink"
)

// processCPU is the CPU time this process has used, user and system, in nanoseconds.
func processCPU() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkPerCPU compares the connector with the raw sesv2 client sending the same message
// (sessink.RawInput: link tracking off, as the connector sends it), at 1 and 16 sends in
// flight, in one process: each iteration is a round of 512 sends of each, in rotating order,
// timed by the process's CPU. raw/connector-per-CPU is the raw client's CPU per send over the
// connector's (1 is parity, above 1 the connector costs less); untracked/raw-per-CPU is what
// the raw client saves by leaving the link-tracking override out (below 1: the override's
// cost). The sink runs in the same process and costs every side alike; `make perf` measures
// with the sink apart. Run it long: `go test -bench PerCPU -benchtime 60x`.
func BenchmarkPerCPU(b *testing.B) {
	for _, inFlight := range []int{1, 16} {
		b.Run("inflight="+strconv.Itoa(inFlight), func(b *testing.B) {
			h, url := startSink(b)
			c, err := ses.New(context.Background(), benchConfig(), ses.WithEndpoint(url))
			require.NoError(b, err)
			raw := rawClient(b, url)
			ctx := context.Background()
			var code atomic.Int64
			code.Store(100000)
			sides := []func() error{
				func() error {
					_, err := c.SendMessage(ctx, "user@example.com", ses.UsageSignIn, ses.Payload{"code": strconv.FormatInt(code.Add(1), 10)})
					return err
				},
				func() error {
					_, err := raw.SendEmail(ctx, sessink.RawInput(strconv.FormatInt(code.Add(1), 10)))
					return err
				},
				func() error { // the same without the link-tracking override: what that costs
					in := sessink.RawInput(strconv.FormatInt(code.Add(1), 10))
					in.ConfigurationOverrides = nil
					_, err := raw.SendEmail(ctx, in)
					return err
				},
			}
			const perRound = 512
			var cpu [3]int64
			round := 0
			for b.Loop() {
				for i := range sides {
					side := (i + round) % len(sides)
					start := processCPU()
					if err := sendRound(sides[side], perRound, inFlight); err != nil {
						b.Fatal(err)
					}
					cpu[side] += processCPU() - start
				}
				round++
			}
			verifySink(b, h, code.Load()-100000)
			sends := float64(round * perRound)
			b.ReportMetric(float64(cpu[0])/sends/1e3, "connector-µs-CPU/send")
			b.ReportMetric(float64(cpu[1])/sends/1e3, "raw-µs-CPU/send")
			b.ReportMetric(float64(cpu[1])/float64(cpu[0]), "raw/connector-per-CPU")
			b.ReportMetric(float64(cpu[2])/float64(cpu[1]), "untracked/raw-per-CPU")
		})
	}
}

// sendRound makes n sends with inFlight of them at a time.
func sendRound(send func() error, n, inFlight int) error {
	var left atomic.Int64
	left.Store(int64(n))
	var wg sync.WaitGroup
	errs := make(chan error, inFlight)
	for range inFlight {
		wg.Go(func() {
			for left.Add(-1) >= 0 {
				if err := send(); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}
