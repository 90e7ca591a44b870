// Command sesbench measures sesconnector side by side with the raw aws-sdk-go-v2 sesv2 client
// and, with -logto, Logto's own connector on Node.js, all sending SignIn codes to one loopback
// SES sink.
//
//	go run ./internal/cmd/sesbench [-rounds 5] [-duration 3s] [-logto]
//
// The sink and every measured run are processes of their own, so that each run's CPU time,
// allocations and peak memory are its alone. Runs are interleaved (A B A B ...) so that a noisy
// neighbour hurts all variants alike, and the table shows each variant's median round. Every run
// is verified: the sink must have received exactly the sends the run counted, each with its code
// rendered. -logto needs `npm ci --prefix internal/cmd/sesbench/logto`.
package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sesconnector/sesconnector/internal/sessink"
)

// result is one measured run, as a worker prints it.
type result struct {
	Sends     int64   `json:"sends"`
	Seconds   float64 `json:"seconds"`
	P50Micros float64 `json:"p50Micros"`
	P99Micros float64 `json:"p99Micros"`
	CPUMicros float64 `json:"cpuMicros"`
	Allocs    int64   `json:"allocs"` // -1 where not measured (Node.js)
	MaxRSSKiB int64   `json:"maxRSSKiB"`
	CodeSum   int64   `json:"codeSum"`
	InFlight  float64 `json:"inFlight"` // average sends in flight (Little's law)
	Conns     int64   `json:"-"`        // new connections the sink saw, filled in by verify
}

func (r result) perSecond() float64   { return float64(r.Sends) / r.Seconds }
func (r result) cpuPerSend() float64  { return r.CPUMicros / float64(r.Sends) }
func (r result) allocPerSend() string { return perSend(r.Allocs, r.Sends) }

func perSend(allocs, sends int64) string {
	if allocs < 0 {
		return "n/a"
	}
	return strconv.FormatInt(allocs/sends, 10)
}

func main() {
	role := flag.String("role", "", "internal: sink, worker or cold")
	variant := flag.String("variant", "", "internal: connector, raw")
	endpoint := flag.String("endpoint", "", "internal: the sink's URL")
	concurrency := flag.Int("concurrency", 1, "internal: sends in flight")
	codeStart := flag.Int64("code-start", 100000, "internal: the first code")
	rounds := flag.Int("rounds", 5, "measured rounds of every variant and concurrency")
	duration := flag.Duration("duration", 3*time.Second, "length of one measured run")
	logto := flag.Bool("logto", false, "also run Logto's connector (Node.js)")
	realistic := flag.Bool("realistic", false, "TLS through a loopback proxy adding round-trip time, users arriving independently, and cold starts")
	rtts := flag.String("rtt", "0ms,20ms,80ms", "with -realistic: the round-trip times to measure at")
	users := flag.Int("users", 0, "internal: independent users instead of back-to-back sends")
	pause := flag.Duration("pause", 0, "internal: users' mean pause between sends (exponential)")
	reset := flag.String("reset", "", "internal: the sink's URL for /reset, when it is not the endpoint")
	certFile := flag.String("tls-cert", "", "internal: the sink's TLS certificate")
	keyFile := flag.String("tls-key", "", "internal: the sink's TLS key")
	warm := flag.Bool("warm", false, "internal: cold start with Warm")
	target := flag.String("target", "", "internal: the proxy's target address")
	rtt := flag.Duration("rtt-proxy", 0, "internal: the proxy's round-trip time")
	flag.Parse()

	var err error
	switch *role {
	case "sink":
		err = serveSink(*certFile, *keyFile)
	case "worker":
		err = work(workload{variant: *variant, endpoint: *endpoint, reset: *reset, concurrency: *concurrency,
			users: *users, pause: *pause, duration: *duration, codeStart: *codeStart})
	case "cold":
		err = coldStart(*variant, *endpoint, *warm)
	case "proxy":
		err = serveProxy(*target, *rtt)
	case "":
		if *realistic {
			err = compareRealistic(*rounds, *duration, *logto, *rtts)
		} else {
			err = compare(*rounds, *duration, *logto)
		}
	default:
		err = fmt.Errorf("unknown role %q", *role)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "sesbench:", err)
		os.Exit(1)
	}
}

