// Package router renders the HAProxy configuration that routes Matrix
// traffic to the Synapse processes of a plan.
//
// It is pure (no Pulumi, no I/O): the components package puts the result in a
// ConfigMap. Every backend, server name, host, port and route comes from the
// plan, so a backend naming a Service that does not exist, or a port that
// does not match, cannot be written (the failures of the hand-written seeds).
//
// Routing is first-match over the plan's ordered route table, exactly as
// plan.Match evaluates it. The table is split into HAProxy map files by
// method and (for initial-sync pools) the presence of `since`; map_reg's
// first-match-in-file-order keeps the plan's order, and consecutive routes to
// one backend share a map line, so a request runs a handful of regular
// expressions (see routing.go).
package router

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"synapse/plan"
)

// The router's own ports and URIs, exported so that the Deployment, Service,
// probes, ServiceMonitor and Ingress refer to the same values.
const (
	// PortHTTP serves Matrix clients (and federation): the Ingress and the
	// Service point here.
	PortHTTP     = 8008
	PortNameHTTP = "http"
	// PortStats serves the stats page and the Prometheus exporter, apart from
	// client traffic so that neither is reachable through the Ingress.
	PortStats     = 8404
	PortNameStats = "stats"

	// HealthURI answers 200 while HAProxy runs (monitor-uri), on both ports;
	// probes use it on PortHTTP, the port that serves traffic.
	HealthURI = "/haproxy-health"
	// StatsURI is the HTML stats page on PortStats.
	StatsURI = "/stats"
	// MetricsURI is HAProxy's Prometheus exporter on PortStats.
	MetricsURI = "/metrics"

	// DefaultConfigDir is where the official haproxy image reads haproxy.cfg.
	DefaultConfigDir = "/usr/local/etc/haproxy"
	// ConfigFileName is the main configuration file's name in ConfigDir.
	ConfigFileName = "haproxy.cfg"

	// HardStopAfterSeconds bounds a graceful stop (long-polling /sync connections
	// would otherwise hold it open): keep the pod's
	// terminationGracePeriodSeconds above it.
	HardStopAfterSeconds = 25

	// MaxConn is the default connection limit of one HAProxy replica: every
	// online user holds a long-polling /sync connection. HAProxy needs a
	// file limit of about 2×MaxConn (containers usually have 1,048,576).
	MaxConn = 20000

	// Threads is the default number of HAProxy threads (nbthread) of one
	// replica: one, as the router's container is limited to one CPU.
	// Without nbthread HAProxy starts a thread per CPU it sees, which in a
	// container is every CPU of the node, whatever the CPU limit. And with
	// several threads, a keep-alive client whose next request goes to
	// another server than its last (routing does that all the time) often
	// takes an idle server connection from another thread's pool, under
	// that thread's spin lock: on a shared or throttled CPU, waiting for
	// that lock cost more than the whole route table (README, "HAProxy
	// cost": with HAProxy's default of two threads on two vCPUs, 1.48x the
	// CPU per request of a one-backend config, most of it in that spin).
	Threads = 1

	// ResolversName names the DNS resolvers section (kube-dns).
	ResolversName = "kube"
)

