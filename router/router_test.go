package router

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"synapse/plan"
)

// rendered is a stack's rendered files and the rule classes behind them.
type rendered struct {
	files *Files
	rules []*ruleData
}

func render(t *testing.T, p *plan.Plan, opts Options) rendered {
	t.Helper()
	f, err := Render(p, opts)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	known := map[string]bool{p.MainBackend: true}
	for _, b := range p.Backends {
		known[b.Name] = true
	}
	rt, err := buildRouting(p, known)
	if err != nil {
		t.Fatal(err)
	}
	// The rules evaluated below must be the ones in the config.
	for _, r := range rt.rules {
		line := "use_backend %[path,map_reg(" + DefaultConfigDir + "/" + r.Map + "," + p.MainBackend + ")]"
		if r.Cond != "" {
			line += " if " + r.Cond
		}
		if opts.ConfigDir == "" && !strings.Contains(f.Config, "\n    "+line+"\n") {
			t.Fatalf("config lacks rule line %q", line)
		}
		if f.Maps[r.Map] != rt.maps[r.Map] {
			t.Fatalf("map %s differs between renders", r.Map)
		}
	}
	return rendered{f, rt.rules}
}

// route evaluates the rendered routing the way HAProxy does: the one rule
// whose condition holds (they are exclusive), then the first line of its map
// whose expression matches the path; nothing: default_backend main.
func (r rendered) route(t *testing.T, mainBackend, method, path string, since bool) string {
	t.Helper()
	var hit []*ruleData
	for _, rule := range r.rules {
		if rule.holds(method, path, since) {
			hit = append(hit, rule)
		}
	}
	if len(hit) > 1 {
		t.Fatalf("%s %s: rules %s and %s both hold: classes must be exclusive", method, path, hit[0].Map, hit[1].Map)
	}
	if len(hit) == 0 {
		return mainBackend
	}
	for _, line := range strings.Split(r.files.Maps[hit[0].Map], "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		pattern, backend, ok := strings.Cut(line, " ")
		if !ok {
			t.Fatalf("map %s: bad line %q", hit[0].Map, line)
		}
		if compiledTest(pattern).MatchString(path) {
			return backend
		}
	}
	return mainBackend
}

var testRegexps sync.Map

func compiledTest(pattern string) *regexp.Regexp {
	if re, ok := testRegexps.Load(pattern); ok {
		return re.(*regexp.Regexp)
	}
	re := regexp.MustCompile(pattern)
	testRegexps.Store(pattern, re)
	return re
}

func (r *ruleData) holds(method, path string, since bool) bool {
	if r.method != "" && method != r.method {
		return false
	}
	if r.method == "" && slices.Contains(r.notMethods, method) {
		return false
	}
	switch r.since {
	case sinceWith:
		return since
	case sinceWithout:
		return !since
	}
	return true
}

func TestRequestTableIsLargeEnough(t *testing.T) {
	if n := len(RequestCases); n < 60 {
		t.Fatalf("%d request cases, want at least 60", n)
	}
	seen := map[string]bool{}
	for _, c := range RequestCases {
		k := c.Method + " " + c.URI
		if seen[k] {
			t.Errorf("duplicate case %s", k)
		}
		seen[k] = true
	}
}

// TestRequestTable: for every request of the table, the plan's route table
// (plan.Match) and the rendered HAProxy routing both name the backend
// Synapse's docs require, on dev, prod and prod without federation.
func TestRequestTable(t *testing.T) {
	for _, s := range Stacks(t) {
		t.Run(s.Name, func(t *testing.T) {
			r := render(t, s.Plan, Options{})
			for _, c := range AllCases() {
				want := s.Want(c.Want)
				if got := s.Plan.Match(c.Method, c.Path(), c.Since()); got != want {
					t.Errorf("plan.Match(%s %s) = %s, want %s", c.Method, c.URI, got, want)
				}
				if got := r.route(t, s.Plan.MainBackend, c.Method, c.Path(), c.Since()); got != want {
					t.Errorf("rendered routing: %s %s → %s, want %s", c.Method, c.URI, got, want)
				}
				if !strings.Contains(r.files.Config, "\nbackend "+want+"\n") {
					t.Errorf("%s %s: backend %s is not in the config", c.Method, c.URI, want)
				}
			}
		})
	}
}

