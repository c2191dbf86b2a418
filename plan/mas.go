package plan

import (
	"fmt"
	"strings"

	"synapse/config"
)

// RoleMAS is the Matrix Authentication Service: not a Synapse process, but
// HAProxy routes the Matrix login compatibility endpoints to it.
const RoleMAS Role = "mas"

// MAS's Service, ports and names. MAS serves its web resources (OAuth,
// its pages, the compatibility layer, GraphQL, assets) on one listener and
// health and metrics on another, as ess-helm does; the web listener also
// answers /health, which is what HAProxy's checks fetch on every backend.
const (
	MASName         = "mas"
	MASDatabase     = "mas" // its own database in the CNPG Cluster
	MASRole         = "mas" // and its own Postgres role, owner of that database
	PortNameMASWeb  = PortNameHTTP
	PortMASWeb      = 8080
	PortNameMASInt  = "internal"
	PortMASInternal = 8081
	MASMetricsPath  = "/metrics"
)

// masCompatPattern is the route MAS's reverse-proxy docs give for the
// Matrix login compatibility layer: every client API version's /login,
// /logout and /refresh, and what is under them (/login/sso/redirect,
// /logout/all). Synapse refuses these when MAS is on.
const masCompatPattern = `^/_matrix/client/[^/]+/(login|logout|refresh)(/.*)?$`

// masProcess is MAS as the router sees it: a Deployment behind a headless
// Service whose "http" port is its web listener.
func masProcess(c *config.Config) Process {
	return Process{
		Role:       RoleMAS,
		Name:       MASName,
		Kind:       Deployment,
		Image:      c.MAS.Image,
		Replicas:   c.MAS.Replicas,
		Ports:      []Port{{PortNameMASWeb, PortMASWeb}, {PortNameMASInt, PortMASInternal}},
		ServesHTTP: true,
		ViaService: true,
		Namespace:  c.Namespace,
	}
}

// MAS returns the MAS service, when MAS is on.
func (p *Plan) MAS() (Process, bool) {
	for _, s := range p.Services {
		if s.Role == RoleMAS {
			return s, true
		}
	}
	return Process{}, false
}

// ServiceHost is the DNS name of a service's Service.
func (s Process) ServiceHost() string {
	return Service{Name: s.Name, Namespace: s.Namespace}.Host()
}

// ServiceURL is a service's in-cluster base URL through its Service's
// http port (for MAS: Synapse's matrix_authentication_service.endpoint).
func (s Process) ServiceURL() string {
	return fmt.Sprintf("http://%s:%d/", s.ServiceHost(), s.Port(PortNameHTTP))
}

// addMAS puts MAS in the plan and its compatibility routes first: nothing
// in Synapse may answer a login while MAS owns accounts.
func (p *Plan) addMAS(c *config.Config) {
	if !c.MAS.Enabled {
		return
	}
	mas := masProcess(c)
	p.Services = append(p.Services, mas)
	b := Backend{Name: MASName, Process: mas.Name, Balance: BalanceRoundRobin, Ordinal: -1}
	p.addBackend(b)
	p.Routes = append([]Route{{Pattern: masCompatPattern, Backend: b.Name}}, p.Routes...)
	// Without an Ingress (one port-forward serves every *.localhost
	// host), requests for MAS's own host reach HAProxy: they go to MAS
	// whatever their path. Behind an Ingress they never reach HAProxy,
	// which then spends nothing on the Host header.
	if !c.Ingress.Enabled {
		p.HostRoutes = append(p.HostRoutes, HostRoute{Host: c.MAS.Host, Backend: b.Name})
	}
}

// HostRoute sends every request for Host (the Host header without its
// port, case-insensitive) to Backend, before any path route.
type HostRoute struct {
	Host    string
	Backend string
}

// MatchHost is Match with the request's Host header: a host route wins.
func (p *Plan) MatchHost(host, method, path string, since bool) string {
	h := strings.ToLower(host)
	if i := strings.LastIndex(h, ":"); i >= 0 && !strings.Contains(h[i:], "]") {
		h = h[:i]
	}
	for _, r := range p.HostRoutes {
		if r.Host == h {
			return r.Backend
		}
	}
	return p.Match(method, path, since)
}

// Targets are every process HAProxy may send to: the Synapse processes,
// then the other services.
func (p *Plan) Targets() []Process {
	return append(append([]Process{}, p.Processes...), p.Services...)
}
