package router_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"strings"
	"sync"
	"testing"

	"synapse/config"
	"synapse/plan"
	"synapse/router"
	"synapse/router/routertest"
	"synapse/synapseconfig"
)

// These tests run the real haproxy (Debian's 2.6 in CI). They skip without
// it, and fail without it when REQUIRE_REAL_TOOLS=1.

// TestHAProxyAcceptsConfig: `haproxy -c` with warnings as errors, on every
// stack and on both addressing modes.
func TestHAProxyAcceptsConfig(t *testing.T) {
	bin := routertest.HAProxy(t)
	type variant struct {
		name string
		p    *plan.Plan
		opts router.Options
	}
	var variants []variant
	for _, s := range append(router.Stacks(t), router.InitialSyncStack(t)) {
		variants = append(variants, variant{s.Name, s.Plan, router.Options{}})
	}
	prod := router.LoadPlan(t, "../Pulumi.prod.yaml", nil)
	variants = append(variants,
		variant{"prod-explicit-resolver", prod, router.Options{Resolver: "10.96.0.10:53"}},
		variant{"prod-static", prod, router.Options{ClientBind: "127.0.0.1:8008", StatsBind: "127.0.0.1:8404",
			Servers: func(_ string, proc plan.Process, i int) string {
				if i%2 == 1 {
					return "" // absent: rendered disabled
				}
				return fmt.Sprintf("127.0.0.1:%d", 20000+i)
			}}},
	)
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			dir := t.TempDir()
			v.opts.ConfigDir = dir
			f, err := router.Render(v.p, v.opts)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := routertest.WriteFiles(dir, f)
			if err != nil {
				t.Fatal(err)
			}
			if out, err := routertest.Check(bin, cfg); err != nil {
				t.Fatalf("haproxy -dW -c: %v\n%s", err, out)
			}
		})
	}
}

// TestLiveRouting sends the request table through a running haproxy whose
// servers are local HTTP servers that say who they are, and checks that the
// backend plan.Match names (and the table requires) answered.
func TestLiveRouting(t *testing.T) {
	routertest.HAProxy(t)
	type run struct {
		s     router.Stack
		cases []router.RequestCase
	}
	var runs []run
	for _, s := range router.Stacks(t) {
		runs = append(runs, run{s, router.AllCases()})
	}
	runs = append(runs, run{router.InitialSyncStack(t), router.InitialSyncCases})
	for _, r := range runs {
		t.Run(r.s.Name, func(t *testing.T) {
			t.Parallel()
			p := r.s.Plan
			l := routertest.StartLocal(t, p, routertest.Options{})
			for _, c := range r.cases {
				want := r.s.Want(c.Want)
				if m := p.Match(c.Method, c.Path(), c.Since()); m != want {
					t.Errorf("plan.Match(%s %s) = %s, want %s", c.Method, c.URI, m, want)
				}
				a, err := l.Do(c.Method, c.URI, nil)
				if err != nil {
					t.Fatalf("%s %s: %v", c.Method, c.URI, err)
				}
				if a.Status != http.StatusOK || a.Backend != want {
					t.Errorf("%s %s: served by backend %q (status %d), want %s", c.Method, c.URI, a.Backend, a.Status, want)
					continue
				}
				if role := roleOf(t, p, want); a.Role != role {
					t.Errorf("%s %s: served by a %s, want a %s", c.Method, c.URI, a.Role, role)
				}
				if c.Method != "HEAD" && a.URI != c.URI {
					t.Errorf("%s %s: upstream saw %q", c.Method, c.URI, a.URI)
				}
			}
			// Wider: every path of the table under every method, with and
			// without since: haproxy and plan.Match agree on each.
			n := 0
			paths := map[string]bool{}
			for _, c := range append(router.AllCases(), router.InitialSyncCases...) {
				paths[c.Path()] = true
			}
			for path := range paths {
				for _, m := range []string{"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"} {
					for _, since := range []bool{false, true} {
						uri := path
						if since {
							uri += "?since=s1_2_3"
						}
						want := p.Match(m, path, since)
						a, err := l.Do(m, uri, nil)
						if err != nil {
							t.Fatalf("%s %s: %v", m, uri, err)
						}
						if a.Backend != want {
							t.Errorf("%s %s: haproxy chose %q, plan.Match %s", m, uri, a.Backend, want)
						}
						n++
					}
				}
			}
			t.Logf("%s: haproxy agrees with plan.Match on %d requests", r.s.Name, n)
		})
	}
}