func TestInitialSyncRouting(t *testing.T) {
	s := InitialSyncStack(t)
	r := render(t, s.Plan, Options{})
	for _, c := range InitialSyncCases {
		want := s.Want(c.Want)
		if got := s.Plan.Match(c.Method, c.Path(), c.Since()); got != want {
			t.Errorf("plan.Match(%s %s) = %s, want %s", c.Method, c.URI, got, want)
		}
		if got := r.route(t, s.Plan.MainBackend, c.Method, c.Path(), c.Since()); got != want {
			t.Errorf("rendered routing: %s %s → %s, want %s", c.Method, c.URI, got, want)
		}
	}
	if !strings.Contains(r.files.Config, "!{ url_param(since) -m found }") {
		t.Error("no rule tests for a missing since")
	}
}

// TestRenderedRoutingEqualsPlanMatch widens the table: every path of it,
// under every method and with and without `since`, on every stack.
func TestRenderedRoutingEqualsPlanMatch(t *testing.T) {
	stacks := append(Stacks(t), InitialSyncStack(t))
	methods := []string{"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"}
	paths := map[string]bool{}
	for _, c := range append(AllCases(), InitialSyncCases...) {
		paths[c.Path()] = true
	}
	for _, s := range stacks {
		r := render(t, s.Plan, Options{})
		n := 0
		for path := range paths {
			for _, m := range methods {
				for _, since := range []bool{false, true} {
					n++
					want := s.Plan.Match(m, path, since)
					if got := r.route(t, s.Plan.MainBackend, m, path, since); got != want {
						t.Errorf("%s: %s %s (since=%v): rendered %s, plan.Match %s", s.Name, m, path, since, got, want)
					}
				}
			}
		}
		t.Logf("%s: %d requests agree", s.Name, n)
	}
}

// backendsOf splits a config into its backend sections' lines.
func backendsOf(cfg string) map[string][]string {
	out := map[string][]string{}
	var cur string
	for _, line := range strings.Split(cfg, "\n") {
		switch {
		case strings.HasPrefix(line, "backend "):
			cur = strings.TrimPrefix(line, "backend ")
			out[cur] = nil
		case line == "" || !strings.HasPrefix(line, "    "):
			cur = ""
		case cur != "":
			out[cur] = append(out[cur], strings.TrimSpace(line))
		}
	}
	return out
}

func serversOf(lines []string) (servers, backups []string) {
	for _, l := range lines {
		if strings.HasPrefix(l, "server ") || strings.HasPrefix(l, "server-template ") {
			if strings.Contains(l, " backup") {
				backups = append(backups, l)
			} else {
				servers = append(servers, l)
			}
		}
	}
	return
}

// TestServersComeFromThePlan: every server line names a host, port and
// SRV record derived from the plan's processes, so a backend cannot point at
// a Service or port that does not exist.
func TestServersComeFromThePlan(t *testing.T) {
	for _, s := range append(Stacks(t), InitialSyncStack(t)) {
		t.Run(s.Name, func(t *testing.T) {
			p := s.Plan
			cfg := render(t, p, Options{}).files.Config
			bes := backendsOf(cfg)
			main := p.Main()
			mainAddr := fmt.Sprintf("%s:%d", main.Host(0), main.Port(plan.PortNameHTTP))
			if len(bes) != len(p.Backends)+1 {
				t.Errorf("%d backends in the config, want %d (main + plan)", len(bes), len(p.Backends)+1)
			}
			mainServers, _ := serversOf(bes[p.MainBackend])
			if len(mainServers) != 1 || !strings.Contains(mainServers[0], " "+mainAddr+" ") {
				t.Errorf("main backend servers %q, want one at %s", mainServers, mainAddr)
			}
			for _, b := range p.Backends {
				lines, ok := bes[b.Name]
				if !ok {
					t.Errorf("backend %s missing", b.Name)
					continue
				}
				var proc plan.Process
				for _, pr := range p.Targets() {
					if pr.Name == b.Process {
						proc = pr
					}
				}
				port := proc.Port(plan.PortNameHTTP)
				servers, backups := serversOf(lines)
				var want []string
				switch {
				case proc.ViaService:
					// One server: the Service's cluster IP (MAS).
					want = []string{fmt.Sprintf("server %s %s.%s.svc.cluster.local:%d ", proc.Name, proc.Name, proc.Namespace, port)}
				case b.Ordinal >= 0:
					want = []string{fmt.Sprintf("server %s %s:%d id %d ", proc.InstanceName(b.Ordinal), proc.Host(b.Ordinal), port, b.Ordinal+1)}
				case proc.Kind == plan.StatefulSet:
					for i := 0; i < proc.MaxReplicas(); i++ {
						want = append(want, fmt.Sprintf("server %s %s:%d id %d ", proc.InstanceName(i), proc.Host(i), port, i+1))
					}
				default:
					want = []string{fmt.Sprintf("server-template %s- %d %s ", proc.Name, proc.MaxReplicas(), proc.SRV())}
				}
				if len(servers) != len(want) {
					t.Errorf("%s: %d server lines, want %d", b.Name, len(servers), len(want))
					continue
				}
				for i := range want {
					if !strings.HasPrefix(servers[i], want[i]) {
						t.Errorf("%s: server line %q, want prefix %q", b.Name, servers[i], want[i])
					}
					if !strings.Contains(servers[i], " check resolvers kube ") || !strings.Contains(servers[i], " init-addr none") {
						t.Errorf("%s: %q: want health checks, kube-dns resolution and init-addr none", b.Name, servers[i])
					}
				}
				// Backup: main, only for roles main can stand in for.
				switch {
				case b.FallbackToMain && (len(backups) != 1 || !strings.Contains(backups[0], " "+mainAddr+" ")):
					t.Errorf("%s: backups %q, want main at %s", b.Name, backups, mainAddr)
				case !b.FallbackToMain && len(backups) != 0:
					t.Errorf("%s: backups %q, want none", b.Name, backups)
				}
				if proc.Role == plan.RoleMediaRepository && len(backups) != 0 {
					t.Errorf("%s: media must never fall back to main (enable_media_repo: false)", b.Name)
				}
				// Synapse and MAS answer /health; Element Web only its files.
				health := plan.HealthPath
				if proc.Role == plan.RoleElementWeb {
					health = "/config.json"
				}
				if !slices.Contains(lines, "option httpchk") || !slices.Contains(lines, "http-check send meth GET uri "+health) {
					t.Errorf("%s: no GET %s health check", b.Name, health)
				}
			}
		})
	}
}

