package alerts

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"

	"synapse/plan"
)

// DashboardLabel is the label Grafana's dashboard sidecar (kiwigrid
// k8s-sidecar, as kube-prometheus-stack and the Grafana chart run it)
// watches ConfigMaps for, with DashboardLabelValue.
const (
	DashboardLabel      = "grafana_dashboard"
	DashboardLabelValue = "1"
)

// DashboardFile is the ConfigMap key of a namespace's dashboard. The
// sidecar writes every key as a file of that name into one folder, whatever
// the namespace, and deletes the file when a ConfigMap holding that key is
// deleted (kiwigrid/k8s-sidecar#44): two stacks in one cluster need two
// names.
func DashboardFile(namespace string) string { return "synapse-" + namespace + ".json" }

// Grafana's dashboard JSON model (the part this dashboard uses).
type (
	Dashboard struct {
		UID           string     `json:"uid"`
		Title         string     `json:"title"`
		Description   string     `json:"description"`
		Tags          []string   `json:"tags"`
		Timezone      string     `json:"timezone"`
		SchemaVersion int        `json:"schemaVersion"`
		Editable      bool       `json:"editable"`
		Refresh       string     `json:"refresh"`
		Time          TimeRange  `json:"time"`
		Templating    Templating `json:"templating"`
		Panels        []Panel    `json:"panels"`
	}
	TimeRange struct {
		From string `json:"from"`
		To   string `json:"to"`
	}
	Templating struct {
		List []Variable `json:"list"`
	}
	// Variable is a dashboard variable; the only one is the Prometheus
	// data source, so the dashboard works whatever the data source is named.
	Variable struct {
		Name  string `json:"name"`
		Label string `json:"label"`
		Type  string `json:"type"`
		Query string `json:"query"`
	}
	Panel struct {
		ID          int            `json:"id"`
		Type        string         `json:"type"` // "row" or "timeseries"
		Title       string         `json:"title"`
		Description string         `json:"description,omitempty"`
		GridPos     GridPos        `json:"gridPos"`
		Datasource  *DataSourceRef `json:"datasource,omitempty"`
		Targets     []Target       `json:"targets,omitempty"`
		FieldConfig *FieldConfig   `json:"fieldConfig,omitempty"`
	}
	GridPos struct {
		H int `json:"h"`
		W int `json:"w"`
		X int `json:"x"`
		Y int `json:"y"`
	}
	DataSourceRef struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	}
	Target struct {
		RefID        string         `json:"refId"`
		Datasource   *DataSourceRef `json:"datasource"`
		Expr         string         `json:"expr"`
		LegendFormat string         `json:"legendFormat"`
	}
	FieldConfig struct {
		Defaults  FieldDefaults `json:"defaults"`
		Overrides []any         `json:"overrides"`
	}
	FieldDefaults struct {
		Unit string   `json:"unit,omitempty"`
		Min  *float64 `json:"min,omitempty"`
		Max  *float64 `json:"max,omitempty"`
	}
)

// Exprs are the PromQL expressions of every panel, in order.
func (d Dashboard) Exprs() []string {
	var out []string
	for _, p := range d.Panels {
		for _, t := range p.Targets {
			out = append(out, t.Expr)
		}
	}
	return out
}

// JSON is the dashboard as Grafana imports it.
func (d Dashboard) JSON() (string, error) {
	b, err := json.MarshalIndent(d, "", "  ")
	return string(b), err
}

var datasource = &DataSourceRef{Type: "prometheus", UID: "${datasource}"}

// panelQuery is one query of a panel and its legend.
type panelQuery struct{ expr, legend string }

// layout places rows full width and panels two per line.
type layout struct {
	panels []Panel
	x, y   int
}

func (l *layout) row(title string) {
	if l.x > 0 {
		l.x, l.y = 0, l.y+8
	}
	l.panels = append(l.panels, Panel{ID: len(l.panels) + 1, Type: "row", Title: title, GridPos: GridPos{H: 1, W: 24, X: 0, Y: l.y}})
	l.y++
}