// roleOf is the role of the process a backend sends to.
func roleOf(t *testing.T, p *plan.Plan, backend string) plan.Role {
	if backend == p.MainBackend {
		return plan.RoleMain
	}
	b, ok := p.Backend(backend)
	if !ok {
		t.Fatalf("no backend %s", backend)
	}
	for _, proc := range p.Targets() {
		if proc.Name == b.Process {
			return proc.Role
		}
	}
	t.Fatalf("no process %s", b.Process)
	return ""
}

func TestLiveHeadersHealthAndStats(t *testing.T) {
	p := router.LoadPlan(t, "../Pulumi.dev.yaml", nil)
	l := routertest.StartLocal(t, p, routertest.Options{})

	a, err := l.Do("GET", "/_matrix/client/versions", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(a.XFF, "127.0.0.1") || a.XFP != "http" {
		t.Errorf("upstream saw X-Forwarded-For %q, X-Forwarded-Proto %q; want the client address and http", a.XFF, a.XFP)
	}
	a, err = l.Do("GET", "/_matrix/client/versions", http.Header{"X-Forwarded-Proto": {"https"}})
	if err != nil {
		t.Fatal(err)
	}
	if a.XFP != "https" {
		t.Errorf("X-Forwarded-Proto from the Ingress became %q, want https kept", a.XFP)
	}

	for _, c := range []struct{ url, body string }{
		{l.URL + router.HealthURI, ""},
		{l.StatsURL + router.HealthURI, ""},
		{l.StatsURL + router.StatsURI, "Statistics Report"},
		{l.StatsURL + router.MetricsURI, "haproxy_process_"},
	} {
		resp, err := l.Client.Get(c.url)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), c.body) {
			t.Errorf("GET %s: %s, body lacks %q", c.url, resp.Status, c.body)
		}
	}
	// The stats port routes nothing to Synapse.
	resp, err := l.Client.Get(l.StatsURL + "/_matrix/client/versions")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get(routertest.HeaderBackend) != "" {
		t.Error("the stats port forwarded a Matrix request")
	}
	// And the client port, the Ingress's backend, never shows the stats
	// page: it stays in-cluster.
	resp, err = l.Client.Get(l.URL + router.StatsURI)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(body), "Statistics Report") {
		t.Errorf("GET %s%s on the client port shows the stats page", l.URL, router.StatsURI)
	}
}

// TestLiveFallbackToMain: with every worker absent, roles main can stand in
// for reach main (the backup server), and media does not: 503.
func TestLiveFallbackToMain(t *testing.T) {
	p := router.LoadPlan(t, "../Pulumi.dev.yaml", nil)
	l := routertest.StartLocal(t, p, routertest.Options{
		Present: func(proc plan.Process, _ int) bool { return proc.Role == plan.RoleMain },
	})
	for _, c := range []struct {
		method, uri string
		status      int
		role        plan.Role
	}{
		{"GET", "/_matrix/client/v3/sync", 200, plan.RoleMain},
		{"PUT", "/_matrix/client/v3/rooms/!r:example.org/typing/@a:example.org", 200, plan.RoleMain},
		{"GET", "/_matrix/client/v3/rooms/!r:example.org/messages", 200, plan.RoleMain},
		{"POST", "/_matrix/client/v3/createRoom", 200, plan.RoleMain},
		{"GET", "/_matrix/media/v3/download/example.org/abc", 503, ""},
		{"GET", "/_synapse/admin/v1/media/example.org/abc", 503, ""},
	} {
		a, err := l.Do(c.method, c.uri, nil)
		if err != nil {
			t.Fatal(err)
		}
		if a.Status != c.status || a.Role != c.role {
			t.Errorf("%s %s with workers down: %d from %q, want %d from %q", c.method, c.uri, a.Status, a.Role, c.status, c.role)
		}
	}
}

// synapseToken is an access token as Synapse mints it:
// syt_<unpadded base64 localpart>_<20 random letters>_<base62 crc>.
func synapseToken(rng *rand.Rand, localpart string) string {
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	b := make([]byte, 20)
	for i := range b {
		b[i] = letters[rng.Intn(len(letters))]
	}
	return fmt.Sprintf("syt_%s_%s_%06d", base64.RawStdEncoding.EncodeToString([]byte(localpart)), b, rng.Intn(1e6))
}

func bearer(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }

