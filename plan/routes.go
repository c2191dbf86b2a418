package plan

import (
	"slices"
	"strings"
)

// Route order: first match wins, and many paths are in several of Synapse's
// lists (devices, keys/upload, pushrules, presence, tags, account_data), so
// stream writers come first, then media, then the sync pools, then the
// user-directory worker, and the generic workers last. Main is the default.
var routeOrder = []Role{
	RoleMediaRepository, RoleInitialSync, RoleSynchrotron, RoleBackground, RoleGenericWorker,
}

// mediaAdminPrefix marks the media admin APIs. They go to media-0 only: it
// writes quarantined_media_changes (quarantine requests must reach a writer
// of that stream) and runs the media background jobs; admin traffic is light.
const mediaAdminPrefix = "^/_synapse/admin/"

func (p *Plan) buildRoutes(specs []RoleSpec) {
	bySpec := map[Role]RoleSpec{}
	for _, s := range specs {
		bySpec[s.Role] = s
	}
	var order []Role
	for _, proc := range p.Processes {
		if proc.Role.IsStreamWriter() {
			order = append(order, proc.Role)
		}
	}
	order = append(order, routeOrder...)

	for _, role := range order {
		proc, ok := p.Process(role)
		if !ok || !proc.ServesHTTP {
			continue
		}
		for _, e := range bySpec[role].Endpoints(p.Federation) {
			b := Backend{Name: string(role), Process: proc.Name, Balance: e.Balance, Ordinal: -1, FallbackToMain: proc.FallbackToMain}
			if e.Balance != BalanceRoundRobin {
				b.Name += "-" + string(e.Balance)
			}
			if role == RoleMediaRepository && strings.HasPrefix(e.Pattern, mediaAdminPrefix) {
				b.Name, b.Ordinal = string(role)+"-0", 0
			}
			cond := Always
			if role == RoleInitialSync {
				cond = InitialSync
			}
			p.addBackend(b)
			p.Routes = append(p.Routes, Route{Pattern: e.Pattern, Methods: e.Methods, Condition: cond, Backend: b.Name})
		}
	}
}

func (p *Plan) addBackend(b Backend) {
	if _, ok := p.Backend(b.Name); !ok {
		p.Backends = append(p.Backends, b)
	}
}

// Match returns the backend that serves a request, following the route
// table as HAProxy does ("" = main). since says whether the request carries
// a sync `since` token. It is the executable statement of the routing
// contract that the HAProxy tests compare against.
func (p *Plan) Match(method, path string, since bool) string {
	for _, r := range p.Routes {
		if r.Condition == InitialSync && since {
			continue
		}
		if len(r.Methods) > 0 && !slices.Contains(r.Methods, method) {
			continue
		}
		if compiled(r.Pattern).MatchString(path) {
			return r.Backend
		}
	}
	return p.MainBackend
}
