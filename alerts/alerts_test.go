package alerts_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"synapse/alerts"
	"synapse/alerts/alertstest"
	"synapse/config"
	"synapse/plan"
)

// stack is one stack file (with overrides) and the backup switch.
type stack struct {
	name      string
	file      string
	overrides map[string]string
	backups   bool
}

var stacks = []stack{
	{name: "dev", file: "dev"},
	{name: "dev-backups", file: "dev", backups: true},
	{name: "prod", file: "prod"},
	{name: "prod-backups", file: "prod", backups: true},
	{name: "prod-federation-off", file: "prod", overrides: map[string]string{"federation": `{"enabled":false}`}},
	{name: "prod-one-postgres", file: "prod", overrides: map[string]string{
		"postgres": `{"instances":1,"installOperator":true,"storage":{"size":"200Gi","storageClass":"fast-ssd"}}`,
	}},
}

// volumes are PVC groups like the ones the component passes (the component
// test checks its own against the rendered StatefulSets).
func volumes(p *plan.Plan) []alerts.Volume {
	out := []alerts.Volume{{Alert: "Postgres", What: "Postgres data", Claims: alerts.Series(plan.PostgresClusterName)}}
	if media, ok := p.Process(plan.RoleMediaRepository); ok {
		out = append(out, alerts.Volume{Alert: "SynapseMedia", What: "media", Claims: alerts.Series("media-" + media.Name)})
	}
	return out
}

func input(t *testing.T, s stack) (alerts.Input, *config.Config) {
	t.Helper()
	cfg, err := config.ParseStackFile("../Pulumi."+s.file+".yaml", s.overrides)
	require.NoError(t, err)
	p := plan.Build(cfg)
	return alerts.Input{Plan: p, PostgresInstances: cfg.Postgres.Instances, Backups: s.backups, Volumes: volumes(p)}, cfg
}

func build(t *testing.T, in alerts.Input) (alerts.RuleSpec, alerts.Dashboard) {
	t.Helper()
	rules, err := alerts.Rules(in)
	require.NoError(t, err)
	dash, err := alerts.BuildDashboard(in)
	require.NoError(t, err)
	return rules, dash
}

func ruleByName(spec alerts.RuleSpec, name string) (alerts.Rule, bool) {
	for _, r := range spec.Alerts() {
		if r.Alert == name {
			return r, true
		}
	}
	return alerts.Rule{}, false
}

func names(spec alerts.RuleSpec) []string {
	var out []string
	for _, r := range spec.Alerts() {
		out = append(out, r.Alert)
	}
	return out
}

// TestExpressionsParse: every rule expression and every dashboard query
// parses with Prometheus's own parser (stable features only), and names
// every metric it reads.
func TestExpressionsParse(t *testing.T) {
	for _, s := range stacks {
		t.Run(s.name, func(t *testing.T) {
			in, _ := input(t, s)
			rules, dash := build(t, in)
			exprs := dash.Exprs()
			for _, r := range rules.Alerts() {
				exprs = append(exprs, r.Expr)
			}
			require.NotEmpty(t, exprs)
			for _, e := range exprs {
				_, err := alertstest.Selectors(e)
				assert.NoError(t, err, "%s", e)
			}
		})
	}
	// The check can fail: a broken expression does not parse.
	_, err := alertstest.Selectors(`sum by (job) (up{job="a"} == 0`)
	assert.Error(t, err)
	_, err = alertstest.Selectors(`{job="a"}`)
	assert.Error(t, err, "a selector without a metric name")
}

