package tests

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"synapse/alerts"
	"synapse/alerts/alertstest"
	"synapse/components"
	"synapse/config"
	"synapse/internal/mockstack"
)

const tPrometheusRule = components.PrometheusRuleType

// monitoringCases: prod has monitoring on and dev off as committed; each
// is also run the other way round.
var monitoringCases = []struct {
	stackCase
	on bool
}{
	{stackCase{name: "dev", file: "dev"}, false},
	{stackCase{name: "dev-monitoring", file: "dev", overrides: map[string]string{"monitoring": `{"enabled":true,"namespace":"monitoring"}`}}, true},
	{stackCase{name: "prod", file: "prod"}, true},
	{stackCase{name: "prod-federation-off", file: "prod", overrides: map[string]string{"federation": `{"enabled":false}`}}, true},
	{stackCase{name: "prod-monitoring-off", file: "prod", overrides: map[string]string{"monitoring": `{"enabled":false}`}}, false},
}

// dashboards are the ConfigMaps the Grafana sidecar picks up.
func dashboards(s *mockstack.Stack) []mockstack.Resource {
	var out []mockstack.Resource
	for _, r := range s.ByType(tConfigMap) {
		if stringMap(dig(r.Inputs, "metadata", "labels"))[alerts.DashboardLabel] == alerts.DashboardLabelValue {
			out = append(out, r)
		}
	}
	return out
}

// TestMonitoringObjectsOnlyWithMonitoring: the PrometheusRule and the
// dashboard ConfigMap exist exactly when monitoring.enabled (as the
// ServiceMonitors do), once each, in the stack's namespace.
func TestMonitoringObjectsOnlyWithMonitoring(t *testing.T) {
	t.Parallel()
	for _, tc := range monitoringCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, p := deploy(t, tc.stackCase)
			rules, dash := s.ByType(tPrometheusRule), dashboards(s)
			monitors := s.ByType(tServiceMonitor)
			if !tc.on {
				assert.Empty(t, rules)
				assert.Empty(t, dash)
				assert.Empty(t, monitors)
				return
			}
			require.Len(t, rules, 1)
			require.Len(t, dash, 1)
			require.NotEmpty(t, monitors)
			for _, r := range append(rules, dash...) {
				assert.Equal(t, p.Namespace, digString(r.Inputs, "metadata", "namespace"), r.Name)
				assert.Equal(t, "pulumi", stringMap(dig(r.Inputs, "metadata", "labels"))[components.LabelManagedBy], r.Name)
			}
		})
	}
}

// monitoredJobs are the job labels the stack's ServiceMonitors give their
// targets (prometheus-operator: the name of the selected Service, no
// jobLabel being set), by the ServiceMonitor's component label.
func monitoredJobs(t *testing.T, s *mockstack.Stack) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, sm := range s.ByType(tServiceMonitor) {
		require.Empty(t, digString(sm.Inputs, "spec", "jobLabel"), "jobLabel would change the job the rules select")
		selector := stringMap(dig(sm.Inputs, "spec", "selector", "matchLabels"))
		var names []string
		for _, svc := range s.ByType(tService) {
			if selects(selector, stringMap(dig(svc.Inputs, "metadata", "labels"))) {
				names = append(names, metaName(svc))
			}
		}
		require.Len(t, names, 1, "ServiceMonitor %s", metaName(sm))
		comp := stringMap(dig(sm.Inputs, "metadata", "labels"))[components.LabelComponent]
		out[comp] = append(out[comp], names[0])
	}
	return out
}

type deployedRule struct {
	alert, expr string
	sels        []alertstest.Selector
}

func deployedRules(t *testing.T, s *mockstack.Stack) map[string]deployedRule {
	t.Helper()
	out := map[string]deployedRule{}
	pr := s.ByType(tPrometheusRule)
	require.Len(t, pr, 1)
	for _, g := range digList(pr[0].Inputs, "spec", "groups") {
		for _, r := range digList(g, "rules") {
			name, expr := digString(r, "alert"), digString(r, "expr")
			_, dup := out[name]
			require.False(t, dup, "alert %s twice", name)
			sels, err := alertstest.Selectors(expr)
			require.NoError(t, err, "%s: %s", name, expr)
			out[name] = deployedRule{name, expr, sels}
		}
	}
	return out
}