// TestBalancing: sticky backends hash the right key with consistent hashing;
// the rest round robin.
func TestBalancing(t *testing.T) {
	p := LoadPlan(t, "../Pulumi.prod.yaml", nil)
	bes := backendsOf(render(t, p, Options{}).files.Config)
	want := map[plan.Balance]string{
		plan.BalanceRoundRobin: "balance roundrobin",
		plan.BalanceUser:       "balance hash var(txn.mxuser)",
		plan.BalanceRoom:       "balance hash var(txn.mxroom)",
		plan.BalanceOrigin:     "balance hash var(txn.mxorigin)",
	}
	seen := map[plan.Balance]bool{}
	for _, b := range p.Backends {
		lines := bes[b.Name]
		w := want[b.Balance]
		if b.Ordinal >= 0 {
			w = "balance roundrobin"
		}
		if !slices.Contains(lines, w) {
			t.Errorf("%s (%s): no %q in %q", b.Name, b.Balance, w, lines)
		}
		hashed := strings.HasPrefix(w, "balance hash")
		if hashed != slices.Contains(lines, "hash-type "+hashType) {
			t.Errorf("%s: hash-type %s must be set exactly for hash balancing", b.Name, hashType)
		}
		seen[b.Balance] = true
	}
	for bal := range want {
		if !seen[bal] {
			t.Errorf("prod has no %s backend: the test covers less than it claims", bal)
		}
	}
	// No hash-key (HAProxy >= 2.8 only).
	if cfg := render(t, p, Options{}).files.Config; strings.Contains(cfg, "hash-key") {
		t.Error("hash-key needs HAProxy 2.8; Debian ships 2.6")
	}
}