// TestRulesAreWellFormed: alert names unique, each rule with a for
// duration, a critical or warning severity, and the three annotations.
func TestRulesAreWellFormed(t *testing.T) {
	duration := regexp.MustCompile(`^([0-9]+(ms|s|m|h|d|w|y))+$`) // the CRD's pattern, in short
	for _, s := range stacks {
		t.Run(s.name, func(t *testing.T) {
			in, _ := input(t, s)
			rules, _ := build(t, in)
			seen := map[string]bool{}
			for _, r := range rules.Alerts() {
				assert.False(t, seen[r.Alert], "duplicate alert %s", r.Alert)
				seen[r.Alert] = true
				assert.Regexp(t, `^[A-Z][A-Za-z0-9]+$`, r.Alert)
				assert.Regexp(t, duration, r.For, r.Alert)
				assert.Contains(t, []string{alerts.SeverityCritical, alerts.SeverityWarning}, r.Labels["severity"], r.Alert)
				for _, k := range []string{"summary", "description", "runbook"} {
					assert.NotEmpty(t, r.Annotations[k], "%s: %s", r.Alert, k)
				}
			}
			groups := map[string]bool{}
			for _, g := range rules.Groups {
				assert.False(t, groups[g.Name], "duplicate group %s", g.Name)
				groups[g.Name] = true
				assert.NotEmpty(t, g.Rules, g.Name)
			}
		})
	}
}

// TestDuplicateAlertNamesAreRefused: Rules refuses to emit two rules of
// one name (here two volume groups with the same prefix).
func TestDuplicateAlertNamesAreRefused(t *testing.T) {
	in, _ := input(t, stacks[0])
	in.Volumes = append(in.Volumes, in.Volumes[0])
	_, err := alerts.Rules(in)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "PostgresVolumeFillingUp")
}

// TestMetricsAreDocumented: every metric any expression reads is in the
// documented-metrics table; every entry has an exporter and an https
// source; no entry is dead (each is read by some stack's rules or
// dashboard).
func TestMetricsAreDocumented(t *testing.T) {
	used := map[string]bool{}
	for _, s := range stacks {
		in, _ := input(t, s)
		rules, dash := build(t, in)
		exprs := dash.Exprs()
		for _, r := range rules.Alerts() {
			exprs = append(exprs, r.Expr)
		}
		for _, e := range exprs {
			metrics, err := alertstest.MetricNames(e)
			require.NoError(t, err, e)
			for _, m := range metrics {
				used[m] = true
				_, ok := alerts.KnownMetric(m)
				assert.True(t, ok, "%s: metric %s is not in alerts.Metrics (add it with its exporter and source)", s.name, m)
			}
		}
	}
	seen := map[string]bool{}
	for _, m := range alerts.Metrics {
		assert.False(t, seen[m.Name], "duplicate table entry %s", m.Name)
		seen[m.Name] = true
		assert.NotEmpty(t, m.Exporter, m.Name)
		u, err := url.Parse(m.Source)
		assert.True(t, err == nil && u.Scheme == "https" && u.Host != "", "%s: source %q", m.Name, m.Source)
		assert.True(t, used[m.Name], "table entry %s is read by no rule or panel", m.Name)
	}
	// The check can fail: an unknown metric is not in the table.
	_, ok := alerts.KnownMetric("synapse_made_up_metric_total")
	assert.False(t, ok)
}

// TestSelectorsStayInTheNamespace: every selector of every rule and panel
// is scoped to the stack's namespace, so two stacks in one cluster (and
// one Prometheus) never alert on each other.
func TestSelectorsStayInTheNamespace(t *testing.T) {
	for _, s := range stacks {
		t.Run(s.name, func(t *testing.T) {
			in, _ := input(t, s)
			rules, dash := build(t, in)
			exprs := dash.Exprs()
			for _, r := range rules.Alerts() {
				exprs = append(exprs, r.Expr)
			}
			for _, e := range exprs {
				sels, err := alertstest.Selectors(e)
				require.NoError(t, err)
				for _, sel := range sels {
					m := sel.Matcher("namespace")
					if assert.NotNil(t, m, "%s: selector of %s has no namespace matcher", e, sel.Metric) {
						assert.Equal(t, in.Plan.Namespace, m.Value, e)
						assert.Equal(t, "=", m.Type.String(), e)
					}
				}
			}
		})
	}
}