// selectsSeries: some selector of the rule reads metric with these labels.
func (r deployedRule) selectsSeries(metric string, lbls map[string]string) bool {
	for _, s := range r.sels {
		if s.Metric == metric && s.Matches(lbls) {
			return true
		}
	}
	return false
}

// TestAlertsFollowTheDeployedStack reads the PrometheusRule the program
// registers and holds it to the objects next to it: every expression
// parses and reads only documented metrics; every Synapse pool's
// ServiceMonitor job is selected by exactly one process-down rule and by
// the targets-missing rule; the router rules select HAProxy's job; every
// PVC the StatefulSets and the CNPG Cluster create is watched by a
// volume rule, and every volume rule watches some PVC.
func TestAlertsFollowTheDeployedStack(t *testing.T) {
	t.Parallel()
	for _, tc := range monitoringCases {
		if !tc.on {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, p := deploy(t, tc.stackCase)
			cfg, err := config.Parse(rawConfig(t, tc.stackCase))
			require.NoError(t, err)
			rules := deployedRules(t, s)
			ns := p.Namespace
			for _, r := range rules {
				for _, sel := range r.sels {
					_, ok := alerts.KnownMetric(sel.Metric)
					assert.True(t, ok, "%s reads %s, which is not in alerts.Metrics", r.alert, sel.Metric)
				}
			}

			jobs := monitoredJobs(t, s)
			require.Len(t, jobs[components.ComponentSynapse], len(p.Processes))
			for _, job := range jobs[components.ComponentSynapse] {
				lbls := map[string]string{"namespace": ns, "job": job}
				n := 0
				for _, name := range []string{"SynapseProcessDown", "SynapseWorkerDown"} {
					if rules[name].selectsSeries("up", lbls) {
						n++
					}
				}
				assert.Equal(t, 1, n, "job %s: selected by %d process-down rules", job, n)
				assert.True(t, rules["SynapseTargetsMissing"].selectsSeries("up", lbls), job)
			}
			require.Len(t, jobs[components.ComponentRouter], 1)
			router := jobs[components.ComponentRouter][0]
			assert.True(t, rules["HAProxyDown"].selectsSeries("up", map[string]string{"namespace": ns, "job": router}))
			assert.True(t, rules["HAProxyBackendDown"].selectsSeries("haproxy_backend_active_servers",
				map[string]string{"namespace": ns, "job": router, "proxy": p.MainBackend}))

			// PVCs: <template>-<statefulset>-<ordinal>, and CNPG's <cluster>-<serial>.
			var pvcs []string
			for _, w := range workloads(s) {
				if w.Kind != "StatefulSet" {
					continue
				}
				for _, vct := range digList(w.R.Inputs, "spec", "volumeClaimTemplates") {
					for i := 0; i < max(w.replicas(), 1); i++ {
						pvcs = append(pvcs, fmt.Sprintf("%s-%s-%d", digString(vct, "metadata", "name"), w.Name, i))
					}
				}
			}
			clusters := s.ByType(tCluster)
			require.Len(t, clusters, 1)
			for i := 1; i <= cfg.Postgres.Instances; i++ {
				pvcs = append(pvcs, fmt.Sprintf("%s-%d", metaName(clusters[0]), i))
				if dig(clusters[0].Inputs, "spec", "walStorage") != nil {
					pvcs = append(pvcs, fmt.Sprintf("%s-%d-wal", metaName(clusters[0]), i))
				}
			}
			watched := map[string]bool{}
			for _, pvc := range pvcs {
				lbls := map[string]string{"namespace": ns, "persistentvolumeclaim": pvc}
				for name, r := range rules {
					if strings.HasSuffix(name, "VolumeFillingUp") && r.selectsSeries("kubelet_volume_stats_available_bytes", lbls) {
						watched[pvc] = true
						assert.True(t, rules[strings.TrimSuffix(name, "FillingUp")+"AlmostFull"].selectsSeries("kubelet_volume_stats_available_bytes", lbls), pvc)
					}
				}
				assert.True(t, watched[pvc], "PVC %s is watched by no volume rule", pvc)
			}
			for name, r := range rules {
				if !strings.HasSuffix(name, "VolumeFillingUp") {
					continue
				}
				used := false
				for _, pvc := range pvcs {
					used = used || r.selectsSeries("kubelet_volume_stats_available_bytes", map[string]string{"namespace": ns, "persistentvolumeclaim": pvc})
				}
				assert.True(t, used, "%s watches no PVC the stack creates", name)
			}

			// The Postgres rules select the Cluster's instance pods.
			assert.True(t, rules["PostgresInstanceDown"].selectsSeries("cnpg_collector_up",
				map[string]string{"namespace": ns, "pod": metaName(clusters[0]) + "-1"}))
		})
	}
}

