package components

import (
	"fmt"
	"math"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apiextensions"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"synapse/alerts"
	"synapse/config"
	"synapse/plan"
)

// MonitoringRulesType is the token of the alerts-and-dashboard component.
const MonitoringRulesType = "synapse:index:MonitoringRules"

// PrometheusRuleType is the pulumi type token of a prometheus-operator
// PrometheusRule.
const PrometheusRuleType = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"

// Names of the monitoring objects, and their app.kubernetes.io/component.
const (
	PrometheusRuleName     = "synapse-alerts"
	DashboardConfigMapName = "synapse-dashboard"
	ComponentMonitoring    = "monitoring"
)

// MonitoringRulesArgs configure NewMonitoringRules.
type MonitoringRulesArgs struct {
	Namespace pulumi.StringInput
	Config    *config.Config
	Plan      *plan.Plan
	// Backups says whether the CNPG Cluster archives WAL and takes base
	// backups through the Barman Cloud plugin: the backup alerts and the
	// backup panel exist only then.
	Backups bool
}

// MonitoringRules is the PrometheusRule with the stack's alerts and the
// Grafana dashboard ConfigMap (for the dashboard sidecar), both derived
// from the plan by package alerts.
type MonitoringRules struct {
	pulumi.ResourceState

	Rules     *apiextensions.CustomResource
	Dashboard *corev1.ConfigMap
	// Alerts are the alert names in the PrometheusRule, in order.
	Alerts []string
}

// MonitoredVolumes are the PVC groups whose filling up alerts: the media
// store of the media workers (their volume claim template, one PVC per
// pod: <template>-<statefulset>-<ordinal>), the CNPG instances' volumes
// (CNPG names each after its instance pod, <cluster>-<serial>, and a WAL
// volume <cluster>-<serial>-wal) and, with MinIO, its drives.
func MonitoredVolumes(c *config.Config, p *plan.Plan) []alerts.Volume {
	var out []alerts.Volume
	if media, ok := p.Process(plan.RoleMediaRepository); ok {
		out = append(out, alerts.Volume{
			Alert:  "SynapseMedia",
			What:   "the local media store of " + media.Name,
			Claims: alerts.Series(volMedia + "-" + media.Name),
		})
	}
	out = append(out, alerts.Volume{
		Alert: "Postgres",
		What:  "the data of Postgres instance {{ $labels.persistentvolumeclaim }} (CNPG Cluster " + plan.PostgresClusterName + ")",
		// <cluster>-<serial>-wal too, should the Cluster get walStorage.
		Claims: alerts.Series(plan.PostgresClusterName) + "(-wal)?",
	})
	if c.MinIO.Enabled {
		out = append(out, alerts.Volume{
			Alert:  "MinIO",
			What:   "a MinIO drive of the S3 media bucket",
			Claims: alerts.Series(minioDataVolume + "-" + plan.MinIOName),
		})
	}
	return out
}

// backupMaxAgeHours is how old the last base backup may be before it
// alerts: the schedule's longest gap between two backups, plus two hours
// for the backup itself (26 h for the daily default); 0 (the alerts'
// default) when the schedule gives none.
func backupMaxAgeHours(b config.Backup) int {
	gap := b.LongestGap()
	if gap == 0 {
		return 0
	}
	return int(math.Ceil(gap.Hours())) + 2
}

// NewMonitoringRules creates the PrometheusRule and the dashboard
// ConfigMap. The stack creates it only with monitoring.enabled: the
// PrometheusRule needs the prometheus-operator CRDs.
func NewMonitoringRules(ctx *pulumi.Context, name string, args *MonitoringRulesArgs, opts ...pulumi.ResourceOption) (*MonitoringRules, error) {
	if args == nil || args.Namespace == nil || args.Config == nil || args.Plan == nil {
		return nil, fmt.Errorf("components: MonitoringRules %s: Namespace, Config and Plan are required", name)
	}
	in := alerts.Input{
		Plan:              args.Plan,
		PostgresInstances: args.Config.Postgres.Instances,
		Backups:           args.Backups,
		BackupMaxAgeHours: backupMaxAgeHours(args.Config.Postgres.Backup),
		Volumes:           MonitoredVolumes(args.Config, args.Plan),
	}
	rules, err := alerts.Rules(in)
	if err != nil {
		return nil, err
	}
	spec, err := rules.Map()
	if err != nil {
		return nil, fmt.Errorf("components: MonitoringRules %s: %w", name, err)
	}
	dashboard, err := alerts.BuildDashboard(in)
	if err != nil {
		return nil, err
	}
	dashboardJSON, err := dashboard.JSON()
	if err != nil {
		return nil, fmt.Errorf("components: MonitoringRules %s: %w", name, err)
	}

	c := &MonitoringRules{}
	for _, r := range rules.Alerts() {
		c.Alerts = append(c.Alerts, r.Alert)
	}
	if err := ctx.RegisterComponentResource(MonitoringRulesType, name, c, opts...); err != nil {
		return nil, err
	}

	c.Rules, err = apiextensions.NewCustomResource(ctx, name+"-prometheusrule", &apiextensions.CustomResourceArgs{
		ApiVersion: pulumi.String("monitoring.coreos.com/v1"),
		Kind:       pulumi.String("PrometheusRule"),
		Metadata: &metav1.ObjectMetaArgs{
			Name: pulumi.String(PrometheusRuleName), Namespace: args.Namespace,
			Labels: MetaLabels(PrometheusRuleName, ComponentMonitoring),
		},
		OtherFields: kubernetes.UntypedArgs{"spec": spec},
	}, pulumi.Parent(c))
	if err != nil {
		return nil, err
	}

	labels := MetaLabels(DashboardConfigMapName, ComponentMonitoring)
	labels[alerts.DashboardLabel] = pulumi.String(alerts.DashboardLabelValue)
	// A fixed name on purpose, unlike the mounted ConfigMaps: the sidecar
	// writes each key as a file named after the key and deletes that file
	// when a ConfigMap holding the key is deleted (kiwigrid/k8s-sidecar#44).
	// A content-named replacement (created first, then the old one
	// deleted) would take the dashboard away again; a change under a fixed
	// name is a delete, then a create, which leaves the new file in place.
	// Nothing mounts it.
	c.Dashboard, err = corev1.NewConfigMap(ctx, name+"-dashboard", &corev1.ConfigMapArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(DashboardConfigMapName), Namespace: args.Namespace, Labels: labels},
		Data:     pulumi.StringMap{alerts.DashboardFile(args.Plan.Namespace): pulumi.String(dashboardJSON)},
	}, pulumi.Parent(c))
	if err != nil {
		return nil, err
	}

	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{
		"prometheusRule": pulumi.String(PrometheusRuleName),
		"dashboard":      pulumi.String(DashboardConfigMapName),
		"alerts":         pulumi.ToStringArray(c.Alerts),
	}); err != nil {
		return nil, err
	}
	return c, nil
}
