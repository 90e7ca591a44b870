package main

import (
	"context"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	ses "github.com/sesconnector/sesconnector"
	"github.com/sesconnector/sesconnector/internal/sessink"
)

// This file is a measured run: one worker process, one variant, one load.

// workload is what one worker process runs.
type workload struct {
	variant, endpoint, reset string
	concurrency              int           // back-to-back senders, or
	users                    int           // independent users, each pausing
	pause                    time.Duration // on average (exponential) between sends
	duration                 time.Duration
	codeStart                int64
}

// work is one measured run in this process: warm up, reset the sink, send for d, report.
func work(wl workload) error {
	ctx := context.Background()
	send, err := sender(ctx, wl.variant, wl.endpoint)
	if err != nil {
		return err
	}
	var next atomic.Int64
	next.Store(wl.codeStart)
	senders := wl.concurrency
	if wl.users > 0 {
		senders = wl.users
	}
	run := func(d time.Duration, record func(code int64, took time.Duration)) error {
		deadline := time.Now().Add(d)
		var wg sync.WaitGroup
		errs := make(chan error, senders)
		for range senders {
			wg.Go(func() {
				for time.Now().Before(deadline) {
					if wl.users > 0 {
						time.Sleep(time.Duration(mrand.ExpFloat64() * float64(wl.pause)))
					}
					code := next.Add(1)
					start := time.Now()
					if err := send(ctx, code); err != nil {
						errs <- err
						return
					}
					record(code, time.Since(start))
				}
			})
		}
		wg.Wait()
		close(errs)
		return <-errs
	}
	if err := run(300*time.Millisecond, func(int64, time.Duration) {}); err != nil {
		return err
	}
	resetURL := wl.reset
	if resetURL == "" {
		resetURL = wl.endpoint
	}
	if err := resetSink(resetURL); err != nil {
		return err
	}

	var mu sync.Mutex
	var latencies []time.Duration
	var codeSum int64
	var mem0, mem1 runtime.MemStats
	runtime.ReadMemStats(&mem0)
	cpu0 := cpuMicros()
	t0 := time.Now()
	err = run(wl.duration, func(code int64, took time.Duration) {
		mu.Lock()
		latencies = append(latencies, took)
		codeSum += code
		mu.Unlock()
	})
	seconds := time.Since(t0).Seconds()
	cpu := cpuMicros() - cpu0
	runtime.ReadMemStats(&mem1)
	if err != nil {
		return err
	}
	var busy time.Duration
	for _, l := range latencies {
		busy += l
	}
	slices.Sort(latencies)
	pct := func(p float64) float64 {
		return float64(latencies[min(len(latencies)-1, int(p*float64(len(latencies))))].Microseconds())
	}
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return json.NewEncoder(os.Stdout).Encode(result{
		Sends: int64(len(latencies)), Seconds: seconds, P50Micros: pct(0.5), P99Micros: pct(0.99),
		CPUMicros: cpu, Allocs: int64(mem1.Mallocs - mem0.Mallocs), MaxRSSKiB: ru.Maxrss, CodeSum: codeSum,
		InFlight: busy.Seconds() / seconds,
	})
}

// sender returns the send function of a variant: the connector, or the raw sesv2 client with
// the same settings and an equivalent request.
func sender(ctx context.Context, variant, endpoint string) (func(context.Context, int64) error, error) {
	cfg, err := ses.ParseConfig([]byte(sessink.ConfigJSON))
	if err != nil {
		return nil, err
	}
	switch variant {
	case "connector":
		c, err := ses.New(ctx, cfg, ses.WithEndpoint(endpoint))
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, code int64) error {
			_, err := c.SendMessage(ctx, "user@example.com", ses.UsageSignIn, ses.Payload{"code": strconv.FormatInt(code, 10)})
			return err
		}, nil
	case "raw":
		client, err := sessink.RawClient(ctx, endpoint)
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, code int64) error {
			_, err := client.SendEmail(ctx, sessink.RawInput(strconv.FormatInt(code, 10)))
			return err
		}, nil
	}
	return nil, fmt.Errorf("unknown variant %q", variant)
}

func cpuMicros() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e3
}
