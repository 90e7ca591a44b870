package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesconnector/sesconnector/internal/childproc"
)

// promtool is Prometheus's own rule checker and tester (Debian's prometheus package).
func promtool(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		childproc.Need(t, err, "promtool comes with Prometheus: apt-get install -y prometheus")
	}
	return path
}

// The README shows the rules of alerts.yml, exactly.
func TestAlertRulesInREADME(t *testing.T) {
	rules, err := os.ReadFile("alerts.yml")
	require.NoError(t, err)
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	assert.True(t, strings.Contains(string(readme), "```yaml\n"+string(rules)+"```\n"), "README's rules are not alerts.yml's: copy alerts.yml into the README")
}

// ruleCase is a day of one account's sends and feedback across replicas and usage types, as
// the exporter shows it: every series created at 0 when the process starts (sesotel.New), one
// sample a minute for two hours, the alerts evaluated at the end.
type ruleCase struct {
	name       string
	replicas   int
	usages     []string
	sent       int  // sends in all, spread over the two hours and the replicas
	bounces    int  // permanent bounces in all, spread over the usage types and replicas, minutes 10 to 100
	complaints int  // likewise
	throttled  int  // throttled sends in all, in minute 117
	restart    bool // replica 0 restarts at minute 60: its counters start again from 0
	reborn     bool // and its series come back at their first event, without the 0
	want       []string
}

const ruleMinutes = 120

// series is one counter's values, a sample a minute: n events spread evenly over minutes
// [from, to], restarting from 0 at minute 60 when restart is set.
func series(n, from, to int, restart, reborn bool) string {
	vals := make([]string, ruleMinutes+1)
	total := func(m int) int {
		switch {
		case m < from:
			return 0
		case m >= to:
			return n
		}
		return n * (m - from) / (to - from)
	}
	for m := 0; m <= ruleMinutes; m++ {
		v := total(m)
		if restart && m >= 60 {
			v -= total(59)
			if reborn && v == 0 {
				vals[m] = "_" // not exported yet
				continue
			}
		}
		vals[m] = fmt.Sprint(v)
	}
	return strings.Join(vals, " ")
}