func (l *layout) panel(title, description, unit string, queries ...panelQuery) {
	p := Panel{ID: len(l.panels) + 1, Type: "timeseries", Title: title, Description: description,
		GridPos: GridPos{H: 8, W: 12, X: l.x, Y: l.y}, Datasource: datasource,
		FieldConfig: &FieldConfig{Defaults: FieldDefaults{Unit: unit}, Overrides: []any{}}}
	for i, q := range queries {
		p.Targets = append(p.Targets, Target{RefID: string(rune('A' + i)), Datasource: datasource, Expr: q.expr, LegendFormat: q.legend})
	}
	if unit == "percentunit" {
		zero, one := 0.0, 1.0
		p.FieldConfig.Defaults.Min, p.FieldConfig.Defaults.Max = &zero, &one
	}
	l.panels = append(l.panels, p)
	if l.x == 0 {
		l.x = 12
	} else {
		l.x, l.y = 0, l.y+8
	}
}

// BuildDashboard builds the Grafana dashboard of a stack.
func BuildDashboard(in Input) (Dashboard, error) {
	b, err := newBuilder(in)
	if err != nil {
		return Dashboard{}, err
	}
	l := &layout{}

	l.row("Router (HAProxy " + b.router + ")")
	l.panel("Requests per backend", "HTTP requests HAProxy sent to each backend.", "reqps",
		panelQuery{"sum by (proxy) (rate(" + rng(b.haproxy(mHAProxyRequests, b.backends), "5m") + "))", "{{proxy}}"})
	l.panel("5xx share per backend", "Share of each backend's responses that are server errors (alerts at "+
		pct(Backend5xxWarning)+" and "+pct(Backend5xxCritical)+").", "percentunit",
		panelQuery{"sum by (proxy) (rate(" + rng(b.haproxy(mHAProxyResponses, b.backends, eq("code", "5xx")), "5m") + "))\n/ sum by (proxy) (rate(" +
			rng(b.haproxy(mHAProxyResponses, b.backends), "5m") + "))", "{{proxy}}"})
	l.panel("Response time per backend", "Average over each backend's last 1024 responses, slowest HAProxy replica. "+
		"Long polls (/sync, /events) take up to their timeout by design.", "s",
		panelQuery{"max by (proxy) (" + b.haproxy(mHAProxyResponseTime, b.backends) + ")", "{{proxy}}"})
	l.panel("Servers up per backend", "Servers each backend can use (backup servers, i.e. main, not counted); least of the HAProxy replicas.", "short",
		panelQuery{"min by (proxy) (" + b.haproxy(mHAProxyActive, b.backends) + ")", "{{proxy}}"},
		panelQuery{"sum by (proxy) (" + b.haproxy(mHAProxyQueue, b.backends) + ")", "queued {{proxy}}"})

	l.row("Synapse processes")
	l.panel("Instances up per pool", "Scrape targets up, per pool (the ServiceMonitor's job is the pool's Service).", "short",
		panelQuery{"sum by (job) (" + b.up(b.jobs...) + ")", "{{job}}"})
	l.panel("HTTP response time (p95) per pool", "", "s",
		panelQuery{"histogram_quantile(0.95, sum by (job, le) (rate(" + rng(b.synapse(mHTTPResponseTime), "5m") + ")))", "{{job}}"})
	l.panel("CPU per process", "CPU seconds per second of each Synapse process (pod).", "short",
		panelQuery{"sum by (pod) (rate(" + rng(b.synapse(mProcessCPU), "5m") + "))", "{{pod}}"})
	l.panel("Memory per process", "Resident memory of each Synapse process (pod).", "bytes",
		panelQuery{"sum by (pod) (" + b.synapse(mProcessMemory) + ")", "{{pod}}"})

	l.row("Events and replication")
	persisters := []matcher{eq("namespace", b.ns), oneOf("job", b.persist...)}
	l.panel("Events persisted", "Events written per second by each event persister.", "ops",
		panelQuery{"sum by (pod) (rate(" + rng(sel(mEventsPersisted, persisters...), "5m") + "))", "{{pod}}"})
	l.panel("Events stream positions", "Where the events stream is persisted up to, and where each consumer stands: "+
		"a consumer that stops following it shows as a growing gap.", "short",
		panelQuery{"max(" + sel(mEventPersistedPos, persisters...) + ")", "persisted"},
		panelQuery{"max by (name) (" + b.synapse(mEventProcessingPos) + ")", "{{name}}"})
	l.panel("Event processing lag", "Time between an event's arrival and its handling by each consumer.", "ms",
		panelQuery{"max by (name) (" + b.synapse(mEventProcessingLag) + ")", "{{name}}"})
	l.panel("Replication stream updates", "Rows each stream's writers publish per second.", "ops",
		panelQuery{"sum by (stream_name) (rate(" + rng(b.synapse(mStreamUpdates), "5m") + "))", "{{stream_name}}"})
	l.panel("Replication commands waiting", "Replication commands queued, per stream, on the slowest process.", "short",
		panelQuery{"max by (stream_name) (" + b.synapse(mReplicationQueue) + ")", "{{stream_name}}"})
	if b.in.Plan.Federation {
		l.panel("Federation transactions sent", "", "ops",
			panelQuery{"sum by (pod) (rate(" + rng(b.synapse(mFederationSentTxns), "5m") + "))", "{{pod}}"})
	}

	l.row("Postgres (CNPG " + plan.PostgresClusterName + ")")
	l.panel("Connections", "Backends per instance against max_connections (sized for every Synapse process at its maximum).", "short",
		panelQuery{"sum by (pod) (" + b.pg(mCNPGBackends) + ")", "{{pod}}"},
		panelQuery{"max(" + b.pg(mCNPGSettings, eq("name", "max_connections")) + ")", "max_connections"})
	l.panel("Replication lag", "Seconds each standby is behind the primary.", "s",
		panelQuery{"max by (pod) (" + b.pg(mCNPGReplicationLag) + ")", "{{pod}}"})
	if b.in.Backups {
		l.panel("Age of the last base backup", "", "s",
			panelQuery{"time() - max(" + b.pg(mBarmanLastBackup) + ")", "last backup"},
			panelQuery{"time() - max(" + b.pg(mBarmanRecoverability) + ")", "recovery window"})
	}

	if len(b.in.Volumes) > 0 {
		var claims []string
		for _, v := range b.in.Volumes {
			claims = append(claims, v.Claims)
		}
		m := []matcher{eq("namespace", b.ns), re("persistentvolumeclaim", strings.Join(claims, "|"))}
		l.row("Volumes")
		l.panel("Volume usage", "Used share of every volume that holds data (alerts below "+pct(VolumeFreeWarning)+
			" and "+pct(VolumeFreeCritical)+" free).", "percentunit",
			panelQuery{"1 - max by (persistentvolumeclaim) (" + sel(mVolumeAvailable, m...) + ")\n/ max by (persistentvolumeclaim) (" +
				sel(mVolumeCapacity, m...) + ")", "{{persistentvolumeclaim}}"})
	}

	return Dashboard{
		UID:   dashboardUID(b.ns),
		Title: "Matrix Synapse (" + b.ns + ")",
		Description: "Generated by the Pulumi program from the stack's plan: HAProxy backends, Synapse pools, " +
			"CNPG and volumes of namespace " + b.ns + ".",
		Tags:          []string{"matrix", "synapse"},
		Timezone:      "browser",
		SchemaVersion: 39,
		Refresh:       "1m",
		Time:          TimeRange{From: "now-6h", To: "now"},
		Templating: Templating{List: []Variable{
			{Name: "datasource", Label: "Data source", Type: "datasource", Query: "prometheus"},
		}},
		Panels: l.panels,
	}, nil
}

// dashboardUID is stable per namespace and within Grafana's 40 characters.
func dashboardUID(ns string) string {
	uid := "synapse-" + ns
	if len(uid) <= 40 {
		return uid
	}
	sum := sha256.Sum256([]byte(ns))
	return "synapse-" + hex.EncodeToString(sum[:])[:16]
}
