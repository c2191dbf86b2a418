// Package alerts derives the Prometheus alerting rules and the Grafana
// dashboard of a stack from its plan: one job per Synapse pool (the
// ServiceMonitor's job label is the pool's Service name), the HAProxy
// backends, the CNPG cluster, the volumes that hold data. It is pure Go (no
// Pulumi): the components turn its output into a PrometheusRule and a
// dashboard ConfigMap.
//
// Every metric an expression reads is in Metrics, with its exporter and
// where that exporter documents or defines it; the tests parse every
// expression with Prometheus's own parser and hold its metric names to that
// table.
package alerts

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"synapse/plan"
)

// Severities (the `severity` label Alertmanager routes on).
const (
	SeverityCritical = "critical"
	SeverityWarning  = "warning"
)

// Thresholds, named once: the README's alert table quotes them.
const (
	// HAProxy: share of a backend's responses that are 5xx, and the request
	// rate below which a ratio means nothing (requests per second).
	Backend5xxWarning  = 0.05
	Backend5xxCritical = 0.25
	backendMinRate     = 0.1

	// Synapse: replication commands waiting to be processed by one process
	// for one stream; event processing lag (Synapse reports milliseconds);
	// 95th percentile of the time an event persister takes to persist a
	// batch sent by a worker (seconds).
	ReplicationBacklog       = 100
	EventProcessingLagMillis = 5 * 60 * 1000
	EventPersistSeconds      = 5

	// Postgres: replication lag of a standby (seconds) and share of
	// max_connections in use.
	ReplicationLagWarning    = 30
	ReplicationLagCritical   = 300
	ConnectionsWarning       = 0.8
	ConnectionsCritical      = 0.95
	DefaultBackupMaxAgeHours = 26 // a daily schedule plus slack

	// Volumes: free share of a PVC.
	VolumeFreeWarning  = 0.15
	VolumeFreeCritical = 0.05
)

// Volume is a group of PVCs that hold data (a media store, the Postgres
// data, MinIO drives), watched for filling up.
type Volume struct {
	// Alert prefixes the alert names ("SynapseMedia" → SynapseMediaVolumeFillingUp).
	Alert string
	// What the volumes are, for humans ("the local media store of synapse-media-repository").
	What string
	// Claims is a PromQL regular expression matching every PVC of the
	// group, and nothing else (e.g. "media-synapse-media-repository-[0-9]+").
	Claims string
}

// Input is what the rules and the dashboard are derived from.
type Input struct {
	Plan *plan.Plan
	// PostgresInstances is the CNPG Cluster's instance count: replication
	// alerts exist only with standbys.
	PostgresInstances int
	// Backups says whether the Cluster archives WAL and takes base backups
	// through the Barman Cloud plugin (postgres.backup.enabled): the backup
	// and archiving alerts exist only then.
	Backups bool
	// BackupMaxAgeHours is the age of the last successful base backup
	// that alerts (0: DefaultBackupMaxAgeHours).
	BackupMaxAgeHours int
	// Volumes are the PVC groups to watch.
	Volumes []Volume
}