// serversFor sends one request per header set, 16 at a time, and returns
// the server that answered each.
func serversFor(t *testing.T, l *routertest.Local, uri func(i int) string, hdrs []http.Header) []string {
	t.Helper()
	out := make([]string, len(hdrs))
	var wg sync.WaitGroup
	errs := make(chan error, len(hdrs))
	next := make(chan int)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				a, err := l.Do("GET", uri(i), hdrs[i])
				if err == nil && a.Status != http.StatusOK {
					err = fmt.Errorf("status %d", a.Status)
				}
				if err != nil {
					errs <- err
					continue
				}
				out[i] = a.Server
			}
		}()
	}
	for i := range hdrs {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return out
}

func distinct(s []string) int {
	m := map[string]bool{}
	for _, x := range s {
		m[x] = true
	}
	return len(m)
}

// TestLiveStickiness: a user's requests reach one synchrotron whatever the
// device or how the token is sent; rooms and federation origins stick too;
// and keys spread over the pool.
func TestLiveStickiness(t *testing.T) {
	p := router.LoadPlan(t, "../Pulumi.prod.yaml", nil)
	l := routertest.StartLocal(t, p, routertest.Options{})
	rng := rand.New(rand.NewSource(1))
	syncURI := func(int) string { return "/_matrix/client/v3/sync?timeout=30000" }

	const users = 300
	var hdrs []http.Header
	var devices []http.Header
	var query []string
	for i := 0; i < users; i++ {
		lp := fmt.Sprintf("user%04d", i)
		tok := synapseToken(rng, lp)
		hdrs = append(hdrs, bearer(tok))
		devices = append(devices, bearer(synapseToken(rng, lp))) // another device
		query = append(query, tok)
	}
	first := serversFor(t, l, syncURI, hdrs)
	again := serversFor(t, l, syncURI, hdrs)
	other := serversFor(t, l, syncURI, devices)
	viaQuery := serversFor(t, l, func(i int) string {
		return "/_matrix/client/v3/sync?access_token=" + strings.ReplaceAll(query[i], "+", "%2B")
	}, make([]http.Header, users))
	for i := range first {
		if again[i] != first[i] || other[i] != first[i] || viaQuery[i] != first[i] {
			t.Errorf("user %d: %s, again %s, other device %s, token in query %s: want one synchrotron",
				i, first[i], again[i], other[i], viaQuery[i])
		}
	}
	sync, _ := p.Process(plan.RoleSynchrotron)
	if n := distinct(first); n != sync.Replicas {
		t.Errorf("%d users reached %d synchrotrons, want all %d", users, n, sync.Replicas)
	}

	// MAS tokens carry no user: the whole token is the key.
	mas := []http.Header{bearer("mat_abcdefghijklmnop"), bearer("mat_abcdefghijklmnop")}
	if s := serversFor(t, l, syncURI, mas); s[0] != s[1] {
		t.Errorf("one MAS token reached %s and %s", s[0], s[1])
	}

	// Rooms: /messages of one room on one generic worker.
	rooms := make([]http.Header, 200)
	roomURI := func(i int) string {
		return fmt.Sprintf("/_matrix/client/v3/rooms/!room%d:example.org/messages?dir=b&from=t%d", i%100, i)
	}
	rs := serversFor(t, l, roomURI, rooms)
	for i := 0; i < 100; i++ {
		if rs[i] != rs[i+100] {
			t.Errorf("room %d paginated on %s and %s", i, rs[i], rs[i+100])
		}
	}
	if distinct(rs) < 2 {
		t.Error("100 rooms all on one generic worker")
	}

	// Federation: one origin's transactions on one generic worker.
	var origins []http.Header
	for i := 0; i < 200; i++ {
		origins = append(origins, http.Header{"Authorization": {fmt.Sprintf(
			`X-Matrix origin="server%d.example",destination="example.org",key="ed25519:a",sig="sig%d"`, i%100, i)}})
	}
	os := serversFor(t, l, func(i int) string { return fmt.Sprintf("/_matrix/federation/v1/send/txn%d", i) }, origins)
	for i := 0; i < 100; i++ {
		if os[i] != os[i+100] {
			t.Errorf("origin %d sent to %s and %s", i, os[i], os[i+100])
		}
	}
	if distinct(os) < 2 {
		t.Error("100 origins all on one generic worker")
	}
}

