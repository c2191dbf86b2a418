package plan

import (
	"fmt"
	"sort"

	"synapse/config"
)

// Ports every Synapse process listens on. They are named so that Services,
// probes, HAProxy SRV lookups (_http._tcp.<service>) and NetworkPolicies
// refer to them by name.
const (
	PortNameHTTP        = "http"
	PortNameReplication = "replication"
	PortNameMetrics     = "metrics"

	PortHTTP        = 8008
	PortReplication = 9093
	PortMetrics     = 9090

	HealthPath  = "/health"
	MetricsPath = "/_synapse/metrics"
)

// Kind is the Kubernetes workload kind of a process pool.
type Kind string

// Workload kinds.
const (
	Deployment  Kind = "Deployment"
	StatefulSet Kind = "StatefulSet"
)

// Port is a named container port.
type Port struct {
	Name string
	Port int
}

// Listener is one Synapse listener of a process.
type Listener struct {
	Port       int
	Type       string   // "http" or "metrics"
	Resources  []string // http listeners only
	XForwarded bool     // behind HAProxy: trust X-Forwarded-For
}

// Process is one pool of identical Synapse processes: a workload and its
// headless Service.
type Process struct {
	Role      Role
	Pool      config.Pool
	Name      string // workload and headless Service name
	Kind      Kind
	App       string
	Image     string
	Replicas  int
	Autoscale *config.Autoscale
	Resources config.Resources
	Ports     []Port
	Listeners []Listener
	Streams   []string
	// InInstanceMap: every instance is in instance_map (replication listener).
	InInstanceMap  bool
	FallbackToMain bool
	// ServesHTTP: HAProxy routes requests to it.
	ServesHTTP bool
	// ViaService: HAProxy reaches it through its ClusterIP Service (one
	// server; kube-proxy spreads), not pod by pod: a stateless service
	// where no request needs a particular pod (MAS).
	ViaService bool
	// HealthPath is what HAProxy's checks fetch ("" = HealthPath,
	// Synapse's and MAS's).
	HealthPath string
	Namespace  string
}

// Health is the path that answers 200 while the process serves.
func (p Process) Health() string {
	if p.HealthPath != "" {
		return p.HealthPath
	}
	return HealthPath
}

// MaxReplicas is the most instances the pool can run.
func (p Process) MaxReplicas() int {
	return config.PoolSize{Replicas: p.Replicas, Autoscale: p.Autoscale}.MaxReplicas()
}

// InstanceName is the worker name (and pod name) of ordinal i of a
// StatefulSet pool. The main process is "main" in instance_map and
// "master" in stream_writers; see StreamWriterName.
func (p Process) InstanceName(i int) string {
	return fmt.Sprintf("%s-%d", p.Name, i)
}

// InstanceNames are the worker names of every configured instance of a
// StatefulSet pool.
func (p Process) InstanceNames() []string {
	names := make([]string, p.Replicas)
	for i := range names {
		names[i] = p.InstanceName(i)
	}
	return names
}

// Host is the stable DNS name of ordinal i: <pod>.<headless service>.
func (p Process) Host(i int) string {
	return fmt.Sprintf("%s.%s.%s.svc.cluster.local", p.InstanceName(i), p.Name, p.Namespace)
}

// SRV is the DNS SRV name of the pool's HTTP port (HAProxy discovery).
func (p Process) SRV() string {
	return fmt.Sprintf("_%s._tcp.%s.%s.svc.cluster.local", PortNameHTTP, p.Name, p.Namespace)
}

// Port returns the named port's number; it panics on a name the process
// does not have, which is a programming error caught by tests.
func (p Process) Port(name string) int {
	for _, port := range p.Ports {
		if port.Name == name {
			return port.Port
		}
	}
	panic(fmt.Sprintf("plan: process %s has no port %q", p.Name, name))
}

// HasPort says whether the process has the named port.
func (p Process) HasPort(name string) bool {
	for _, port := range p.Ports {
		if port.Name == name {
			return true
		}
	}
	return false
}