// hostName is what a host route may name (it is written into haproxy.cfg).
var hostName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$`)

// Ports are the router's container ports, by name.
var Ports = []plan.Port{{Name: PortNameHTTP, Port: PortHTTP}, {Name: PortNameStats, Port: PortStats}}

// ServerAddressing places one server of a backend: it returns "host:port" of
// ordinal `ordinal` of proc (proc is the main process for a backend's backup
// server), or "" when that instance does not exist (the server is rendered
// `disabled`, as an absent pod is down). Used by tests to point backends at
// local servers; nil means DNS, the in-cluster default.
type ServerAddressing func(backend string, proc plan.Process, ordinal int) string

// Options tune rendering. The zero value renders the in-cluster config.
type Options struct {
	// ConfigDir is where haproxy.cfg and the map files are mounted.
	// Default DefaultConfigDir.
	ConfigDir string
	// Resolver is a nameserver "ip:port" for server name resolution. HAProxy
	// resolvers need an address, not a name, so the default ("") reads the
	// pod's /etc/resolv.conf (parse-resolv-conf), which names kube-dns.
	Resolver string
	// Servers overrides DNS addressing (see ServerAddressing).
	Servers ServerAddressing
	// ClientBind and StatsBind are the bind addresses of the two frontends.
	// Defaults ":8008" and ":8404" (PortHTTP, PortStats).
	ClientBind string
	StatsBind  string
	// MaxConn is the connection limit of one replica; default MaxConn.
	// HAProxy needs about two file descriptors per connection and refuses
	// to start when its file limit is lower.
	MaxConn int
	// Threads is HAProxy's nbthread; default Threads. Give a replica as
	// many threads as CPUs its container may use, no more.
	Threads int
	// WellKnown maps a path (e.g. /.well-known/matrix/client) to the JSON
	// HAProxy answers it with, from a file beside haproxy.cfg. Synapse has
	// serve_server_wellknown off: the router answers discovery itself.
	WellKnown map[string]string
}

// Files are the rendered configuration: haproxy.cfg and the map files that
// must be mounted beside it (file name → content).
type Files struct {
	Config string
	Maps   map[string]string
}

// Render renders the HAProxy configuration of a plan. It fails, naming the
// field, on anything HAProxy could not route correctly: a backend naming a
// process that does not exist or serves no HTTP, a route to an unknown
// backend, a pattern HAProxy's map files cannot carry.
func Render(p *plan.Plan, opts Options) (*Files, error) {
	if p == nil {
		return nil, fmt.Errorf("router: nil plan")
	}
	opts = withDefaults(opts)
	if err := checkOptions(opts); err != nil {
		return nil, err
	}
	backends, err := buildBackends(p, opts)
	if err != nil {
		return nil, err
	}
	known := map[string]bool{}
	for _, b := range backends {
		known[b.Name] = true
	}
	rt, err := buildRouting(p, known)
	if err != nil {
		return nil, err
	}
	data := cfgData{
		Opts:       opts,
		MainName:   p.MainBackend,
		Backends:   backends,
		Rules:      rt.rules,
		UseDNS:     opts.Servers == nil,
		Resolver:   opts.Resolver,
		ResolvName: ResolversName,
	}
	for _, r := range rt.rules {
		r.MapPath = path.Join(opts.ConfigDir, r.Map)
	}
	for i, h := range p.HostRoutes {
		if !known[h.Backend] {
			return nil, fmt.Errorf("router: plan.HostRoutes[%d] (%s): backend %q is not in the config", i, h.Host, h.Backend)
		}
		if !hostName.MatchString(h.Host) {
			return nil, fmt.Errorf("router: plan.HostRoutes[%d]: %q is not a lower-case DNS name", i, h.Host)
		}
		data.HostRules = append(data.HostRules, h)
	}
	paths := make([]string, 0, len(opts.WellKnown))
	for p := range opts.WellKnown {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, wk := range paths {
		file := "wellknown-" + path.Base(wk) + ".json"
		if _, clash := rt.maps[file]; clash {
			return nil, fmt.Errorf("router: Options.WellKnown %q: file %s clashes with a map", wk, file)
		}
		rt.maps[file] = opts.WellKnown[wk]
		data.WellKnown = append(data.WellKnown, wellKnownData{Path: wk, File: path.Join(opts.ConfigDir, file)})
	}
	var buf bytes.Buffer
	if err := cfgTemplate.Execute(&buf, data); err != nil {
		return nil, fmt.Errorf("router: template: %w", err)
	}
	return &Files{Config: buf.String(), Maps: rt.maps}, nil
}

func withDefaults(o Options) Options {
	if o.ConfigDir == "" {
		o.ConfigDir = DefaultConfigDir
	}
	if o.ClientBind == "" {
		o.ClientBind = ":" + strconv.Itoa(PortHTTP)
	}
	if o.MaxConn == 0 {
		o.MaxConn = MaxConn
	}
	if o.Threads == 0 {
		o.Threads = Threads
	}
	if o.StatsBind == "" {
		o.StatsBind = ":" + strconv.Itoa(PortStats)
	}
	return o
}

func checkOptions(o Options) error {
	if !path.IsAbs(o.ConfigDir) || strings.ContainsAny(o.ConfigDir, " \t\n'\"\\") {
		return fmt.Errorf("router: Options.ConfigDir %q: want an absolute path without spaces or quotes", o.ConfigDir)
	}
	if o.Resolver != "" {
		host, port, err := net.SplitHostPort(o.Resolver)
		if err != nil || net.ParseIP(host) == nil || port == "" {
			return fmt.Errorf("router: Options.Resolver %q: want ip:port (HAProxy resolvers take no names; leave empty to read /etc/resolv.conf)", o.Resolver)
		}
	}
	for p, body := range o.WellKnown {
		if !strings.HasPrefix(p, "/.well-known/") || strings.ContainsAny(p, " \t\n'\"\\{}") {
			return fmt.Errorf("router: Options.WellKnown path %q: want /.well-known/... without spaces or quotes", p)
		}
		if !json.Valid([]byte(body)) {
			return fmt.Errorf("router: Options.WellKnown %q: body is not JSON", p)
		}
	}
	if o.MaxConn < 0 {
		return fmt.Errorf("router: Options.MaxConn %d: want a positive limit", o.MaxConn)
	}
	if o.Threads < 0 || o.Threads > maxThreads {
		return fmt.Errorf("router: Options.Threads %d: want 1 to %d (one per CPU the container may use)", o.Threads, maxThreads)
	}
	for name, b := range map[string]string{"ClientBind": o.ClientBind, "StatsBind": o.StatsBind} {
		if _, _, err := net.SplitHostPort(b); err != nil {
			return fmt.Errorf("router: Options.%s %q: want [host]:port: %v", name, b, err)
		}
	}
	return nil
}

// maxThreads is the most threads HAProxy is built for (MAX_THREADS, 64 in
// Debian's and the official images' builds).
const maxThreads = 64

// haproxyName is what HAProxy accepts in proxy and server names.
var haproxyName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]*$`)