// coverage maps each Synapse pool (its job) to the process-down rules whose
// `up` selector accepts it.
func coverage(t *testing.T, spec alerts.RuleSpec, ns string, jobs []string, rules ...string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, name := range rules {
		r, ok := ruleByName(spec, name)
		if !ok {
			continue
		}
		sels, err := alertstest.Selectors(r.Expr)
		require.NoError(t, err)
		for _, job := range jobs {
			for _, sel := range sels {
				if sel.Metric == "up" && sel.Matches(map[string]string{"namespace": ns, "job": job}) {
					out[job] = append(out[job], name)
					break
				}
			}
		}
	}
	return out
}

// uncovered are the plan's pools that no process-down rule selects, or that
// no "targets missing" rule names.
func uncovered(t *testing.T, spec alerts.RuleSpec, p *plan.Plan) []string {
	t.Helper()
	var jobs []string
	for _, proc := range p.Processes {
		jobs = append(jobs, proc.Name)
	}
	down := coverage(t, spec, p.Namespace, jobs, "SynapseProcessDown", "SynapseWorkerDown")
	missing := coverage(t, spec, p.Namespace, jobs, "SynapseTargetsMissing")
	var out []string
	for _, j := range jobs {
		if len(down[j]) != 1 || len(missing[j]) != 1 {
			out = append(out, j)
		}
	}
	return out
}

// TestProcessDownCoversEveryPool: every Synapse pool of dev and prod is
// selected by exactly one process-down rule (critical when its instances
// are named in shared config, warning when HAProxy balances over it) and
// by the targets-missing rule; balanced pools also by the all-down rule.
// A pool left out of the rules fails.
func TestProcessDownCoversEveryPool(t *testing.T) {
	for _, s := range stacks {
		t.Run(s.name, func(t *testing.T) {
			in, _ := input(t, s)
			rules, _ := build(t, in)
			p := in.Plan
			require.Empty(t, uncovered(t, rules, p))

			var jobs []string
			for _, proc := range p.Processes {
				jobs = append(jobs, proc.Name)
			}
			down := coverage(t, rules, p.Namespace, jobs, "SynapseProcessDown", "SynapseWorkerDown")
			pool := coverage(t, rules, p.Namespace, jobs, "SynapsePoolDown")
			for _, proc := range p.Processes {
				named := proc.Role == plan.RoleMain || proc.Role.IsStreamWriter() || slices.Contains(
					[]plan.Role{plan.RoleEventPersister, plan.RoleFederationSender, plan.RolePusher, plan.RoleBackground}, proc.Role)
				if named {
					assert.Equal(t, []string{"SynapseProcessDown"}, down[proc.Name], proc.Name)
					assert.Empty(t, pool[proc.Name], proc.Name)
				} else {
					assert.Equal(t, []string{"SynapseWorkerDown"}, down[proc.Name], proc.Name)
					assert.Equal(t, []string{"SynapsePoolDown"}, pool[proc.Name], proc.Name)
				}
			}
			// Nothing outside the plan: a job the rules select is a pool.
			other := coverage(t, rules, p.Namespace, []string{"synapse-not-a-pool", plan.HAProxyName}, "SynapseProcessDown", "SynapseWorkerDown")
			assert.Empty(t, other)
		})
	}
}

// TestRemovingAPoolFailsCoverage: rules built without one pool leave that
// pool uncovered, and the coverage check says which.
func TestRemovingAPoolFailsCoverage(t *testing.T) {
	in, _ := input(t, stacks[2]) // prod
	full := in.Plan
	for i, proc := range full.Processes {
		if proc.Role == plan.RoleMain {
			continue // a plan without main is refused outright
		}
		t.Run(proc.Name, func(t *testing.T) {
			cut := *full
			cut.Processes = slices.Delete(slices.Clone(full.Processes), i, i+1)
			in.Plan = &cut
			rules, err := alerts.Rules(in)
			require.NoError(t, err)
			assert.Equal(t, []string{proc.Name}, uncovered(t, rules, full))
		})
	}
	in.Plan = &plan.Plan{Namespace: "x"}
	_, err := alerts.Rules(in)
	assert.Error(t, err, "a plan without main")
}