// serveSink runs the SES sink on a free loopback port and prints its URL: HTTPS (HTTP/1.1, as
// SES's API answers this SDK) with a certificate, plain HTTP without.
func serveSink(certFile, keyFile string) error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	h := &sessink.Handler{}
	srv := &http.Server{Handler: h, ConnState: h.ConnState, TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){}}
	if certFile != "" {
		fmt.Printf("https://%s\n", l.Addr())
		return srv.ServeTLS(l, certFile, keyFile)
	}
	fmt.Printf("http://%s\n", l.Addr())
	return srv.Serve(l)
}

// compare is the parent: it starts the sink, runs every variant interleaved, and prints the table.
func compare(rounds int, d time.Duration, logto bool) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	sink := exec.Command(self, "-role", "sink")
	out, err := sink.StdoutPipe()
	if err != nil {
		return err
	}
	if err := sink.Start(); err != nil {
		return err
	}
	defer func() {
		_ = sink.Process.Kill()
		_ = sink.Wait()
	}()
	url, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		return fmt.Errorf("the sink did not start: %w", err)
	}
	url = strings.TrimSpace(url)

	variants := []string{"connector", "raw"}
	if logto {
		variants = append(variants, "logto")
	}
	type key struct {
		variant     string
		concurrency int
	}
	results := map[key][]result{}
	code := int64(100000)
	for round := 1; round <= rounds; round++ {
		for _, concurrency := range []int{1, 16} {
			for _, v := range variants {
				r, err := measure(self, v, url, concurrency, d, code)
				if err != nil {
					return fmt.Errorf("%s at %d in flight: %w", v, concurrency, err)
				}
				if err := verify(url, &r); err != nil {
					return fmt.Errorf("%s at %d in flight: %w", v, concurrency, err)
				}
				fmt.Fprintf(os.Stderr, "round %d: %-9s %2d in flight: %7.0f sends/s\n", round, v, concurrency, r.perSecond())
				results[key{v, concurrency}] = append(results[key{v, concurrency}], r)
				code += r.Sends + 1_000_000 // warm-up codes never overlap measured ones
			}
		}
	}

	fmt.Printf("\n%d rounds of %v per variant, interleaved; median round shown. %d cores, %s, %s.\n\n",
		rounds, d, runtime.NumCPU(), runtime.Version(), nodeVersion(logto))
	fmt.Println("| variant | in flight | sends/s | p50 | p99 | CPU per send | allocs per send | peak RSS |")
	fmt.Println("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, concurrency := range []int{1, 16} {
		for _, v := range variants {
			rs := slices.Clone(results[key{v, concurrency}])
			slices.SortFunc(rs, func(a, b result) int { return int(a.perSecond() - b.perSecond()) })
			m := rs[len(rs)/2]
			fmt.Printf("| %s | %d | %.0f | %.2f ms | %.2f ms | %.0f µs | %s | %.0f MiB |\n", v, concurrency, m.perSecond(),
				m.P50Micros/1000, m.P99Micros/1000, m.cpuPerSend(), m.allocPerSend(), float64(m.MaxRSSKiB)/1024)
		}
	}
	// Ratios pair the runs of one round, which ran back to back, and take the median round.
	ratio := func(a, b string, concurrency int, f func(x, y result) float64) string {
		xs, ys := results[key{a, concurrency}], results[key{b, concurrency}]
		rs := make([]float64, len(xs))
		for i := range xs {
			rs[i] = f(xs[i], ys[i])
		}
		slices.Sort(rs)
		return fmt.Sprintf("%.3f (rounds: %.3f to %.3f)", rs[len(rs)/2], rs[0], rs[len(rs)-1])
	}
	throughput := func(x, y result) float64 { return x.perSecond() / y.perSecond() }
	fmt.Println()
	for _, concurrency := range []int{1, 16} {
		fmt.Printf("connector / raw SDK throughput at %d in flight: %s\n", concurrency, ratio("connector", "raw", concurrency, throughput))
	}
	// Per CPU: the raw client's CPU per send over the connector's (1 is parity; above 1 the
	// connector costs less), which a busy machine's throughput does not show.
	for _, concurrency := range []int{1, 16} {
		fmt.Printf("connector / raw SDK per CPU at %d in flight: %s\n", concurrency, ratio("raw", "connector", concurrency,
			func(x, y result) float64 { return x.cpuPerSend() / y.cpuPerSend() }))
	}
	if logto {
		fmt.Printf("connector / Logto throughput at 16 in flight: %s\n", ratio("connector", "logto", 16, throughput))
		fmt.Printf("Logto / connector CPU per send at 16 in flight: %s\n", ratio("logto", "connector", 16,
			func(x, y result) float64 { return x.cpuPerSend() / y.cpuPerSend() }))
		fmt.Printf("connector / Logto peak RSS at 16 in flight: %s\n", ratio("connector", "logto", 16,
			func(x, y result) float64 { return float64(x.MaxRSSKiB) / float64(y.MaxRSSKiB) }))
	}
	return nil
}