func TestFrontendsAndTimeouts(t *testing.T) {
	p := LoadPlan(t, "../Pulumi.dev.yaml", nil)
	cfg := render(t, p, Options{}).files.Config
	for _, want := range []string{
		"bind :8008 name http",
		"bind :8404 name stats",
		"monitor-uri " + HealthURI,
		"http-request use-service prometheus-exporter if { path " + MetricsURI + " }",
		"stats uri " + StatsURI,
		"option forwardfor",
		"http-request set-header X-Forwarded-Proto http if !{ req.hdr(x-forwarded-proto) -m found }",
		"timeout client 180s",
		"timeout server 180s",
		"default_backend " + p.MainBackend,
		"parse-resolv-conf",
		"nbthread 1", // Threads: the container's one CPU
	} {
		if !strings.Contains(cfg, "\n    "+want+"\n") {
			t.Errorf("config lacks %q", want)
		}
	}
	// Static addressing (the live tests) has no resolvers; an explicit
	// nameserver replaces parse-resolv-conf.
	f, err := Render(p, Options{Resolver: "10.96.0.10:53"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(f.Config, "nameserver dns1 10.96.0.10:53") || strings.Contains(f.Config, "parse-resolv-conf") {
		t.Error("Options.Resolver not honoured")
	}
	if f, err = Render(p, Options{Threads: 4}); err != nil || !strings.Contains(f.Config, "\n    nbthread 4\n") {
		t.Errorf("Options.Threads not honoured (%v)", err)
	}
}

func TestRenderIsDeterministic(t *testing.T) {
	p := LoadPlan(t, "../Pulumi.prod.yaml", nil)
	a, b := render(t, p, Options{}).files, render(t, p, Options{}).files
	if a.Config != b.Config || fmt.Sprint(a.Maps) != fmt.Sprint(b.Maps) {
		t.Fatal("two renders of one plan differ: every HAProxy replica and every preview must see the same config")
	}
	for name := range a.Maps {
		if !regexp.MustCompile(`^[-._a-zA-Z0-9]+$`).MatchString(name) {
			t.Errorf("map name %q is not a valid ConfigMap key", name)
		}
		if !strings.Contains(a.Config, "map_reg("+DefaultConfigDir+"/"+name+",") {
			t.Errorf("map %s is not used by the config", name)
		}
	}
}

// TestRenderRejects: a plan HAProxy could not route correctly is an error
// that names the field.
func TestRenderRejects(t *testing.T) {
	cases := []struct {
		name string
		edit func(p *plan.Plan)
		opts Options
		want string
	}{
		{"backend to a missing process", func(p *plan.Plan) { p.Backends[0].Process = "synapse-nope" }, Options{}, `process "synapse-nope" is not in the plan`},
		{"route to an unknown backend", func(p *plan.Plan) { p.Routes[0].Backend = "nope" }, Options{}, `backend "nope" is not defined`},
		{"pattern with a blank", func(p *plan.Plan) { p.Routes[0].Pattern = "^/a b" }, Options{}, "cannot carry this pattern"},
		{"pattern with a backslash", func(p *plan.Plan) { p.Routes[0].Pattern = `^/a\.b` }, Options{}, "cannot carry this pattern"},
		{"pattern that does not compile", func(p *plan.Plan) { p.Routes[0].Pattern = "^/a(" }, Options{}, "plan.Routes[0]"},
		{"lower-case method", func(p *plan.Plan) { p.Routes[0].Methods = []string{"get"} }, Options{}, `method "get"`},
		{"unknown condition", func(p *plan.Plan) { p.Routes[0].Condition = "full-moon" }, Options{}, "unknown condition"},
		{"unknown balance", func(p *plan.Plan) { p.Backends[0].Balance = "random" }, Options{}, `unknown balance "random"`},
		{"ordinal beyond the pool", func(p *plan.Plan) { p.Backends[0].Ordinal = 99 }, Options{}, "ordinal 99"},
		{"pinned Deployment", func(p *plan.Plan) {
			for i := range p.Backends {
				if p.Backends[i].Name == bGeneric {
					p.Backends[i].Ordinal = 0
					for j := range p.Processes {
						if p.Processes[j].Name == p.Backends[i].Process {
							p.Processes[j].Kind = plan.Deployment
						}
					}
				}
			}
		}, Options{}, "no stable pod names"},
		{"process without HTTP", func(p *plan.Plan) {
			p.Backends[0].Process = "synapse-event-persister"
		}, Options{}, "serves no HTTP"},
		{"duplicate backend", func(p *plan.Plan) { p.Backends = append(p.Backends, p.Backends[0]) }, Options{}, "duplicate backend"},
		{"bad backend name", func(p *plan.Plan) { p.Backends[0].Name = "has space" }, Options{}, "not a valid HAProxy backend name"},
		{"main without a stable name", func(p *plan.Plan) { p.Processes[0].Kind = plan.Deployment }, Options{}, "want a StatefulSet"},
		{"resolver by name", nil, Options{Resolver: "kube-dns.kube-system.svc.cluster.local:53"}, "want ip:port"},
		{"relative config dir", nil, Options{ConfigDir: "etc/haproxy"}, "ConfigDir"},
		{"negative threads", nil, Options{Threads: -1}, "Options.Threads -1"},
		{"more threads than HAProxy has", nil, Options{Threads: 65}, "Options.Threads 65"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := LoadPlan(t, "../Pulumi.prod.yaml", nil)
			if c.edit != nil {
				c.edit(p)
			}
			_, err := Render(p, c.opts)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Render error %v, want one containing %q", err, c.want)
			}
		})
	}
}