// TestBackupAlertsOnlyWithBackups: the backup and WAL archiving alerts
// (and the backup panel) exist exactly when backups are on.
func TestBackupAlertsOnlyWithBackups(t *testing.T) {
	backupAlerts := []string{"PostgresBackupFailed", "PostgresBackupTooOld", "PostgresBackupMetricsMissing", "PostgresWALArchivingFailing"}
	for _, s := range stacks {
		t.Run(s.name, func(t *testing.T) {
			in, _ := input(t, s)
			rules, dash := build(t, in)
			got := names(rules)
			for _, a := range backupAlerts {
				assert.Equal(t, s.backups, slices.Contains(got, a), a)
			}
			var reads bool
			for _, e := range dash.Exprs() {
				reads = reads || strings.Contains(e, "barman_cloud_")
			}
			assert.Equal(t, s.backups, reads, "dashboard backup panel")
		})
	}
	in, _ := input(t, stacks[1])
	in.BackupMaxAgeHours = 50
	rules, _ := build(t, in)
	r, _ := ruleByName(rules, "PostgresBackupTooOld")
	assert.Contains(t, r.Expr, "> 180000", "50 h")
	in.BackupMaxAgeHours = -1
	_, err := alerts.Rules(in)
	assert.Error(t, err)
}

// TestPostgresReplicationAlertsNeedStandbys: with one instance there is
// nothing to replicate to; with three, the standby count is in the rules.
func TestPostgresReplicationAlertsNeedStandbys(t *testing.T) {
	standbyAlerts := []string{"PostgresInstancesMissing", "PostgresReplicationLag", "PostgresReplicationLagCritical", "PostgresStandbyNotStreaming"}
	for _, s := range stacks {
		t.Run(s.name, func(t *testing.T) {
			in, cfg := input(t, s)
			rules, _ := build(t, in)
			for _, a := range standbyAlerts {
				assert.Equal(t, cfg.Postgres.Instances > 1, slices.Contains(names(rules), a), a)
			}
			if r, ok := ruleByName(rules, "PostgresStandbyNotStreaming"); ok {
				assert.True(t, strings.HasSuffix(r.Expr, "< 2"), r.Expr) // prod: 3 instances
			}
			for _, r := range rules.Alerts() {
				sels, err := alertstest.Selectors(r.Expr)
				require.NoError(t, err)
				for _, sel := range sels {
					if strings.HasPrefix(sel.Metric, "cnpg_") || strings.HasPrefix(sel.Metric, "barman_") {
						pod := sel.Matcher("pod")
						require.NotNil(t, pod, "%s: %s", r.Alert, sel.Metric)
						for i := 1; i <= cfg.Postgres.Instances; i++ {
							name := fmt.Sprintf("%s-%d", plan.PostgresClusterName, i)
							assert.True(t, pod.Matches(name), "%s does not select %s", r.Alert, name)
						}
						assert.False(t, pod.Matches(plan.PostgresClusterName+"-1-initdb-abcde"), r.Alert)
					}
				}
			}
		})
	}
	in, _ := input(t, stacks[0])
	in.PostgresInstances = 0
	_, err := alerts.Rules(in)
	assert.Error(t, err)
}