// TestLiveRemapOnGrowth: growing the synchrotrons from N to N+1 moves only
// the users the new one takes over (about 1/(N+1)), none between the old
// ones; and two HAProxy replicas agree on every user.
func TestLiveRemapOnGrowth(t *testing.T) {
	routertest.HAProxy(t)
	p := router.LoadPlan(t, "../Pulumi.dev.yaml", func(raw map[string]string) {
		router.SetPools(t, raw, map[string]any{"synchrotron": map[string]any{"autoscale": true, "replicas": 1, "maxReplicas": 17}})
		// 17 synchrotrons × the default pool of 10 would open more Postgres
		// connections than dev's Postgres memory pays for, which config
		// refuses; the pool size plays no part in routing.
		raw["databasePool"] = `{"max":5}`
	})
	sync, _ := p.Process(plan.RoleSynchrotron)
	if sync.MaxReplicas() != 17 {
		t.Fatalf("synchrotron max replicas %d, want 17", sync.MaxReplicas())
	}
	const users = 10000
	rng := rand.New(rand.NewSource(42))
	hdrs := make([]http.Header, users)
	for i := range hdrs {
		hdrs[i] = bearer(synapseToken(rng, fmt.Sprintf("user%05d", i)))
	}
	syncURI := func(int) string { return "/_matrix/client/v3/sync" }
	running := func(t *testing.T, n int) []string {
		l := routertest.StartLocal(t, p, routertest.Options{Present: func(proc plan.Process, i int) bool {
			if proc.Role == plan.RoleSynchrotron {
				return i < n
			}
			return i < proc.Replicas
		}})
		return serversFor(t, l, syncURI, hdrs)
	}
	for _, n := range []int{4, 8, 16} {
		t.Run(fmt.Sprint("N=", n), func(t *testing.T) {
			before, after := running(t, n), running(t, n+1)
			newcomer := sync.InstanceName(n)
			moved := 0
			for i := range before {
				if before[i] == after[i] {
					continue
				}
				moved++
				if after[i] != newcomer {
					t.Errorf("user %d moved from %s to %s, an old synchrotron", i, before[i], after[i])
				}
			}
			frac, bound := float64(moved)/users, 1.5/float64(n+1)
			t.Logf("N=%d→%d: %d of %d users moved (%.4f; ideal %.4f, bound %.4f); %d synchrotrons used before",
				n, n+1, moved, users, frac, 1/float64(n+1), bound, distinct(before))
			if frac > bound {
				t.Errorf("moved fraction %.4f > %.4f", frac, bound)
			}
			if distinct(before) != n {
				t.Errorf("users reached %d synchrotrons, want %d", distinct(before), n)
			}
			if n == 8 {
				// A second HAProxy replica with the same config (its own
				// process, its own health checks) sends every user to the
				// same synchrotron.
				replica := running(t, n)
				for i := range before {
					if replica[i] != before[i] {
						t.Fatalf("user %d: replica A sent to %s, replica B to %s", i, before[i], replica[i])
					}
				}
			}
		})
	}
}

// TestLiveWellKnown: HAProxy answers Matrix discovery with the JSON it is
// given (content type, CORS): with RTC on, /client lists the LiveKit
// transport (MSC4143 rtc_foci) that Element Call and Element X look for;
// with federation and RTC off, /server is not answered by the router.
func TestLiveWellKnown(t *testing.T) {
	for _, tc := range []struct {
		name            string
		federation, rtc bool
	}{
		{"federation and rtc on", true, true},
		{"federation off rtc on", false, true},
		{"federation on rtc off", true, false},
		{"federation and rtc off", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			override := map[string]string{
				"federation": fmt.Sprintf(`{"enabled":%v}`, tc.federation),
				"rtc":        fmt.Sprintf(`{"enabled":%v,"tlsSecretName":"rtc-example-org-tls","host":"rtc.example.org"}`, tc.rtc),
			}
			c, err := config.ParseStackFile("../Pulumi.prod.yaml", override)
			if err != nil {
				t.Fatal(err)
			}
			wk := synapseconfig.WellKnown(c)
			l := routertest.StartLocal(t, plan.Build(c), routertest.Options{WellKnown: wk})
			for _, path := range []string{synapseconfig.WellKnownClient, synapseconfig.WellKnownServer} {
				resp, err := l.Client.Get(l.URL + path)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				want, served := wk[path]
				if !served {
					if resp.StatusCode == http.StatusOK && resp.Header.Get(routertest.HeaderBackend) == "" {
						t.Errorf("%s answered by the router with federation off: %s", path, body)
					}
					continue
				}
				if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != want ||
					resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
					t.Errorf("GET %s: %s %q %v, want 200 %s as JSON with CORS", path, resp.Status, body, resp.Header, want)
				}
				if path != synapseconfig.WellKnownClient {
					continue
				}
				var doc map[string]any
				if err := json.Unmarshal(body, &doc); err != nil {
					t.Fatalf("GET %s: not JSON: %v", path, err)
				}
				foci, ok := doc[synapseconfig.WellKnownRTCFoci].([]any)
				if ok != tc.rtc {
					t.Fatalf("GET %s: rtc_foci present %v with rtc %v: %s", path, ok, tc.rtc, body)
				}
				if tc.rtc && (len(foci) != 1 || fmt.Sprint(foci[0]) != "map[livekit_service_url:https://rtc.example.org type:livekit]") {
					t.Errorf("GET %s: rtc_foci %v, want the LiveKit transport at https://rtc.example.org", path, foci)
				}
			}
		})
	}
}