func TestLiteralPrefix(t *testing.T) {
	cases := []struct{ pattern, literal string }{
		{`^/_matrix/client/(r0|v3)/sync$`, "/_matrix/client/"},
		{`^/_matrix/client/v1/media/`, "/_matrix/client/v1/media/"},
		{`^/_matrix/key/v2/query`, "/_matrix/key/v2/query"},
		{`^/_matrix/client/unstable/im.nheko.summary/summary/.*$`, "/_matrix/client/unstable/im"},
		{`^/_matrix/(client|media)/`, "/_matrix/"},
		{`^/_synapse/admin/v1/media/.*$`, "/_synapse/admin/v1/media/"},
		{`^/abc?`, "/ab"},         // a quantified character is not literal
		{`^/a/b/|^/c/d/`, ""},     // alternation at the top: no common prefix
		{`/_matrix/client/x`, ""}, // unanchored: matches anywhere
		{`(?i)^/_matrix/client/`, ""},
	}
	for _, c := range cases {
		lit, err := literalPrefix(c.pattern)
		if err != nil {
			t.Fatal(err)
		}
		if lit != c.literal {
			t.Errorf("%q: literal %q, want %q", c.pattern, lit, c.literal)
		}
	}
}

// TestJoinedLinesMatchTheirRoutes: a map line that joins a run of routes
// matches exactly the paths one of them matches, with or without a shared
// prefix, on every pattern shape the plan has and a few it has not.
func TestJoinedLinesMatchTheirRoutes(t *testing.T) {
	runs := [][]string{
		{`^/_matrix/client/(r0|v3)/sync$`, `^/_matrix/client/(api/v1|r0|v3)/events$`, `^/_matrix/client/(api/v1|r0|v3)/rooms/[^/]+/initialSync$`},
		{`^/_matrix/media/`, `^/_matrix/client/v1/media/`, `^/_synapse/admin/v1/media/.*$`},
		{`^/abc?`, `^/ab+x`, `^/ab`},
		{`^/a/b/|^/c/d/`, `^/e`},
		{`/anywhere`, `^/x/y$`},
		{`(?i)^/Upper`, `^/upper/z`},
	}
	paths := []string{
		"/_matrix/client/v3/sync", "/_matrix/client/r0/sync/x", "/_matrix/client/api/v1/events",
		"/_matrix/client/v3/rooms/!a:b/initialSync", "/_matrix/client/v3/rooms/a/b/initialSync",
		"/_matrix/media/v3/download/x", "/_matrix/client/v1/media/config", "/_synapse/admin/v1/media/x",
		"/_synapse/admin/v1/mediax", "/a", "/ab", "/abc", "/abbbx", "/abx", "/a/b/", "/c/d/e", "/e", "/f",
		"/x/anywhere", "/x/y", "/x/y/", "/UPPER", "/upper/z", "/upper/zz", "", "/",
	}
	for _, pats := range runs {
		var rs []route
		for _, p := range pats {
			lit, err := literalPrefix(p)
			if err != nil {
				t.Fatal(err)
			}
			rs = append(rs, route{Route: plan.Route{Pattern: p, Backend: "b"}, literal: lit})
		}
		joined := joinPatterns(rs)
		re := regexp.MustCompile(joined)
		for _, path := range paths {
			want := false
			for _, p := range pats {
				want = want || regexp.MustCompile(p).MatchString(path)
			}
			if got := re.MatchString(path); got != want {
				t.Errorf("%q (joined %q) on %q: %v, want %v", pats, joined, path, got, want)
			}
		}
	}
	// Runs are cut at maxLineAlternatives.
	var many []route
	for i := 0; i < maxLineAlternatives+3; i++ {
		many = append(many, route{Route: plan.Route{Pattern: fmt.Sprintf("^/p%d$", i), Backend: "b"}, literal: fmt.Sprintf("/p%d", i)})
	}
	if lines := mapLines(many); len(lines) != 2 {
		t.Errorf("%d routes to one backend: %d lines, want 2", len(many), len(lines))
	}
}

// TestShortPrefixRoutesComeFirst: a route with a short literal prefix
// ("/_matrix/") placed first in the table wins over every later route.
func TestShortPrefixRoutesComeFirst(t *testing.T) {
	p := LoadPlan(t, "../Pulumi.dev.yaml", nil)
	p.Routes = append([]plan.Route{{Pattern: `^/_matrix/(client|custom)/v3/first`, Backend: bGeneric}}, p.Routes...)
	r := render(t, p, Options{})
	for _, path := range []string{"/_matrix/client/v3/first", "/_matrix/custom/v3/first"} {
		if got := r.route(t, p.MainBackend, "GET", path, false); got != bGeneric {
			t.Errorf("%s → %s, want %s", path, got, bGeneric)
		}
		if got, want := r.route(t, p.MainBackend, "GET", path, false), p.Match("GET", path, false); got != want {
			t.Errorf("%s: rendered %s, plan %s", path, got, want)
		}
	}
}