// InstanceMapEntry is one instance_map member.
type InstanceMapEntry struct {
	Name string // "main" for the main process
	Host string
	Port int
}

// Backend is an HAProxy backend: a pool (or one instance of it) and how
// requests are spread over it.
type Backend struct {
	Name    string // HAProxy backend name
	Process string // Process.Name it sends to
	Balance Balance
	// Ordinal >= 0 pins the backend to one instance of a StatefulSet pool
	// (media-0 writes quarantined_media_changes); -1: every instance.
	Ordinal        int
	FallbackToMain bool
}

// Condition narrows a route beyond method and path.
type Condition string

// Route conditions.
const (
	Always Condition = ""
	// InitialSync: a sync request without a `since` token (a full sync),
	// sent to the initial-sync pool when one exists.
	InitialSync Condition = "initial-sync"
)

// Route sends requests that match Pattern (and Methods, when set) to a
// backend. Routes are first-match; anything unmatched goes to main.
type Route struct {
	Pattern   string
	Methods   []string
	Condition Condition
	Backend   string
}

// Plan is every Synapse process of a stack and everything derived from them.
type Plan struct {
	Namespace  string
	Federation bool
	Processes  []Process // main first, then in start-up order
	// Services are HTTP services other than Synapse that HAProxy routes
	// to (MAS): no instance_map, no worker file, no Synapse connections.
	Services []Process
	// InstanceMap: main and every replication-listening instance, sorted.
	InstanceMap []InstanceMapEntry
	// StreamWriters: stream → writer names ("master" for main), only for
	// streams that a worker writes.
	StreamWriters map[string][]string
	// FederationSenders: worker names of the federation senders.
	FederationSenders []string
	Pushers           []string
	// BackgroundWorker: run_background_tasks_on and friends ("" = main).
	BackgroundWorker string
	// MediaBackgroundWorker: media_instance_running_background_jobs.
	MediaBackgroundWorker string
	Backends              []Backend
	Routes                []Route
	// HostRoutes go before Routes: a host of its own that reaches HAProxy.
	HostRoutes   []HostRoute
	MainBackend  string
	DatabasePool config.DatabasePool
}

// MainName is the name of the main process's workload and Service.
const MainName = "synapse-main"

// Names in shared config.
const (
	InstanceMapMain  = "main"   // the main process in instance_map
	StreamWriterMain = "master" // the main process in stream_writers lists
)

// Build derives the plan from a validated config.
func Build(c *config.Config) *Plan {
	p := &Plan{
		Namespace:     c.Namespace,
		Federation:    c.Federation.Enabled,
		StreamWriters: map[string][]string{},
		DatabasePool:  c.DatabasePool,
		MainBackend:   string(RoleMain),
	}
	specs := append([]RoleSpec{}, Catalogue[:2]...) // main, event persisters
	for _, s := range config.Streams {
		if c.StreamWriters[s.Name] > 0 {
			specs = append(specs, writerSpec(s))
		}
	}
	specs = append(specs, Catalogue[2:]...)

	for _, spec := range specs {
		size := c.Pools[spec.Pool]
		replicas := size.Replicas
		if spec.Role.IsStreamWriter() {
			replicas = c.StreamWriters[spec.Streams[0]]
		}
		if replicas == 0 {
			continue // the pool is off: main does its job
		}
		proc := newProcess(c, spec, size, replicas)
		p.Processes = append(p.Processes, proc)
	}

	for _, proc := range p.Processes {
		if proc.InInstanceMap {
			if proc.Role == RoleMain {
				p.InstanceMap = append(p.InstanceMap, InstanceMapEntry{Name: InstanceMapMain, Host: proc.Host(0), Port: PortReplication})
				continue
			}
			n := proc.Replicas
			if proc.Role == RoleMediaRepository {
				n = 1 // only media-0 writes; the rest scale freely
			}
			for i := 0; i < n; i++ {
				p.InstanceMap = append(p.InstanceMap, InstanceMapEntry{Name: proc.InstanceName(i), Host: proc.Host(i), Port: PortReplication})
			}
		}
		switch proc.Role {
		case RoleEventPersister:
			p.StreamWriters["events"] = proc.InstanceNames()
		case RoleMediaRepository:
			// Main stays a writer: it runs the stream's background update.
			p.StreamWriters["quarantined_media_changes"] = []string{StreamWriterMain, proc.InstanceName(0)}
			p.MediaBackgroundWorker = proc.InstanceName(0)
		case RoleFederationSender:
			p.FederationSenders = proc.InstanceNames()
		case RolePusher:
			p.Pushers = proc.InstanceNames()
		case RoleBackground:
			p.BackgroundWorker = proc.InstanceName(0)
		}
		if proc.Role.IsStreamWriter() {
			p.StreamWriters[proc.Streams[0]] = proc.InstanceNames()
		}
	}
	sort.Slice(p.InstanceMap, func(i, j int) bool { return p.InstanceMap[i].Name < p.InstanceMap[j].Name })
	p.buildRoutes(specs)
	p.addMAS(c)
	p.addWebApps(c)
	return p
}