// TestLiveHostRoutes: a request for MAS's own host goes to MAS whatever
// its path (a stack without an Ingress serves every host through one
// port-forward to HAProxy), the Host header's port and case aside; other
// hosts follow the path routes. haproxy and plan.MatchHost agree.
func TestLiveHostRoutes(t *testing.T) {
	if len(router.LoadPlan(t, "../Pulumi.prod.yaml", nil).HostRoutes) != 0 {
		t.Error("prod has an Ingress for MAS's host: HAProxy needs no host route")
	}
	p := router.LoadPlan(t, "../Pulumi.prod.yaml", func(raw map[string]string) {
		raw["ingress"] = `{"enabled":false}`
		raw["rtc"] = `{"enabled":false}` // calls are refused without an Ingress
	})
	if len(p.HostRoutes) == 0 {
		t.Fatal("prod without an Ingress runs MAS: want a host route")
	}
	l := routertest.StartLocal(t, p, routertest.Options{})
	for _, c := range []struct{ host, method, uri, want string }{
		{"auth.example.org", "GET", "/account/", "mas"},
		{"auth.example.org:8008", "GET", "/.well-known/openid-configuration", "mas"},
		{"AUTH.example.org", "POST", "/oauth2/token", "mas"},
		{"auth.example.org", "GET", "/_matrix/client/v3/sync", "mas"},
		{"matrix.example.org", "GET", "/account/", "main"},
		{"matrix.example.org", "GET", "/_matrix/client/v3/sync", "synchrotron-user"},
		{"matrix.example.org", "POST", "/_matrix/client/v3/login", "mas"},
		{"auth.example.org.evil.org", "GET", "/account/", "main"},
	} {
		if got := p.MatchHost(c.host, c.method, c.uri, false); got != c.want {
			t.Errorf("plan.MatchHost(%s %s %s) = %s, want %s", c.host, c.method, c.uri, got, c.want)
		}
		a, err := l.Do(c.method, c.uri, http.Header{"Host": {c.host}})
		if err != nil {
			t.Fatal(err)
		}
		if a.Backend != c.want {
			t.Errorf("Host %s: %s %s served by %q, want %s", c.host, c.method, c.uri, a.Backend, c.want)
		}
	}
}

// TestLiveWebAppHostRoutes: with Element Web and Element Admin on, their
// hosts reach them through HAProxy too (dev's one port-forward), and
// their servers are up on their own health paths.
func TestLiveWebAppHostRoutes(t *testing.T) {
	p := router.LoadPlan(t, "../Pulumi.dev.yaml", func(raw map[string]string) {
		raw["elementWeb"] = `{"enabled":true}`
		raw["admin"] = `{"enabled":true}`
	})
	l := routertest.StartLocal(t, p, routertest.Options{})
	for _, c := range []struct{ host, uri, want string }{
		{"element.matrix.localhost:8008", "/config.json", "element-web"},
		{"element.matrix.localhost", "/_matrix/client/v3/sync", "element-web"},
		{"admin.matrix.localhost:8008", "/", "element-admin"},
		{"auth.matrix.localhost:8008", "/account/", "mas"},
		{"matrix.localhost:8008", "/config.json", "main"},
	} {
		if got := p.MatchHost(c.host, "GET", c.uri, false); got != c.want {
			t.Errorf("plan.MatchHost(%s %s) = %s, want %s", c.host, c.uri, got, c.want)
		}
		a, err := l.Do("GET", c.uri, http.Header{"Host": {c.host}})
		if err != nil {
			t.Fatal(err)
		}
		if a.Status != http.StatusOK || a.Backend != c.want {
			t.Errorf("Host %s: GET %s served by %q (status %d), want %s", c.host, c.uri, a.Backend, a.Status, c.want)
		}
	}
}