// measure runs one variant in a process of its own and returns its result.
func measure(self, variant, url string, concurrency int, d time.Duration, codeStart int64) (result, error) {
	return measureWith(self, variant, url, d, codeStart, nil, []string{"-concurrency", strconv.Itoa(concurrency)})
}

// measureWith runs a worker with extra environment and arguments.
func measureWith(self, variant, url string, d time.Duration, codeStart int64, env, args []string) (result, error) {
	var cmd *exec.Cmd
	if variant == "logto" {
		concurrency, pauseMs := "1", "0"
		for i := 0; i+1 < len(args); i++ {
			switch args[i] {
			case "-concurrency", "-users":
				concurrency = args[i+1]
			case "-pause":
				if p, err := time.ParseDuration(args[i+1]); err == nil {
					pauseMs = strconv.FormatFloat(float64(p)/float64(time.Millisecond), 'f', -1, 64)
				}
			}
		}
		script := filepath.Join(sourceDir(), "logto", "bench.mjs")
		cmd = exec.Command("node", script, concurrency, strconv.FormatInt(d.Milliseconds(), 10), strconv.FormatInt(codeStart, 10), pauseMs)
		cmd.Env = append(os.Environ(), "AWS_ENDPOINT_URL_SESV2="+url)
	} else {
		cmd = exec.Command(self, append([]string{"-role", "worker", "-variant", variant, "-endpoint", url,
			"-duration", d.String(), "-code-start", strconv.FormatInt(codeStart, 10)}, args...)...)
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return result{}, fmt.Errorf("%w: %s", err, stderr.String())
	}
	var r result
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		return result{}, fmt.Errorf("reading the run's result %q: %w", stdout.String(), err)
	}
	if r.Sends == 0 {
		return result{}, fmt.Errorf("no send completed")
	}
	return r, nil
}

// verify checks that the sink received exactly the run's sends, each with its code rendered,
// and records the connections it saw.
func verify(url string, r *result) error {
	resp, err := sinkClient().Get(url + "/stats")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	var st sessink.Stats
	if err := json.Unmarshal(body, &st); err != nil {
		return err
	}
	if st.Requests != r.Sends || st.Rendered != r.Sends || st.CodeSum != r.CodeSum {
		return fmt.Errorf("the sink saw %d requests, %d with a rendered code, code sum %d; the run sent %d, code sum %d",
			st.Requests, st.Rendered, st.CodeSum, r.Sends, r.CodeSum)
	}
	r.Conns = st.Conns
	return nil
}

// sinkClient reaches the sink, trusting AWS_CA_BUNDLE's CA when it is set. It is one client,
// whose kept-alive connection is not counted again as a new one.
var sinkClient = sync.OnceValue(func() *http.Client {
	bundle := os.Getenv("AWS_CA_BUNDLE")
	if bundle == "" {
		return http.DefaultClient
	}
	cfg, err := (&pki{caFile: bundle}).tlsClientConfig()
	if err != nil {
		return http.DefaultClient
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
})

func resetSink(url string) error {
	resp, err := sinkClient().Get(url + "/reset")
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

func sourceDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(file)
}

func nodeVersion(logto bool) string {
	if !logto {
		return "Logto's connector not run"
	}
	out, err := exec.Command("node", "--version").Output()
	if err != nil {
		return "node: " + err.Error()
	}
	return "Node.js " + strings.TrimSpace(string(out))
}
