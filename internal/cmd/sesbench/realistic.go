package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	ses "github.com/sesconnector/sesconnector"
	"github.com/sesconnector/sesconnector/internal/sessink"
)

// -realistic: what an auth service meets on a real network. The sink speaks TLS (its own CA,
// handed to every client through AWS_CA_BUNDLE or NODE_EXTRA_CA_CERTS) behind a loopback proxy
// that adds a round-trip time; load comes back to back, or from independent users who pause
// between sends (so that the sends in flight rise and fall); and each process's first send is
// timed from New, with and without Warm.

// realisticRun is one row of the tables: a variant under one load.
type realisticRun struct {
	name    string // "users 64", "steady 16"
	variant string
	args    []string
}

func compareRealistic(rounds int, d time.Duration, logto bool, rttList string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	p, err := newPKI()
	if err != nil {
		return err
	}
	defer os.RemoveAll(p.dir)
	os.Setenv("AWS_CA_BUNDLE", p.caFile)       // the Go clients, and this process's calls to the sink
	os.Setenv("NODE_EXTRA_CA_CERTS", p.caFile) // Logto's connector
	sinkURL, stop, err := startSink(self, "-tls-cert", p.certFile, "-tls-key", p.keyFile)
	if err != nil {
		return err
	}
	defer stop()
	if err := resetSink(sinkURL); err != nil { // opens this process's one connection to the sink
		return err
	}

	var rtts []time.Duration
	for _, s := range strings.Split(rttList, ",") {
		rtt, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("-rtt: %w", err)
		}
		rtts = append(rtts, rtt)
	}
	fmt.Printf("%d rounds of %v per variant, interleaved; median round shown. %d cores, %s. TLS (HTTP/1.1) through a proxy adding the RTT.\n",
		rounds, d, runtime.NumCPU(), runtime.Version())
	code := int64(100000)
	for _, rtt := range rtts {
		// The proxy is a process of its own, so that this one stays small: a child's peak RSS
		// starts at its parent's.
		proxyURL, stopProxy, err := startSink(self, "-role", "proxy", "-target", strings.TrimPrefix(sinkURL, "https://"), "-rtt-proxy", rtt.String())
		if err != nil {
			return err
		}
		endpoint := "https://" + strings.TrimPrefix(proxyURL, "http://")
		var runs []realisticRun
		for _, target := range []int{16, 64, 256} {
			// Twice as many users as the target, each pausing about as long as a send takes.
			args := []string{"-users", strconv.Itoa(2 * target), "-pause", max(rtt, time.Millisecond).String(), "-reset", sinkURL}
			variants := []string{"connector", "raw"}
			if logto {
				variants = append(variants, "logto")
			}
			for _, v := range variants {
				runs = append(runs, realisticRun{fmt.Sprintf("users ~%d", target), v, args})
			}
		}
		for _, n := range []int{1, 16} {
			variants := []string{"connector", "raw"}
			if logto && n == 16 {
				variants = append(variants, "logto")
			}
			for _, v := range variants {
				runs = append(runs, realisticRun{fmt.Sprintf("steady %d", n), v, []string{"-concurrency", strconv.Itoa(n), "-reset", sinkURL}})
			}
		}
		results := map[string][]result{}
		for round := 1; round <= rounds; round++ {
			for _, run := range runs {
				r, err := measureWith(self, run.variant, endpoint, d, code, nil, run.args)
				if err == nil {
					err = verify(sinkURL, &r)
				}
				if err != nil {
					stopProxy()
					return fmt.Errorf("RTT %v, %s, %s: %w", rtt, run.name, run.variant, err)
				}
				key := run.name + "|" + run.variant
				results[key] = append(results[key], r)
				fmt.Fprintf(os.Stderr, "RTT %v round %d: %-11s %-9s %7.0f sends/s, %.1f in flight\n", rtt, round, run.name, run.variant, r.perSecond(), r.InFlight)
				code += r.Sends + 1_000_000
			}
		}
		cold, err := coldStarts(self, endpoint, rounds)
		stopProxy()
		if err != nil {
			return err
		}
		printRealistic(rtt, runs, results, cold)
	}
	return nil
}