// TestRouterRulesFollowTheBackends: every HAProxy backend of the plan
// (main's included) is in the 5xx rules, and in exactly one of the
// backend-down rules: critical when nothing can take over, a warning when
// main is its backup server. The HAProxy job is the router's Service.
func TestRouterRulesFollowTheBackends(t *testing.T) {
	for _, s := range stacks {
		t.Run(s.name, func(t *testing.T) {
			in, _ := input(t, s)
			rules, _ := build(t, in)
			p := in.Plan
			type be struct {
				name     string
				fallback bool
			}
			all := []be{{p.MainBackend, false}}
			for _, b := range p.Backends {
				all = append(all, be{b.Name, b.FallbackToMain})
			}
			selects := func(rule, backend string) bool {
				r, ok := ruleByName(rules, rule)
				if !ok {
					return false
				}
				sels, err := alertstest.Selectors(r.Expr)
				require.NoError(t, err)
				for _, sel := range sels {
					if strings.HasPrefix(sel.Metric, "haproxy_") &&
						sel.Matches(map[string]string{"namespace": p.Namespace, "job": plan.HAProxyName, "proxy": backend, "code": "5xx"}) {
						return true
					}
				}
				return false
			}
			for _, b := range all {
				assert.True(t, selects("HAProxyBackend5xxHigh", b.name), b.name)
				assert.True(t, selects("HAProxyBackend5xxCritical", b.name), b.name)
				assert.Equal(t, !b.fallback, selects("HAProxyBackendDown", b.name), b.name)
				assert.Equal(t, b.fallback, selects("HAProxyBackendOnFallback", b.name), b.name)
			}
			assert.False(t, selects("HAProxyBackendDown", "not-a-backend"))
		})
	}
}

// TestVolumeRules: three rules per volume group, selecting its PVCs and
// nothing else; bad groups are refused.
func TestVolumeRules(t *testing.T) {
	in, _ := input(t, stacks[2])
	rules, _ := build(t, in)
	for _, v := range in.Volumes {
		for _, suffix := range []string{"VolumeFillingUp", "VolumeAlmostFull", "VolumeFullIn24h"} {
			r, ok := ruleByName(rules, v.Alert+suffix)
			require.True(t, ok, v.Alert+suffix)
			sels, err := alertstest.Selectors(r.Expr)
			require.NoError(t, err)
			for _, sel := range sels {
				require.True(t, strings.HasPrefix(sel.Metric, "kubelet_volume_stats_"), sel.Metric)
				pvc := sel.Matcher("persistentvolumeclaim")
				require.NotNil(t, pvc)
				prefix := strings.TrimSuffix(v.Claims, "-[0-9]+")
				assert.True(t, pvc.Matches(prefix+"-0") && pvc.Matches(prefix+"-12"), r.Alert)
				assert.False(t, pvc.Matches(prefix+"-x") || pvc.Matches("other-"+prefix+"-0"), r.Alert)
			}
		}
	}
	for _, bad := range []alerts.Volume{
		{Alert: "lower", What: "x", Claims: "a-[0-9]+"},
		{Alert: "Ok", What: "x", Claims: ""},
		{Alert: "Ok", What: "", Claims: "a"},
		{Alert: "Ok", What: "x", Claims: "a-[0-9+"},
	} {
		in.Volumes = []alerts.Volume{bad}
		_, err := alerts.Rules(in)
		assert.Error(t, err, "%+v", bad)
	}
}

