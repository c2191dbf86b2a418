package alerts_test

import (
	"bufio"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"synapse/alerts"
	"synapse/alerts/alertstest"
	"synapse/router"
	"synapse/router/routertest"
)

// TestRealHAProxyEmitsTheMetrics runs the rendered prod haproxy.cfg for
// real and reads its Prometheus exporter: every HAProxy metric of the
// table is there, every backend the rules and the dashboard select reports
// under its `proxy` label, and 5xx responses are counted under
// code="5xx". Skips without haproxy (fails with REQUIRE_REAL_TOOLS=1).
func TestRealHAProxyEmitsTheMetrics(t *testing.T) {
	in, _ := input(t, stacks[3]) // prod with backups: every rule
	l := routertest.StartLocal(t, in.Plan, routertest.Options{})
	resp, err := l.Client.Get(l.StatsURL + router.MetricsURI)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	series := exposition(t, resp.Body)

	for _, m := range alerts.Metrics {
		if m.Exporter == alerts.ExporterHAProxy {
			assert.NotEmpty(t, series[m.Name], "haproxy does not emit %s", m.Name)
		}
	}
	proxies := map[string]bool{}
	for _, lbls := range series["haproxy_backend_active_servers"] {
		proxies[lbls["proxy"]] = true
	}
	codes := map[string]bool{}
	for _, lbls := range series["haproxy_backend_http_responses_total"] {
		codes[lbls["code"]] = true
	}
	assert.True(t, codes["5xx"], "codes: %v", codes)

	rules, dash := build(t, in)
	exprs := dash.Exprs()
	for _, r := range rules.Alerts() {
		exprs = append(exprs, r.Expr)
	}
	selected := 0
	for _, e := range exprs {
		sels, err := alertstest.Selectors(e)
		require.NoError(t, err)
		for _, s := range sels {
			m := s.Matcher("proxy")
			if !strings.HasPrefix(s.Metric, "haproxy_") || m == nil {
				continue
			}
			// Every alternative of the matcher is a backend haproxy reports.
			for _, name := range strings.Split(m.Value, "|") {
				name = regexp.MustCompile(`\\(.)`).ReplaceAllString(name, "$1")
				assert.True(t, proxies[name], "%s selects backend %q, which haproxy does not report", s.Metric, name)
				selected++
			}
		}
	}
	assert.Positive(t, selected)
	// And every backend haproxy reports is one the rules know.
	r, _ := ruleByName(rules, "HAProxyBackend5xxHigh")
	sels, err := alertstest.Selectors(r.Expr)
	require.NoError(t, err)
	for p := range proxies {
		assert.True(t, sels[0].Matcher("proxy").Matches(p), "backend %s is not in the 5xx rule", p)
	}
}

// exposition parses Prometheus's text format into metric → label sets.
func exposition(t *testing.T, r io.Reader) map[string][]map[string]string {
	t.Helper()
	label := regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)
	out := map[string][]map[string]string{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, rest := line, ""
		if i := strings.IndexAny(line, "{ "); i >= 0 {
			name, rest = line[:i], line[i:]
		}
		lbls := map[string]string{}
		if strings.HasPrefix(rest, "{") {
			end := strings.LastIndex(rest, "}")
			require.Positive(t, end, line)
			for _, m := range label.FindAllStringSubmatch(rest[1:end], -1) {
				lbls[m[1]] = m[2]
			}
		}
		out[name] = append(out[name], lbls)
	}
	require.NoError(t, sc.Err())
	require.NotEmpty(t, out)
	return out
}
