package plan

import "synapse/config"

// Browser apps on hosts of their own. Behind an Ingress each host goes
// straight to its Service; without one (dev: one port-forward to HAProxy,
// every host *.localhost), HAProxy sends each app's host to its Service,
// so that one port-forward serves the homeserver, MAS and the apps.
const (
	RoleElementWeb   Role = "element-web"
	RoleElementAdmin Role = "element-admin"

	ElementWebName   = "element-web"
	ElementAdminName = "element-admin"
	// WebAppServicePort is the apps' Service port (named "http").
	WebAppServicePort = 80
	// Health paths: Element Web's image checks /config.json itself;
	// Element Admin's nginx answers /health.
	ElementWebHealthPath   = "/config.json"
	ElementAdminHealthPath = "/health"
)

func webApp(c *config.Config, role Role, name, health string, replicas int) Process {
	return Process{
		Role: role, Name: name, Kind: Deployment, Replicas: replicas,
		Ports:      []Port{{PortNameHTTP, WebAppServicePort}},
		ServesHTTP: true, ViaService: true, HealthPath: health,
		Namespace: c.Namespace,
	}
}

// addWebApps puts Element Web and Element Admin (when on) behind host
// routes, on stacks without an Ingress (behind one, their hosts go to
// their Services directly). They serve no Matrix path: no path route
// names them.
func (p *Plan) addWebApps(c *config.Config) {
	if c.Ingress.Enabled {
		return
	}
	add := func(proc Process, host string) {
		p.Services = append(p.Services, proc)
		p.addBackend(Backend{Name: proc.Name, Process: proc.Name, Balance: BalanceRoundRobin, Ordinal: -1})
		p.HostRoutes = append(p.HostRoutes, HostRoute{Host: host, Backend: proc.Name})
	}
	if c.ElementWeb.Enabled {
		add(webApp(c, RoleElementWeb, ElementWebName, ElementWebHealthPath, c.ElementWeb.Replicas), c.ElementWeb.Host)
	}
	if c.Admin.Console && c.MAS.Enabled {
		add(webApp(c, RoleElementAdmin, ElementAdminName, ElementAdminHealthPath, ElementAdminReplicas(c)), c.Admin.Host)
	}
}

// ElementAdminReplicas: one pod on a laptop; elsewhere two, so that a
// node drain or a rollout never takes the console down (with a PDB).
func ElementAdminReplicas(c *config.Config) int {
	if c.Tier == "laptop" {
		return 1
	}
	return 2
}