// TestRuleSpecMap: the spec as Kubernetes data has the PrometheusRule
// shape (groups[].rules[] with alert, expr, for, labels, annotations).
func TestRuleSpecMap(t *testing.T) {
	in, _ := input(t, stacks[3])
	rules, _ := build(t, in)
	m, err := rules.Map()
	require.NoError(t, err)
	groups, _ := m["groups"].([]any)
	require.Len(t, groups, len(rules.Groups))
	n := 0
	for _, g := range groups {
		for _, r := range g.(map[string]any)["rules"].([]any) {
			rule := r.(map[string]any)
			assert.ElementsMatch(t, []string{"alert", "expr", "for", "labels", "annotations"}, keys(rule))
			n++
		}
	}
	assert.Equal(t, len(rules.Alerts()), n)
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestDashboard: the dashboard is valid JSON for Grafana: a unique id
// within 40 characters per namespace, unique panel ids, panels inside the
// 24-column grid and not overlapping, every graph with queries on the
// data source variable.
func TestDashboard(t *testing.T) {
	uids := map[string]bool{}
	for _, s := range stacks {
		t.Run(s.name, func(t *testing.T) {
			in, _ := input(t, s)
			_, dash := build(t, in)
			text, err := dash.JSON()
			require.NoError(t, err)
			var back map[string]any
			require.NoError(t, json.Unmarshal([]byte(text), &back))
			assert.Equal(t, dash.UID, back["uid"])
			assert.LessOrEqual(t, len(dash.UID), 40)
			uids[in.Plan.Namespace+"/"+dash.UID] = true

			ids := map[int]bool{}
			type cell struct{ x, y int }
			used := map[cell]int{}
			for _, p := range dash.Panels {
				assert.False(t, ids[p.ID], "duplicate panel id %d", p.ID)
				ids[p.ID] = true
				assert.True(t, p.GridPos.X >= 0 && p.GridPos.X+p.GridPos.W <= 24, p.Title)
				for x := p.GridPos.X; x < p.GridPos.X+p.GridPos.W; x++ {
					for y := p.GridPos.Y; y < p.GridPos.Y+p.GridPos.H; y++ {
						if other, ok := used[cell{x, y}]; ok {
							t.Errorf("panels %d and %d overlap at %d,%d", other, p.ID, x, y)
						}
						used[cell{x, y}] = p.ID
					}
				}
				if p.Type == "row" {
					assert.Empty(t, p.Targets)
					continue
				}
				assert.Equal(t, "timeseries", p.Type)
				require.NotEmpty(t, p.Targets, p.Title)
				for _, tg := range p.Targets {
					assert.Equal(t, "${datasource}", tg.Datasource.UID, p.Title)
				}
			}
			assert.Equal(t, "datasource", dash.Templating.List[0].Name)
		})
	}
	long := strings.Repeat("n", 63)
	in, _ := input(t, stacks[0])
	cut := *in.Plan
	cut.Namespace = long
	in.Plan = &cut
	_, dash := build(t, in)
	assert.LessOrEqual(t, len(dash.UID), 40)
	assert.Equal(t, "synapse-"+long+".json", alerts.DashboardFile(long))
}

// TestREADMEListsTheMetrics: the README's metric table is alerts.Metrics,
// row for row (name, exporter, source), and names every alert the rules
// can emit.
func TestREADMEListsTheMetrics(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	readme := string(b)
	start := strings.Index(readme, "\n## Alerts and dashboards\n")
	require.GreaterOrEqual(t, start, 0, "README has no \"Alerts and dashboards\" section")
	section := readme[start+1:]
	if end := strings.Index(section, "\n## "); end >= 0 {
		section = section[:end]
	}
	row := regexp.MustCompile("(?m)^\\| `([a-z_:]+)` \\| ([^|]+) \\| \\[source\\]\\(([^)]+)\\) \\|$")
	var got []alerts.Metric
	for _, m := range row.FindAllStringSubmatch(section, -1) {
		got = append(got, alerts.Metric{Name: m[1], Exporter: strings.TrimSpace(m[2]), Source: m[3]})
	}
	assert.Equal(t, alerts.Metrics, got)

	for _, s := range []stack{stacks[3], stacks[0]} {
		in, _ := input(t, s)
		rules, _ := build(t, in)
		for _, r := range rules.Alerts() {
			name := r.Alert
			for _, v := range in.Volumes {
				name = strings.Replace(name, v.Alert+"Volume", "<V>Volume", 1)
			}
			assert.Contains(t, section, "`"+name+"`", "README does not describe %s", r.Alert)
		}
	}
}
