package components_test

import (
	"encoding/json"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"synapse/alerts"
	"synapse/components"
	"synapse/config"
	"synapse/internal/mockstack"
	"synapse/plan"
)

const (
	tPrometheusRule = components.PrometheusRuleType
	tMonitoringC    = components.MonitoringRulesType
)

// deployMonitoring runs NewMonitoringRules alone under mocks.
func deployMonitoring(t *testing.T, stackFile string, backups bool) (*mockstack.Stack, *components.MonitoringRules, *config.Config, *plan.Plan) {
	t.Helper()
	raw, err := config.ReadStackFile("../" + stackFile)
	require.NoError(t, err)
	cfg, err := config.Parse(raw)
	require.NoError(t, err)
	p := plan.Build(cfg)
	var m *components.MonitoringRules
	s, err := mockstack.Run(func(ctx *pulumi.Context) error {
		var err error
		m, err = components.NewMonitoringRules(ctx, "monitoring", &components.MonitoringRulesArgs{
			Namespace: pulumi.String(cfg.Namespace), Config: cfg, Plan: p, Backups: backups,
		})
		return err
	}, mockstack.Options{})
	require.NoError(t, err)
	return s, m, cfg, p
}

// TestMonitoringRulesObjects: one PrometheusRule holding exactly the rules
// package alerts derives, and one dashboard ConfigMap for the Grafana
// sidecar holding exactly its dashboard; both in the stack's namespace,
// labelled like every other object, children of the component; nothing
// else (no Secret).
func TestMonitoringRulesObjects(t *testing.T) {
	for _, tc := range []struct {
		file    string
		backups bool
	}{{"Pulumi.prod.yaml", false}, {"Pulumi.prod.yaml", true}, {"Pulumi.dev.yaml", false}} {
		t.Run(tc.file, func(t *testing.T) {
			s, m, cfg, p := deployMonitoring(t, tc.file, tc.backups)
			in := alerts.Input{Plan: p, PostgresInstances: cfg.Postgres.Instances, Backups: tc.backups,
				Volumes: components.MonitoredVolumes(cfg, p)}
			wantRules, err := alerts.Rules(in)
			require.NoError(t, err)
			wantSpec, err := wantRules.Map()
			require.NoError(t, err)
			wantDash, err := alerts.BuildDashboard(in)
			require.NoError(t, err)
			wantJSON, err := wantDash.JSON()
			require.NoError(t, err)

			comp := s.MustGet(t, tMonitoringC, "monitoring")
			require.Len(t, s.Resources, 3, "the component, the PrometheusRule and the ConfigMap")

			rule := s.MustGet(t, tPrometheusRule, "monitoring-prometheusrule")
			assert.Equal(t, comp.URN, rule.Parent)
			assert.Equal(t, "monitoring.coreos.com/v1", rule.Inputs["apiVersion"])
			assert.Equal(t, "PrometheusRule", rule.Inputs["kind"])
			meta := rule.Inputs["metadata"].(map[string]any)
			assert.Equal(t, components.PrometheusRuleName, meta["name"])
			assert.Equal(t, cfg.Namespace, meta["namespace"])
			assert.Equal(t, components.ComponentMonitoring, meta["labels"].(map[string]any)[components.LabelComponent])
			assert.Equal(t, "pulumi", meta["labels"].(map[string]any)[components.LabelManagedBy])
			assert.Equal(t, wantSpec, rule.Inputs["spec"])

			var alertNames []string
			for _, r := range wantRules.Alerts() {
				alertNames = append(alertNames, r.Alert)
			}
			assert.Equal(t, alertNames, m.Alerts)
			assert.Equal(t, tc.backups, contains(m.Alerts, "PostgresBackupFailed"))

			cm := s.MustGet(t, tConfigMap, "monitoring-dashboard")
			assert.Equal(t, comp.URN, cm.Parent)
			cmMeta := cm.Inputs["metadata"].(map[string]any)
			assert.Equal(t, components.DashboardConfigMapName, cmMeta["name"])
			assert.Equal(t, cfg.Namespace, cmMeta["namespace"])
			assert.Equal(t, alerts.DashboardLabelValue, cmMeta["labels"].(map[string]any)[alerts.DashboardLabel])
			data := cm.Inputs["data"].(map[string]any)
			require.Len(t, data, 1)
			got, ok := data[alerts.DashboardFile(cfg.Namespace)].(string)
			require.True(t, ok, "data key %s", alerts.DashboardFile(cfg.Namespace))
			assert.Equal(t, wantJSON, got)
			var parsed map[string]any
			assert.NoError(t, json.Unmarshal([]byte(got), &parsed))
			assert.Empty(t, s.SecretValues())
		})
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// TestMonitoredVolumes: the media store, the Postgres instances and, only
// with MinIO, its drives; each group's claims regexp matches the names
// Kubernetes and CNPG give those PVCs.
func TestMonitoredVolumes(t *testing.T) {
	for _, tc := range []struct {
		file  string
		want  map[string]string // alert prefix → a PVC the group must match
		minio bool
	}{
		{"Pulumi.prod.yaml", map[string]string{
			"SynapseMedia": "media-synapse-media-repository-5", "Postgres": "synapse-postgres-3-wal", "MinIO": "data-synapse-minio-0",
		}, true},
		{"Pulumi.dev.yaml", map[string]string{
			"SynapseMedia": "media-synapse-media-repository-0", "Postgres": "synapse-postgres-1",
		}, false},
	} {
		t.Run(tc.file, func(t *testing.T) {
			raw, err := config.ReadStackFile("../" + tc.file)
			require.NoError(t, err)
			cfg, err := config.Parse(raw)
			require.NoError(t, err)
			require.Equal(t, tc.minio, cfg.MinIO.Enabled)
			got := map[string]alerts.Volume{}
			for _, v := range components.MonitoredVolumes(cfg, plan.Build(cfg)) {
				got[v.Alert] = v
			}
			require.Len(t, got, len(tc.want))
			for prefix, pvc := range tc.want {
				v, ok := got[prefix]
				require.True(t, ok, prefix)
				assert.Regexp(t, "^(?:"+v.Claims+")$", pvc)
				assert.NotRegexp(t, "^(?:"+v.Claims+")$", "x"+pvc)
			}
		})
	}
}

// TestMonitoringRulesNeedsItsInputs: a missing input is an error that
// names the component, and registers nothing.
func TestMonitoringRulesNeedsItsInputs(t *testing.T) {
	s, err := mockstack.Run(func(ctx *pulumi.Context) error {
		_, err := components.NewMonitoringRules(ctx, "monitoring", &components.MonitoringRulesArgs{Namespace: pulumi.String("x")})
		return err
	}, mockstack.Options{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "MonitoringRules monitoring")
	if s != nil {
		assert.Empty(t, s.Resources)
	}
}

// TestBackupAgeFollowsTheSchedule: a base backup counts as too old after
// the schedule's longest gap plus two hours: 26 h for the daily default,
// 170 h for a weekly schedule.
func TestBackupAgeFollowsTheSchedule(t *testing.T) {
	for _, tc := range []struct {
		schedule string
		seconds  string
	}{{config.DefaultBackupSchedule, "> 93600"}, {"0 0 3 * * 0", "> 612000"}} {
		t.Run(tc.schedule, func(t *testing.T) {
			raw, err := config.ReadStackFile("../Pulumi.prod.yaml")
			require.NoError(t, err)
			raw["postgres"] = `{"instances":3,"backup":{"enabled":true,"schedule":"` + tc.schedule + `"}}`
			cfg, err := config.Parse(raw)
			require.NoError(t, err)
			s, err := mockstack.Run(func(ctx *pulumi.Context) error {
				_, err := components.NewMonitoringRules(ctx, "monitoring", &components.MonitoringRulesArgs{
					Namespace: pulumi.String(cfg.Namespace), Config: cfg, Plan: plan.Build(cfg), Backups: true,
				})
				return err
			}, mockstack.Options{})
			require.NoError(t, err)
			spec, err := json.Marshal(s.MustGet(t, tPrometheusRule, "monitoring-prometheusrule").Inputs["spec"])
			require.NoError(t, err)
			var rules struct {
				Groups []struct {
					Rules []struct{ Alert, Expr string }
				}
			}
			require.NoError(t, json.Unmarshal(spec, &rules))
			found := false
			for _, g := range rules.Groups {
				for _, r := range g.Rules {
					if r.Alert == "PostgresBackupTooOld" {
						found = true
						assert.Contains(t, r.Expr, tc.seconds)
					}
				}
			}
			assert.True(t, found, "PostgresBackupTooOld")
		})
	}
}