// startSink runs the sink (or, with "-role" first, another role) in a process of its own and
// returns the URL it prints.
func startSink(self string, args ...string) (string, func(), error) {
	if len(args) == 0 || args[0] != "-role" {
		args = append([]string{"-role", "sink"}, args...)
	}
	sink := exec.Command(self, args...)
	out, err := sink.StdoutPipe()
	if err != nil {
		return "", nil, err
	}
	if err := sink.Start(); err != nil {
		return "", nil, err
	}
	stop := func() {
		_ = sink.Process.Kill()
		_ = sink.Wait()
	}
	url, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		stop()
		return "", nil, fmt.Errorf("the sink did not start: %w", err)
	}
	return strings.TrimSpace(url), stop, nil
}

func median(rs []result, f func(result) float64) (float64, result) {
	rs = slices.Clone(rs)
	slices.SortFunc(rs, func(a, b result) int {
		switch x, y := f(a), f(b); {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	})
	m := rs[len(rs)/2]
	return f(m), m
}

func printRealistic(rtt time.Duration, runs []realisticRun, results map[string][]result, cold coldResults) {
	fmt.Printf("\n### RTT %v\n\n", rtt)
	fmt.Println("| load | variant | in flight | sends/s | p50 | p99 | new conns / 1000 sends | CPU per send | peak RSS |")
	fmt.Println("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, run := range runs {
		rs := results[run.name+"|"+run.variant]
		_, m := median(rs, result.perSecond)
		fmt.Printf("| %s | %s | %.0f | %.0f | %.1f ms | %.1f ms | %.0f | %.0f µs | %.0f MiB |\n", run.name, run.variant, m.InFlight, m.perSecond(),
			m.P50Micros/1000, m.P99Micros/1000, float64(m.Conns)*1000/float64(m.Sends), m.cpuPerSend(), float64(m.MaxRSSKiB)/1024)
	}
	// Ratios pair the runs of one round, which ran back to back, and take the median round.
	ratio := func(name, a, b string, f func(x, y result) float64) string {
		xs, ys := results[name+"|"+a], results[name+"|"+b]
		if len(xs) == 0 || len(ys) == 0 {
			return "n/a"
		}
		rs := make([]float64, len(xs))
		for i := range xs {
			rs[i] = f(xs[i], ys[i])
		}
		slices.Sort(rs)
		return fmt.Sprintf("%.2f (rounds %.2f to %.2f)", rs[len(rs)/2], rs[0], rs[len(rs)-1])
	}
	through := func(x, y result) float64 { return x.perSecond() / y.perSecond() }
	p99 := func(x, y result) float64 { return x.P99Micros / y.P99Micros }
	fmt.Println()
	for _, name := range []string{"users ~16", "users ~64", "users ~256", "steady 1", "steady 16"} {
		fmt.Printf("- %s: connector / raw SDK sends/s %s, p99 %s", name, ratio(name, "connector", "raw", through), ratio(name, "connector", "raw", p99))
		if _, ok := results[name+"|logto"]; ok {
			fmt.Printf("; connector / Logto sends/s %s, p99 %s", ratio(name, "connector", "logto", through), ratio(name, "connector", "logto", p99))
		}
		fmt.Println()
	}
	fmt.Printf("- cold start, New to the first send's completion (median of %d processes): connector %.1f ms; with Warm %.1f ms (Warm %.1f ms, then the send %.1f ms); raw SDK %.1f ms\n",
		len(cold.plain), cold.plain.median(func(c coldResult) float64 { return c.NewToFirstMs }),
		cold.warm.median(func(c coldResult) float64 { return c.NewToFirstMs }), cold.warm.median(func(c coldResult) float64 { return c.WarmMs }),
		cold.warm.median(func(c coldResult) float64 { return c.FirstMs }), cold.raw.median(func(c coldResult) float64 { return c.NewToFirstMs }))
	fmt.Printf("- the first send after Warm / a warm send: %.2f (%.1f ms / %.1f ms)\n",
		cold.warm.median(func(c coldResult) float64 { return c.FirstMs / c.SteadyMs }),
		cold.warm.median(func(c coldResult) float64 { return c.FirstMs }), cold.warm.median(func(c coldResult) float64 { return c.SteadyMs }))
}

// coldResult is one process's start: New (and Warm) to the first send, then warm sends.
type coldResult struct {
	NewToFirstMs float64 `json:"newToFirstMs"` // New called to the first send's completion
	WarmMs       float64 `json:"warmMs"`       // Warm's own time, with -warm
	FirstMs      float64 `json:"firstMs"`      // the first send alone
	SteadyMs     float64 `json:"steadyMs"`     // the median of the next 20 sends, one at a time
}

type coldList []coldResult

func (l coldList) median(f func(coldResult) float64) float64 {
	if len(l) == 0 {
		return 0
	}
	xs := make([]float64, len(l))
	for i, c := range l {
		xs[i] = f(c)
	}
	slices.Sort(xs)
	return xs[len(xs)/2]
}

type coldResults struct{ plain, warm, raw coldList }

func coldStarts(self, endpoint string, rounds int) (coldResults, error) {
	var out coldResults
	for range max(rounds, 3) {
		for _, v := range []struct {
			variant string
			warm    bool
			into    *coldList
		}{{"connector", false, &out.plain}, {"connector", true, &out.warm}, {"raw", false, &out.raw}} {
			args := []string{"-role", "cold", "-variant", v.variant, "-endpoint", endpoint}
			if v.warm {
				args = append(args, "-warm")
			}
			data, err := exec.Command(self, args...).Output()
			if err != nil {
				return out, fmt.Errorf("cold start of %s: %w", v.variant, err)
			}
			var c coldResult
			if err := json.Unmarshal(data, &c); err != nil {
				return out, err
			}
			*v.into = append(*v.into, c)
		}
	}
	return out, nil
}

// coldStart is one process's first sends: New (and Warm), the first send, then 20 more.
func coldStart(variant, endpoint string, warm bool) error {
	ctx := context.Background()
	t0 := time.Now()
	var c coldResult
	var send func(context.Context, int64) error
	if variant == "connector" {
		cfg, err := ses.ParseConfig([]byte(sessink.ConfigJSON))
		if err != nil {
			return err
		}
		conn, err := ses.New(ctx, cfg, ses.WithEndpoint(endpoint))
		if err != nil {
			return err
		}
		if warm {
			w := time.Now()
			if err := conn.Warm(ctx); err != nil {
				return err
			}
			c.WarmMs = ms(time.Since(w))
		}
		send = func(ctx context.Context, code int64) error {
			_, err := conn.SendMessage(ctx, "user@example.com", ses.UsageSignIn, ses.Payload{"code": strconv.FormatInt(code, 10)})
			return err
		}
	} else {
		var err error
		if send, err = sender(ctx, variant, endpoint); err != nil {
			return err
		}
	}
	first := time.Now()
	if err := send(ctx, 100001); err != nil {
		return err
	}
	c.FirstMs, c.NewToFirstMs = ms(time.Since(first)), ms(time.Since(t0))
	steady := make([]float64, 20)
	for i := range steady {
		s := time.Now()
		if err := send(ctx, int64(100002+i)); err != nil {
			return err
		}
		steady[i] = ms(time.Since(s))
	}
	slices.Sort(steady)
	c.SteadyMs = steady[len(steady)/2]
	return json.NewEncoder(os.Stdout).Encode(c)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