func newProcess(c *config.Config, spec RoleSpec, size config.PoolSize, replicas int) Process {
	proc := Process{
		Role:           spec.Role,
		Pool:           spec.Pool,
		Name:           "synapse-" + string(spec.Role),
		Kind:           Deployment,
		App:            spec.App,
		Image:          c.Image,
		Replicas:       replicas,
		Resources:      size.Resources,
		Streams:        spec.Streams,
		InInstanceMap:  spec.Replication,
		FallbackToMain: spec.FallbackToMain,
		ServesHTTP:     len(spec.HTTPResources) > 0,
		Namespace:      c.Namespace,
	}
	if spec.Role == RoleMain {
		proc.Name = MainName
	}
	if spec.StableNames {
		proc.Kind = StatefulSet
	}
	if spec.UsesMediaImage {
		proc.Image = c.MediaImage
	}
	if spec.Autoscalable && size.Autoscale != nil {
		a := *size.Autoscale
		proc.Autoscale = &a
	}
	resources := append([]string{}, spec.HTTPResources...)
	if c.Federation.Enabled {
		resources = append(resources, spec.FederationResources...)
	}
	if spec.Role == RoleMain && openIDWithoutFederation(c) {
		resources = append(resources, ResOpenID)
	}
	if len(resources) == 0 {
		resources = []string{ResHealth}
	}
	proc.Ports = []Port{{PortNameHTTP, PortHTTP}}
	proc.Listeners = []Listener{{Port: PortHTTP, Type: "http", Resources: resources, XForwarded: true}}
	if spec.Replication {
		proc.Ports = append(proc.Ports, Port{PortNameReplication, PortReplication})
		proc.Listeners = append(proc.Listeners, Listener{Port: PortReplication, Type: "http", Resources: []string{ResReplication}})
	}
	proc.Ports = append(proc.Ports, Port{PortNameMetrics, PortMetrics})
	proc.Listeners = append(proc.Listeners, Listener{Port: PortMetrics, Type: "metrics"})
	return proc
}

// Process returns the process with the given role.
func (p *Plan) Process(role Role) (Process, bool) {
	for _, proc := range p.Processes {
		if proc.Role == role {
			return proc, true
		}
	}
	return Process{}, false
}

// Main returns the main process.
func (p *Plan) Main() Process {
	m, _ := p.Process(RoleMain)
	return m
}

// Backend returns the named backend.
func (p *Plan) Backend(name string) (Backend, bool) {
	for _, b := range p.Backends {
		if b.Name == name {
			return b, true
		}
	}
	return Backend{}, false
}

// MaxConnections is Postgres max_connections: every process at its maximum
// replicas times cp_max, plus 50 for CNPG, replication and admin sessions
// (the seed's formula: max_connections = workers × cp_max + 50).
func (p *Plan) MaxConnections() int {
	total := 0
	for _, proc := range p.Processes {
		total += proc.MaxReplicas() * p.DatabasePool.Max
	}
	if mas, ok := p.MAS(); ok {
		total += mas.Replicas * config.MASDatabasePoolMax
	}
	return total + config.ConnectionHeadroom
}