// Rule is one alerting rule, as prometheus-operator's PrometheusRule
// spec.groups[].rules[] holds it.
type Rule struct {
	Alert       string            `json:"alert"`
	Expr        string            `json:"expr"`
	For         string            `json:"for,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Group is one rule group (evaluated together, at the Prometheus default
// interval).
type Group struct {
	Name  string `json:"name"`
	Rules []Rule `json:"rules"`
}

// RuleSpec is a PrometheusRule's spec.
type RuleSpec struct {
	Groups []Group `json:"groups"`
}

// Alerts are the rules of every group, in order.
func (s RuleSpec) Alerts() []Rule {
	var out []Rule
	for _, g := range s.Groups {
		out = append(out, g.Rules...)
	}
	return out
}

// Map is the spec as plain JSON data (for a Kubernetes custom resource).
func (s RuleSpec) Map() (map[string]any, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	return out, json.Unmarshal(b, &out)
}

// Rules builds the alerting rules of a stack.
func Rules(in Input) (RuleSpec, error) {
	b, err := newBuilder(in)
	if err != nil {
		return RuleSpec{}, err
	}
	spec := RuleSpec{Groups: []Group{
		{Name: "synapse-processes", Rules: b.processRules()},
		{Name: "synapse-replication", Rules: b.replicationRules()},
		{Name: "synapse-router", Rules: b.routerRules()},
		{Name: "synapse-postgres", Rules: b.postgresRules()},
	}}
	if vol := b.volumeRules(); len(vol) > 0 {
		spec.Groups = append(spec.Groups, Group{Name: "synapse-volumes", Rules: vol})
	}
	seen := map[string]bool{}
	for _, r := range spec.Alerts() {
		if seen[r.Alert] {
			return RuleSpec{}, fmt.Errorf("alerts: two rules are named %s", r.Alert)
		}
		seen[r.Alert] = true
	}
	return spec, nil
}

// builder holds the names every rule is written with.
type builder struct {
	in        Input
	ns        string
	jobs      []string // every Synapse pool (its Service name)
	named     []string // pools whose every instance is named in shared config
	balanced  []string // pools HAProxy balances over
	persist   []string // the processes that persist events
	router    string   // HAProxy's job (its Service name)
	backends  []string // every HAProxy backend
	fallback  []string // backends whose traffic main may take
	noFall    []string // backends nobody else serves
	pgPods    string   // regexp of the CNPG instance pods
	maxBackup int      // hours
}

var alertPrefix = regexp.MustCompile(`^[A-Z][A-Za-z0-9]*$`)

func newBuilder(in Input) (*builder, error) {
	p := in.Plan
	if p == nil {
		return nil, errors.New("alerts: Input.Plan is required")
	}
	if _, ok := p.Process(plan.RoleMain); !ok {
		return nil, errors.New("alerts: the plan has no main process")
	}
	if in.PostgresInstances < 1 {
		return nil, fmt.Errorf("alerts: Input.PostgresInstances is %d, want at least 1", in.PostgresInstances)
	}
	if in.BackupMaxAgeHours < 0 {
		return nil, fmt.Errorf("alerts: Input.BackupMaxAgeHours is %d, want 0 (default) or more", in.BackupMaxAgeHours)
	}
	for i, v := range in.Volumes {
		if !alertPrefix.MatchString(v.Alert) || v.Claims == "" || v.What == "" {
			return nil, fmt.Errorf("alerts: Input.Volumes[%d] needs an Alert prefix like SynapseMedia (got %q), What and Claims", i, v.Alert)
		}
		if _, err := regexp.Compile("^(?:" + v.Claims + ")$"); err != nil {
			return nil, fmt.Errorf("alerts: Input.Volumes[%d] (%s): Claims: %v", i, v.Alert, err)
		}
	}
	b := &builder{in: in, ns: p.Namespace, router: p.HAProxy().Name, pgPods: Series(plan.PostgresClusterName),
		maxBackup: in.BackupMaxAgeHours}
	if b.maxBackup == 0 {
		b.maxBackup = DefaultBackupMaxAgeHours
	}
	for _, proc := range p.Processes {
		b.jobs = append(b.jobs, proc.Name)
		if namedInSharedConfig(proc.Role) {
			b.named = append(b.named, proc.Name)
		} else {
			b.balanced = append(b.balanced, proc.Name)
		}
		if proc.Role == plan.RoleEventPersister {
			b.persist = append(b.persist, proc.Name)
		}
	}
	if len(b.persist) == 0 {
		b.persist = []string{p.Main().Name} // main writes the events stream
	}
	b.backends = append(b.backends, p.MainBackend)
	b.noFall = append(b.noFall, p.MainBackend)
	for _, be := range p.Backends {
		b.backends = append(b.backends, be.Name)
		if be.FallbackToMain {
			b.fallback = append(b.fallback, be.Name)
		} else {
			b.noFall = append(b.noFall, be.Name)
		}
	}
	return b, nil
}

// namedInSharedConfig: every instance of the role is named in Synapse's
// shared config (instance_map, stream_writers, federation_sender_instances,
// pusher_instances, run_background_tasks_on) and owns a share of the work
// nobody else takes over; the other pools are interchangeable instances
// behind HAProxy.
func namedInSharedConfig(r plan.Role) bool {
	switch r {
	case plan.RoleMain, plan.RoleEventPersister, plan.RoleFederationSender, plan.RolePusher, plan.RoleBackground:
		return true
	}
	return r.IsStreamWriter()
}

func rule(name, severity, forDuration, expr, summary, description, runbook string) Rule {
	return Rule{
		Alert:  name,
		Expr:   expr,
		For:    forDuration,
		Labels: map[string]string{"severity": severity},
		Annotations: map[string]string{
			"summary":     summary,
			"description": description,
			"runbook":     runbook,
		},
	}
}

func num(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func pct(v float64) string { return num(v*100) + "%" }

// kubectl is a command hint for the stack's namespace.
func (b *builder) kubectl(args string) string { return "kubectl -n " + b.ns + " " + args }

// --- Synapse processes -----------------------------------------------------

func (b *builder) up(jobs ...string) string {
	return sel(mUp, eq("namespace", b.ns), oneOf("job", jobs...))
}

func (b *builder) processRules() []Rule {
	podHint := b.kubectl("describe pod {{ $labels.pod }}") + "; " + b.kubectl("logs {{ $labels.pod }} --previous")
	rules := []Rule{rule("SynapseProcessDown", SeverityCritical, "3m",
		b.up(b.named...)+" == 0",
		"Synapse {{ $labels.pod }} ({{ $labels.job }}) is down",
		"Prometheus cannot scrape {{ $labels.pod }}. Every instance of {{ $labels.job }} is named in Synapse's shared "+
			"config (instance_map, stream_writers, federation or pusher instances), so the work it owns (its rooms' "+
			"events, its stream, its destinations) waits until it is back.",
		podHint)}
	if len(b.balanced) > 0 {
		rules = append(rules,
			rule("SynapseWorkerDown", SeverityWarning, "5m",
				b.up(b.balanced...)+" == 0",
				"Synapse worker {{ $labels.pod }} ({{ $labels.job }}) is down",
				"Prometheus cannot scrape {{ $labels.pod }}. HAProxy sends its share to the pool's other instances "+
					"(or to main); the pool runs with less capacity.",
				podHint),
			rule("SynapsePoolDown", SeverityCritical, "2m",
				"sum by (job) ("+b.up(b.balanced...)+") == 0",
				"Every instance of Synapse pool {{ $labels.job }} is down",
				"No instance of {{ $labels.job }} answers. HAProxy falls back to main for the endpoints main can "+
					"serve; media has no fallback and fails.",
				b.kubectl("get pods -l app.kubernetes.io/name={{ $labels.job }}")))
	}
	var absent []string
	for _, j := range b.jobs {
		absent = append(absent, "absent("+sel(mUp, eq("namespace", b.ns), eq("job", j))+")")
	}
	rules = append(rules, rule("SynapseTargetsMissing", SeverityCritical, "10m",
		strings.Join(absent, " or "),
		"Prometheus scrapes no instance of Synapse pool {{ $labels.job }}",
		"No target of {{ $labels.job }} is discovered: its pods, its Service or its ServiceMonitor are gone, or "+
			"Prometheus does not select the ServiceMonitor (serviceMonitorSelector, serviceMonitorNamespaceSelector).",
		b.kubectl("get pods,svc,servicemonitor -l app.kubernetes.io/name={{ $labels.job }}")))
	return rules
}

// --- Synapse replication and the events stream -----------------------------

func (b *builder) synapse(metric string, extra ...matcher) string {
	return sel(metric, append([]matcher{eq("namespace", b.ns), oneOf("job", b.jobs...)}, extra...)...)
}

func (b *builder) replicationRules() []Rule {
	persisted := sel(mEventPersistedPos, eq("namespace", b.ns), oneOf("job", b.persist...))
	positions := b.synapse(mEventProcessingPos)
	persistTime := sel(mHTTPResponseTime, eq("namespace", b.ns), oneOf("job", b.persist...),
		oneOf("servlet", "ReplicationSendEventRestServlet", "ReplicationSendEventsRestServlet"))
	return []Rule{
		rule("SynapseReplicationDisconnected", SeverityCritical, "5m",
			b.synapse(mReplicationConns)+" == 0",
			"Synapse {{ $labels.pod }} has no replication connection",
			"{{ $labels.pod }} is not connected to Redis: it neither hears of other processes' writes (stale "+
				"caches, no notifications) nor tells them of its own.",
			b.kubectl("logs {{ $labels.pod }} | grep -i redis")+"; check the "+plan.RedisName+" pod and the NetworkPolicies"),
		rule("SynapseReplicationBacklog", SeverityWarning, "10m",
			"max by (job, pod, stream_name) ("+b.synapse(mReplicationQueue)+") > "+num(ReplicationBacklog),
			"Synapse {{ $labels.pod }} lags on replication stream {{ $labels.stream_name }}",
			"{{ $value }} replication commands of stream {{ $labels.stream_name }} wait to be processed on "+
				"{{ $labels.pod }}: it serves stale data. A CPU-starved or overloaded process is the usual cause.",
			b.kubectl("top pod {{ $labels.pod }}")),
		rule("SynapseEventStreamStalled", SeverityCritical, "5m",
			"(max("+persisted+") - on() group_right() max by (job, name) ("+positions+")) > 0\n"+
				"and on (job, name) max by (job, name) (changes("+rng(positions, "15m")+")) == 0",
			"{{ $labels.name }} on {{ $labels.job }} has stopped following the events stream",
			"The events stream is persisted up to a position {{ $value }} ahead of where {{ $labels.name }} "+
				"(federation sending, appservices, pushers, stats…) stands, and it has not moved for 15 minutes: "+
				"a stuck process, or a gap in the stream left by an event persister that does not advance.",
			b.kubectl("logs -l app.kubernetes.io/name={{ $labels.job }} --tail=200")+"; check the event persisters"),
		rule("SynapseEventProcessingLag", SeverityWarning, "15m",
			"max by (job, name) ("+b.synapse(mEventProcessingLag)+") > "+num(EventProcessingLagMillis),
			"{{ $labels.name }} on {{ $labels.job }} processes events minutes late",
			"The last event {{ $labels.name }} handled had been received {{ $value | humanize }} ms (Synapse "+
				"reports milliseconds) earlier: outgoing federation or appservice traffic lags.",
			"Scale the pool that runs it, or look for slow remote servers in its logs"),
		rule("SynapseEventPersistenceSlow", SeverityWarning, "10m",
			"histogram_quantile(0.95, sum by (job, le) (rate("+rng(persistTime, "5m")+"))) > "+num(EventPersistSeconds),
			"Event persister {{ $labels.job }} takes {{ $value | humanizeDuration }} to persist events",
			"95% of the event batches workers send to {{ $labels.job }} take longer than "+num(EventPersistSeconds)+
				" s to persist: every message send waits that long. Look at Postgres (locks, connections, disk) first.",
			b.kubectl("logs -l app.kubernetes.io/name={{ $labels.job }} --tail=200")),
	}
}

// --- HAProxy ---------------------------------------------------------------

func (b *builder) haproxy(metric string, backends []string, extra ...matcher) string {
	return sel(metric, append([]matcher{eq("namespace", b.ns), eq("job", b.router), oneOf("proxy", backends...)}, extra...)...)
}

func (b *builder) routerRules() []Rule {
	upRouter := sel(mUp, eq("namespace", b.ns), eq("job", b.router))
	rate5xx := func(threshold float64) string {
		all := b.haproxy(mHAProxyResponses, b.backends)
		errs := b.haproxy(mHAProxyResponses, b.backends, eq("code", "5xx"))
		return "(sum by (proxy) (rate(" + rng(errs, "5m") + ")) / sum by (proxy) (rate(" + rng(all, "5m") + ")) > " + num(threshold) + ")\n" +
			"and sum by (proxy) (rate(" + rng(all, "5m") + ")) > " + num(backendMinRate)
	}
	logs := b.kubectl("logs deploy/" + b.router + " | grep '{{ $labels.proxy }}'")
	rules := []Rule{
		rule("HAProxyDown", SeverityCritical, "2m",
			"sum("+upRouter+") == 0 or absent("+upRouter+")",
			"No HAProxy replica answers",
			"Nothing routes client or federation traffic to Synapse.",
			b.kubectl("get pods -l app.kubernetes.io/name="+b.router)),
		rule("HAProxyReplicaDown", SeverityWarning, "5m",
			upRouter+" == 0",
			"HAProxy replica {{ $labels.pod }} is down",
			"The other replicas carry its traffic.",
			b.kubectl("describe pod {{ $labels.pod }}")),
		rule("HAProxyBackendDown", SeverityCritical, "1m",
			"max by (proxy) ("+b.haproxy(mHAProxyActive, b.noFall)+") == 0",
			"HAProxy backend {{ $labels.proxy }} has no server up",
			"No process serves {{ $labels.proxy }} and nothing can take over: its requests fail with 503.",
			logs),
		rule("HAProxyBackend5xxHigh", SeverityWarning, "10m",
			rate5xx(Backend5xxWarning),
			"HAProxy backend {{ $labels.proxy }} answers "+pct(Backend5xxWarning)+"+ with 5xx",
			"{{ $value | humanizePercentage }} of the responses of {{ $labels.proxy }} are server errors.",
			logs),
		rule("HAProxyBackend5xxCritical", SeverityCritical, "5m",
			rate5xx(Backend5xxCritical),
			"HAProxy backend {{ $labels.proxy }} answers "+pct(Backend5xxCritical)+"+ with 5xx",
			"{{ $value | humanizePercentage }} of the responses of {{ $labels.proxy }} are server errors.",
			logs),
	}
	if len(b.fallback) > 0 {
		rules = append(rules, rule("HAProxyBackendOnFallback", SeverityWarning, "5m",
			"max by (proxy) ("+b.haproxy(mHAProxyActive, b.fallback)+") == 0",
			"HAProxy backend {{ $labels.proxy }} runs on main",
			"No worker of {{ $labels.proxy }} is up: main (its backup server) serves its requests on top of its own.",
			logs))
	}
	return rules
}

// --- Postgres --------------------------------------------------------------

func (b *builder) pg(metric string, extra ...matcher) string {
	return sel(metric, append([]matcher{eq("namespace", b.ns), re("pod", b.pgPods)}, extra...)...)
}

func (b *builder) postgresRules() []Rule {
	n := b.in.PostgresInstances
	cluster := plan.PostgresClusterName
	status := b.kubectl("get cluster "+cluster+" -o yaml") + " (or kubectl cnpg status " + cluster + " -n " + b.ns + ")"
	connections := "sum by (pod) (" + b.pg(mCNPGBackends) + ")\n/ on (pod) max by (pod) (" + b.pg(mCNPGSettings, eq("name", "max_connections")) + ")"
	rules := []Rule{
		rule("PostgresUnavailable", SeverityCritical, "2m",
			"absent("+b.pg(mCNPGUp)+" == 1)",
			"No Postgres instance of "+cluster+" is up",
			"Synapse cannot read or write anything. Also fires when Prometheus scrapes no instance (the Cluster's PodMonitor).",
			status),
		rule("PostgresInstanceDown", SeverityWarning, "2m",
			b.pg(mCNPGUp)+" == 0",
			"Postgres instance {{ $labels.pod }} is down",
			"The instance manager of {{ $labels.pod }} cannot reach PostgreSQL.",
			b.kubectl("logs {{ $labels.pod }}")),
		rule("PostgresConnectionsHigh", SeverityWarning, "10m",
			connections+" > "+num(ConnectionsWarning),
			"Postgres {{ $labels.pod }} uses {{ $value | humanizePercentage }} of max_connections",
			"max_connections is sized for every Synapse process at its maximum replicas; this much use means "+
				"connections leak or something else connects.",
			b.kubectl("exec {{ $labels.pod }} -- psql -c 'select usename, application_name, state, count(*) from pg_stat_activity group by 1,2,3'")),
		rule("PostgresConnectionsExhausted", SeverityCritical, "5m",
			connections+" > "+num(ConnectionsCritical),
			"Postgres {{ $labels.pod }} is out of connections",
			"New Synapse connections are refused ({{ $value | humanizePercentage }} of max_connections in use).",
			b.kubectl("exec {{ $labels.pod }} -- psql -c 'select usename, application_name, state, count(*) from pg_stat_activity group by 1,2,3'")),
	}
	if n > 1 {
		lag := "max by (pod) (" + b.pg(mCNPGReplicationLag) + ")"
		rules = append(rules,
			rule("PostgresInstancesMissing", SeverityWarning, "10m",
				"count("+b.pg(mCNPGUp)+" == 1) < "+strconv.Itoa(n),
				"Only {{ $value }} of "+strconv.Itoa(n)+" Postgres instances are up",
				"A standby is missing: a failover would have fewer candidates, or none.",
				status),
			rule("PostgresReplicationLag", SeverityWarning, "5m",
				lag+" > "+num(ReplicationLagWarning),
				"Postgres standby {{ $labels.pod }} is {{ $value | humanizeDuration }} behind",
				"A failover to {{ $labels.pod }} now would lose the last {{ $value | humanizeDuration }} of writes.",
				status),
			rule("PostgresReplicationLagCritical", SeverityCritical, "5m",
				lag+" > "+num(ReplicationLagCritical),
				"Postgres standby {{ $labels.pod }} is {{ $value | humanizeDuration }} behind",
				"{{ $labels.pod }} replays WAL far behind the primary: check its disk and network.",
				status),
			rule("PostgresStandbyNotStreaming", SeverityWarning, "10m",
				"max("+b.pg(mCNPGStreaming)+" and on (pod) ("+b.pg(mCNPGInRecovery)+" == 0)) < "+strconv.Itoa(n-1),
				"The Postgres primary streams to {{ $value }} of "+strconv.Itoa(n-1)+" standbys",
				"A standby is not connected to the primary and falls further behind.",
				status))
	}
	if b.in.Backups {
		rules = append(rules,
			rule("PostgresBackupFailed", SeverityCritical, "5m",
				"max("+b.pg(mBarmanLastFailed)+") > max("+b.pg(mBarmanLastBackup)+")",
				"The last Postgres base backup of "+cluster+" failed",
				"The most recent base backup attempt failed after the last successful one.",
				b.kubectl("get backups.postgresql.cnpg.io")+"; "+b.kubectl("describe backup <the failed one>")),
			rule("PostgresBackupTooOld", SeverityWarning, "1h",
				"time() - max("+b.pg(mBarmanLastBackup)+") > "+strconv.Itoa(b.maxBackup*3600),
				"No successful Postgres base backup of "+cluster+" in "+strconv.Itoa(b.maxBackup)+" hours",
				"The last successful base backup is {{ $value | humanizeDuration }} old: a restore would replay "+
					"that much WAL, if the WAL is there.",
				b.kubectl("get scheduledbackups.postgresql.cnpg.io,backups.postgresql.cnpg.io")),
			rule("PostgresBackupMetricsMissing", SeverityWarning, "1h",
				"absent("+b.pg(mBarmanLastBackup)+")",
				"The Barman Cloud plugin reports nothing for "+cluster,
				"Backups are configured but no instance exports the plugin's backup metrics: the plugin sidecar "+
					"is missing or cannot read its ObjectStore.",
				b.kubectl("describe pods -l cnpg.io/cluster="+cluster+" | grep -i barman")),
			rule("PostgresWALArchivingFailing", SeverityCritical, "10m",
				"max by (pod) ("+b.pg(mCNPGArchiveFailTime)+") > max by (pod) ("+b.pg(mCNPGArchivedTime)+")",
				"Postgres {{ $labels.pod }} fails to archive WAL",
				"The last WAL archiving attempt failed after the last success: point-in-time recovery stops at the "+
					"last archived segment, and pg_wal grows until the volume is full.",
				b.kubectl("logs {{ $labels.pod }} | grep -i archive")))
	}
	return rules
}

// --- Volumes ---------------------------------------------------------------

func (b *builder) volumeRules() []Rule {
	var rules []Rule
	for _, v := range b.in.Volumes {
		m := []matcher{eq("namespace", b.ns), re("persistentvolumeclaim", v.Claims)}
		avail := sel(mVolumeAvailable, m...)
		free := "max by (namespace, persistentvolumeclaim) (" + avail + ")\n/ max by (namespace, persistentvolumeclaim) (" + sel(mVolumeCapacity, m...) + ")"
		hint := b.kubectl("get pvc {{ $labels.persistentvolumeclaim }}") + ": grow it (if the StorageClass allows expansion) or free space"
		rules = append(rules,
			rule(v.Alert+"VolumeFillingUp", SeverityWarning, "15m",
				free+" < "+num(VolumeFreeWarning),
				"Volume {{ $labels.persistentvolumeclaim }} has {{ $value | humanizePercentage }} free",
				"{{ $labels.persistentvolumeclaim }} holds "+v.What+".",
				hint),
			rule(v.Alert+"VolumeAlmostFull", SeverityCritical, "5m",
				free+" < "+num(VolumeFreeCritical),
				"Volume {{ $labels.persistentvolumeclaim }} is almost full ({{ $value | humanizePercentage }} free)",
				"{{ $labels.persistentvolumeclaim }} holds "+v.What+"; writes fail once it is full.",
				hint),
			rule(v.Alert+"VolumeFullIn24h", SeverityWarning, "1h",
				"("+free+") < 0.4\nand max by (namespace, persistentvolumeclaim) (predict_linear("+rng(avail, "6h")+", 24 * 3600)) < 0",
				"Volume {{ $labels.persistentvolumeclaim }} fills up within a day at the current rate",
				"{{ $labels.persistentvolumeclaim }} holds "+v.What+"; the last 6 hours' growth fills it within 24 hours.",
				hint))
	}
	return rules
}