// TestDashboardConfigMap: the dashboard the sidecar loads is JSON, and
// every panel query parses and reads only documented metrics of this
// namespace.
func TestDashboardConfigMap(t *testing.T) {
	t.Parallel()
	for _, tc := range monitoringCases {
		if !tc.on {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, p := deploy(t, tc.stackCase)
			dash := dashboards(s)
			require.Len(t, dash, 1)
			data := digMap(dash[0].Inputs, "data")
			require.Len(t, data, 1)
			text, ok := data[alerts.DashboardFile(p.Namespace)].(string)
			require.True(t, ok, "key %s", alerts.DashboardFile(p.Namespace))
			var d struct {
				UID    string `json:"uid"`
				Panels []struct {
					Title   string `json:"title"`
					Type    string `json:"type"`
					Targets []struct {
						Expr string `json:"expr"`
					} `json:"targets"`
				} `json:"panels"`
			}
			require.NoError(t, json.Unmarshal([]byte(text), &d))
			assert.NotEmpty(t, d.UID)
			queries := 0
			for _, panel := range d.Panels {
				for _, tg := range panel.Targets {
					queries++
					sels, err := alertstest.Selectors(tg.Expr)
					require.NoError(t, err, "%s: %s", panel.Title, tg.Expr)
					for _, sel := range sels {
						_, ok := alerts.KnownMetric(sel.Metric)
						assert.True(t, ok, "panel %q reads %s, which is not in alerts.Metrics", panel.Title, sel.Metric)
						m := sel.Matcher("namespace")
						assert.True(t, m != nil && m.Matches(p.Namespace) && !m.Matches(p.Namespace+"-other"),
							"panel %q: %s not scoped to %s", panel.Title, sel.Metric, p.Namespace)
					}
				}
			}
			assert.Greater(t, queries, 10)
			assert.Regexp(t, regexp.MustCompile(`haproxy_backend_http_requests_total`), text)
			assert.Contains(t, text, "process_resident_memory_bytes")
		})
	}
}

// TestBackupAlertsFollowTheConfig: the backup and WAL archiving alerts are
// in the PrometheusRule exactly when the stack file turns
// postgres.backup.enabled on (read from the file as written).
func TestBackupAlertsFollowTheConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range monitoringCases {
		if !tc.on {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, _ := deploy(t, tc.stackCase)
			var pg struct {
				Backup struct {
					Enabled bool `json:"enabled"`
				} `json:"backup"`
			}
			if raw, ok := rawConfig(t, tc.stackCase)["postgres"]; ok {
				require.NoError(t, json.Unmarshal([]byte(raw), &pg))
			}
			rules := deployedRules(t, s)
			for _, name := range []string{"PostgresBackupFailed", "PostgresBackupTooOld", "PostgresBackupMetricsMissing", "PostgresWALArchivingFailing"} {
				_, ok := rules[name]
				assert.Equal(t, pg.Backup.Enabled, ok, "%s with postgres.backup.enabled=%v", name, pg.Backup.Enabled)
			}
		})
	}
}