func (c ruleCase) inputSeries() string {
	var b strings.Builder
	add := func(metric string, labels map[string]string, values string) {
		keys := make([]string, 0, len(labels))
		for k := range labels {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		var ls []string
		for _, k := range keys {
			ls = append(ls, fmt.Sprintf("%s=%q", k, labels[k]))
		}
		fmt.Fprintf(&b, "      - series: '%s{%s}'\n        values: '%s'\n", metric, strings.Join(ls, ","), values)
	}
	nseries := c.replicas * len(c.usages)
	for r := range c.replicas {
		instance := fmt.Sprintf("authserver-%d:9464", r)
		restart := c.restart && r == 0
		reborn := c.reborn && r == 0
		add("sesconnector_sends_total", map[string]string{"instance": instance, "sesconnector_outcome": "sent"},
			series(c.sent/c.replicas, 0, ruleMinutes, restart, false))
		add("sesconnector_sends_total", map[string]string{"instance": instance, "sesconnector_outcome": "throttled"},
			series(c.throttled/c.replicas, 117, 118, restart, reborn))
		for _, u := range c.usages {
			add("sesconnector_feedback_events_total", map[string]string{"instance": instance, "sesconnector_event_type": "Bounce",
				"sesconnector_bounce_type": "Permanent", "sesconnector_usage_type": u}, series(c.bounces/nseries, 10, 100, restart, reborn))
			add("sesconnector_feedback_events_total", map[string]string{"instance": instance, "sesconnector_event_type": "Complaint",
				"sesconnector_usage_type": u}, series(c.complaints/nseries, 10, 100, restart, reborn))
		}
	}
	return b.String()
}

var allAlerts = []string{"SESBounceRateWarning", "SESBounceRateCritical", "SESComplaintRateWarning", "SESComplaintRateCritical", "SESThrottling"}

// Each rule fires where it should and stays quiet where it should: at bounce rates of 1, 2, 6
// and 10%, complaint rates of 0.02, 0.05, 0.2 and 0.5%, and throttling, over two and three
// replicas and up to four usage types, after a restart, and with series that come back at
// their first event after it. promtool test rules evaluates alerts.yml as Prometheus would.
func TestAlertRulesFire(t *testing.T) {
	bin := promtool(t)
	out, err := exec.Command(bin, "check", "rules", "alerts.yml").CombinedOutput()
	require.NoError(t, err, "%s", out)

	four := []string{"SignIn", "Register", "ForgotPassword", "Generic"}
	cases := []ruleCase{
		{name: "healthy", replicas: 2, usages: four, sent: 20000, bounces: 160, complaints: 0},
		{name: "bounce 2%", replicas: 2, usages: four, sent: 2000, bounces: 40, want: []string{"SESBounceRateWarning"}},
		{name: "bounce 6%", replicas: 2, usages: four, sent: 4000, bounces: 240, want: []string{"SESBounceRateWarning", "SESBounceRateCritical"}},
		{name: "bounce 10%", replicas: 2, usages: four, sent: 2000, bounces: 200, want: []string{"SESBounceRateWarning", "SESBounceRateCritical"}},
		{name: "complaint 0.02%", replicas: 2, usages: four, sent: 40000, complaints: 8},
		{name: "complaint 0.05%", replicas: 2, usages: four, sent: 32000, complaints: 16, want: []string{"SESComplaintRateWarning"}},
		{name: "complaint 0.2%", replicas: 2, usages: []string{"SignIn"}, sent: 2000, complaints: 4, want: []string{"SESComplaintRateWarning", "SESComplaintRateCritical"}},
		{name: "complaint 0.5%, three replicas", replicas: 3, usages: []string{"SignIn", "Register"}, sent: 2400, complaints: 12, want: []string{"SESComplaintRateWarning", "SESComplaintRateCritical"}},
		{name: "throttled once", replicas: 2, usages: four, sent: 20000, throttled: 2, want: []string{"SESThrottling"}},
		{name: "bounce 6% across a restart", replicas: 2, usages: four, sent: 4000, bounces: 240, restart: true, want: []string{"SESBounceRateWarning", "SESBounceRateCritical"}},
		{name: "series reborn at their first event", replicas: 2, usages: four, sent: 4000, bounces: 240, complaints: 16, throttled: 2, restart: true, reborn: true,
			want: []string{"SESBounceRateWarning", "SESBounceRateCritical", "SESComplaintRateWarning", "SESComplaintRateCritical", "SESThrottling"}},
	}
	summaries := ruleSummaries(t)
	var b strings.Builder
	b.WriteString("rule_files: [" + filepath.Join(mustAbs(t, "."), "alerts.yml") + "]\nevaluation_interval: 1m\ntests:\n")
	for _, c := range cases {
		fmt.Fprintf(&b, "  # %s\n  - interval: 1m\n    input_series:\n%s    alert_rule_test:\n", c.name, c.inputSeries())
		for _, a := range allAlerts {
			fmt.Fprintf(&b, "      - eval_time: %dm\n        alertname: %s\n", ruleMinutes, a)
			if slices.Contains(c.want, a) {
				fmt.Fprintf(&b, "        exp_alerts:\n          - exp_labels: {severity: %s}\n            exp_annotations: {summary: %q}\n", severity(a), summaries[a])
			} else {
				b.WriteString("        exp_alerts: []\n")
			}
		}
	}
	file := filepath.Join(t.TempDir(), "alerts_test.yml")
	require.NoError(t, os.WriteFile(file, []byte(b.String()), 0o644))
	cmd := exec.Command(bin, "test", "rules", file)
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	require.NoError(t, cmd.Run(), "promtool test rules:\n%s", output.String())
	t.Logf("%d cases × %d alerts: %s", len(cases), len(allAlerts), strings.TrimSpace(output.String()))
}

// ruleSummaries reads each alert's summary from alerts.yml, which writes one per line as
// annotations: {summary: "..."}.
func ruleSummaries(t *testing.T) map[string]string {
	data, err := os.ReadFile("alerts.yml")
	require.NoError(t, err)
	out, alert := map[string]string{}, ""
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if name, ok := strings.CutPrefix(line, "- alert: "); ok {
			alert = name
		}
		if s, ok := strings.CutPrefix(line, "annotations: {summary: \""); ok {
			out[alert] = strings.TrimSuffix(s, "\"}")
		}
	}
	require.Len(t, out, len(allAlerts))
	return out
}

func severity(alert string) string {
	if strings.HasSuffix(alert, "Critical") {
		return "critical"
	}
	return "warning"
}

func mustAbs(t *testing.T, p string) string {
	abs, err := filepath.Abs(p)
	require.NoError(t, err)
	return abs
}
