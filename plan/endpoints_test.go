package plan

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"synapse/config"
)

// endpointLists names every list for the structural tests.
func endpointLists() map[string][]Endpoint {
	lists := map[string][]Endpoint{
		"sync":    SyncEndpoints,
		"generic": GenericWorkerEndpoints,
		"media":   MediaRepositoryEndpoints,
		"userdir": UserDirectoryEndpoints,
	}
	for stream, eps := range StreamWriterEndpoints {
		lists["stream:"+stream] = eps
	}
	return lists
}

// classifyPlan is the plan the classification tables route through
// Plan.Match: every stream writer (and a background worker, which serves
// the user directory), or none.
func classifyPlan(t *testing.T, writers bool) *Plan {
	t.Helper()
	raw := map[string]string{"serverName": "example.org", "tier": "medium", "minio": `{"enabled":true}`,
		"mediaImage": "r.io/s3:1", "federation": `{"enabled":true}`,
		"pools": `{"background":{"replicas":1}}`,
		// Synapse's own routing: MAS (which takes /login, /logout and
		// /refresh from Synapse) is tested in mas_test.go.
		"mas": `{"enabled":false}`}
	n := 0
	if writers {
		n = 1
	}
	var ws []string
	for _, s := range config.Streams {
		ws = append(ws, fmt.Sprintf("%q:%d", s.Name, n))
	}
	raw["streamWriters"] = "{" + strings.Join(ws, ",") + "}"
	c, err := config.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	p := Build(c)
	for _, s := range config.Streams {
		if _, ok := p.Process(WriterRole(s.Name)); ok != writers {
			t.Fatalf("writers=%v: stream %s has a writer: %v", writers, s.Name, ok)
		}
	}
	return p
}

// roleServing is the role of the process Plan.Match sends a request to.
func roleServing(t *testing.T, p *Plan, method, path string) Role {
	t.Helper()
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i] // HAProxy matches on path, without the query
	}
	name := p.Match(method, path, true)
	if name == p.MainBackend {
		return RoleMain
	}
	b, ok := p.Backend(name)
	if !ok {
		t.Fatalf("%s %s: Match named backend %q, which the plan does not have", method, path, name)
	}
	proc, ok := findByName(p, b.Process)
	if !ok {
		t.Fatalf("backend %s: no process %s", name, b.Process)
	}
	return proc.Role
}

func TestEndpointPatternsCompileAndAreAnchored(t *testing.T) {
	for name, eps := range endpointLists() {
		if len(eps) == 0 {
			t.Errorf("%s: empty list", name)
		}
		for _, e := range eps {
			if _, err := regexp.Compile(e.Pattern); err != nil {
				t.Errorf("%s: pattern %q does not compile: %v", name, e.Pattern, err)
			}
			if !strings.HasPrefix(e.Pattern, "^/_") {
				t.Errorf("%s: pattern %q is not anchored at a /_matrix or /_synapse path", name, e.Pattern)
			}
		}
	}
}

func TestEndpointMethodsAreValid(t *testing.T) {
	valid := map[string]bool{
		http.MethodGet: true, http.MethodHead: true, http.MethodPost: true,
		http.MethodPut: true, http.MethodPatch: true, http.MethodDelete: true,
		http.MethodOptions: true,
	}
	for name, eps := range endpointLists() {
		for _, e := range eps {
			if e.Methods != nil && len(e.Methods) == 0 {
				t.Errorf("%s: %q has an empty, non-nil Methods (nil means every method)", name, e.Pattern)
			}
			for _, m := range e.Methods {
				if m != strings.ToUpper(m) || !valid[m] {
					t.Errorf("%s: %q has invalid method %q", name, e.Pattern, m)
				}
			}
		}
	}
}

func TestEndpointBalanceIsKnown(t *testing.T) {
	known := map[Balance]bool{BalanceRoundRobin: true, BalanceUser: true, BalanceOrigin: true, BalanceRoom: true}
	for name, eps := range endpointLists() {
		for _, e := range eps {
			if !known[e.Balance] {
				t.Errorf("%s: %q has unknown balance %q", name, e.Pattern, e.Balance)
			}
		}
	}
	for _, e := range SyncEndpoints {
		if e.Balance != BalanceUser {
			t.Errorf("sync: %q must be sticky per user, got %q", e.Pattern, e.Balance)
		}
	}
}

func TestEndpointNoDuplicatePatterns(t *testing.T) {
	for name, eps := range endpointLists() {
		seen := map[string]bool{}
		for _, e := range eps {
			if seen[e.Pattern] {
				t.Errorf("%s: duplicate pattern %q", name, e.Pattern)
			}
			seen[e.Pattern] = true
		}
	}
}

func TestEndpointFederationFlag(t *testing.T) {
	for name, eps := range endpointLists() {
		for _, e := range eps {
			fed := strings.HasPrefix(e.Pattern, "^/_matrix/federation/") || strings.HasPrefix(e.Pattern, "^/_matrix/key/")
			if fed != e.Federation {
				t.Errorf("%s: %q has Federation=%v, want %v", name, e.Pattern, e.Federation, fed)
			}
		}
	}
}

func TestEndpointSpecialBalances(t *testing.T) {
	want := map[string]Balance{
		`^/_matrix/federation/v1/send/`:                                     BalanceOrigin,
		`^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/messages$`:       BalanceRoom,
		`^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/send`:            BalanceRoundRobin,
		`^/_matrix/client/unstable/org.matrix.msc4140/delayed_events`:       BalanceRoundRobin,
		`^/_matrix/client/(api/v1|r0|v3|unstable)/pushrules/`:               BalanceRoundRobin,
		`^/_matrix/client/(r0|v3|unstable)/user_directory/search$`:          BalanceRoundRobin,
		`^/_matrix/client/(api/v1|r0|v3|unstable)/devices(/|$)`:             BalanceRoundRobin,
		`^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/joined_members$`: BalanceRoundRobin,
	}
	got := map[string]Balance{}
	for _, e := range GenericWorkerEndpoints {
		got[e.Pattern] = e.Balance
	}
	for p, b := range want {
		if got[p] != b {
			t.Errorf("generic %q: balance %q, want %q", p, got[p], b)
		}
	}
	for _, e := range GenericWorkerEndpoints {
		if e.Balance == BalanceOrigin && e.Pattern != `^/_matrix/federation/v1/send/` {
			t.Errorf("only inbound federation transactions balance by origin, not %q", e.Pattern)
		}
		if e.Balance == BalanceUser {
			t.Errorf("sync-type endpoint %q belongs in SyncEndpoints", e.Pattern)
		}
	}
}

// TestEndpointGETOnly pins the "can be handled for GET requests" lines, and
// that the writers for the same paths take every method.
func TestEndpointGETOnly(t *testing.T) {
	getOnly := map[string]bool{
		`^/_matrix/client/(api/v1|r0|v3|unstable)/pushrules/`:         true,
		`^/_matrix/client/unstable/org.matrix.msc4140/delayed_events`: true,
		`^/_matrix/client/(r0|v3|unstable)/.*/tags`:                   true,
		`^/_matrix/client/(r0|v3|unstable)/.*/account_data`:           true,
		`^/_matrix/client/(api/v1|r0|v3|unstable)/presence/`:          true,
		`^/_synapse/admin/v2/users/[^/]+$`:                            true,
	}
	for _, e := range GenericWorkerEndpoints {
		isGET := len(e.Methods) == 1 && e.Methods[0] == "GET"
		if getOnly[e.Pattern] != isGET {
			t.Errorf("generic %q: Methods %v, GET-only wanted: %v", e.Pattern, e.Methods, getOnly[e.Pattern])
		}
	}
	for s, eps := range StreamWriterEndpoints {
		for _, e := range eps {
			if e.Methods != nil {
				t.Errorf("stream %s: %q should take every method, has %v", s, e.Pattern, e.Methods)
			}
		}
	}
}

// TestEndpointTraps pins what DESIGN.md calls main-only.
func TestEndpointTraps(t *testing.T) {
	for name, eps := range endpointLists() {
		for _, e := range eps {
			if strings.Contains(e.Pattern, "fallback") {
				t.Errorf("%s: %q: auth fallback pages are main-only", name, e.Pattern)
			}
			if strings.Contains(e.Pattern, "logout") || strings.Contains(e.Pattern, "account/password") {
				t.Errorf("%s: %q is main-only", name, e.Pattern)
			}
			// docs/workers.md (v1.157.0): only the MSC4140 list and /restart run
			// on workers (DESIGN.md predates /restart); other writes are main-only.
			if strings.Contains(e.Pattern, "delayed_events") && !(len(e.Methods) == 1 && e.Methods[0] == "GET") &&
				e.Pattern != `^/_matrix/client/unstable/org.matrix.msc4140/delayed_events(/.*/restart)?$` {
				t.Errorf("%s: %q: delayed_events must be GET-only on workers, but for the list and /restart", name, e.Pattern)
			}
		}
	}
	if len(MainOnlyExamples) < 12 {
		t.Errorf("want at least 12 MainOnlyExamples, have %d", len(MainOnlyExamples))
	}
	for _, ex := range MainOnlyExamples {
		if ex.Why == "" {
			t.Errorf("%s %s: no reason", ex.Method, ex.Path)
		}
	}
}

// TestEndpointClassify: requests written from Synapse's docs (v1.157.0)
// reach the role the docs give them, through Plan.Match on a plan with every
// stream writer.
func TestEndpointClassify(t *testing.T) {
	type row struct {
		method, path string
		want         Role
	}
	w := WriterRole
	rows := []row{
		// sync
		{"GET", "/_matrix/client/v3/sync", RoleSynchrotron},
		{"GET", "/_matrix/client/r0/sync", RoleSynchrotron},
		{"GET", "/_matrix/client/v3/events", RoleSynchrotron},
		{"GET", "/_matrix/client/v3/initialSync", RoleSynchrotron},
		{"GET", "/_matrix/client/v3/rooms/!abc:example.org/initialSync", RoleSynchrotron},
		// stream writers
		{"PUT", "/_matrix/client/v3/rooms/!abc:example.org/typing/@u:example.org", w("typing")},
		{"PUT", "/_matrix/client/v3/sendToDevice/m.room.encrypted/txn123", w("to_device")},
		{"PUT", "/_matrix/client/v3/user/@u:example.org/account_data/m.direct", w("account_data")},
		{"GET", "/_matrix/client/v3/user/@u:example.org/account_data/m.direct", w("account_data")},
		{"PUT", "/_matrix/client/v3/user/@u:example.org/rooms/!abc:example.org/tags/m.favourite", w("account_data")},
		{"POST", "/_matrix/client/v3/rooms/!abc:example.org/receipt/m.read/$ev1", w("receipts")},
		{"POST", "/_matrix/client/v3/rooms/!abc:example.org/read_markers", w("receipts")},
		{"PUT", "/_matrix/client/v3/presence/@u:example.org/status", w("presence")},
		{"PUT", "/_matrix/client/v3/pushrules/global/override/my.rule", w("push_rules")},
		{"GET", "/_matrix/client/v3/pushrules/", w("push_rules")},
		{"POST", "/_matrix/client/v3/keys/upload", w("device_lists")},
		{"GET", "/_matrix/client/v3/devices", w("device_lists")},
		{"DELETE", "/_matrix/client/v3/devices/ABCDEFGH", w("device_lists")},
		{"POST", "/_matrix/client/v3/delete_devices", w("device_lists")},
		{"POST", "/_matrix/client/v3/keys/signatures/upload", w("device_lists")},
		{"PUT", "/_matrix/client/unstable/io.element.msc4306/rooms/!abc:example.org/thread/$root/subscription", w("thread_subscriptions")},
		// media
		{"GET", "/_matrix/media/v3/download/example.org/abcdef", RoleMediaRepository},
		{"POST", "/_matrix/media/v3/upload", RoleMediaRepository},
		{"GET", "/_matrix/client/v1/media/thumbnail/example.org/abcdef", RoleMediaRepository},
		{"GET", "/_matrix/federation/v1/media/download/abcdef", RoleMediaRepository},
		{"POST", "/_synapse/admin/v1/quarantine_media/example.org/abcdef", RoleMediaRepository},
		{"POST", "/_synapse/admin/v1/purge_media_cache", RoleMediaRepository},
		{"GET", "/_synapse/admin/v1/users/@u:example.org/media", RoleMediaRepository},
		{"POST", "/_synapse/admin/v1/room/!abc:example.org/media/quarantine", RoleMediaRepository},
		// /_synapse/media/ is served by no process: not routed.
		{"GET", "/_synapse/media/anything", RoleMain},
		// user directory
		{"POST", "/_matrix/client/v3/user_directory/search", RoleBackground},
		// generic: federation
		{"PUT", "/_matrix/federation/v1/send/1700000000000", RoleGenericWorker},
		{"GET", "/_matrix/federation/v1/event/$ev1", RoleGenericWorker},
		{"PUT", "/_matrix/federation/v2/send_join/!abc:example.org/$ev1", RoleGenericWorker},
		{"GET", "/_matrix/federation/v1/make_knock/!abc:example.org/@u:remote.org", RoleGenericWorker},
		{"POST", "/_matrix/key/v2/query", RoleGenericWorker},
		{"GET", "/_matrix/federation/v1/version", RoleGenericWorker},
		// generic: client
		{"POST", "/_matrix/client/v3/createRoom", RoleGenericWorker},
		{"PUT", "/_matrix/client/v3/rooms/!abc:example.org/send/m.room.message/txn1", RoleGenericWorker},
		{"PUT", "/_matrix/client/v3/rooms/!abc:example.org/state/m.room.topic/", RoleGenericWorker},
		{"POST", "/_matrix/client/v3/rooms/!abc:example.org/invite", RoleGenericWorker},
		{"POST", "/_matrix/client/v3/join/#room:example.org", RoleGenericWorker},
		{"GET", "/_matrix/client/v3/rooms/!abc:example.org/messages", RoleGenericWorker},
		{"GET", "/_matrix/client/v3/rooms/!abc:example.org/members", RoleGenericWorker},
		{"GET", "/_matrix/client/v1/rooms/!abc:example.org/relations/$ev1", RoleGenericWorker},
		{"POST", "/_matrix/client/v3/login", RoleGenericWorker},
		{"POST", "/_matrix/client/v3/register", RoleGenericWorker},
		{"POST", "/_matrix/client/v3/keys/query", RoleGenericWorker},
		{"PUT", "/_matrix/client/v3/room_keys/keys?version=1", RoleGenericWorker},
		{"GET", "/_matrix/client/versions", RoleGenericWorker},
		{"GET", "/_matrix/client/v3/account/whoami", RoleGenericWorker},
		{"GET", "/_matrix/client/v3/profile/@u:example.org/displayname", RoleGenericWorker},
		{"GET", "/_synapse/admin/v1/rooms/!abc:example.org", RoleGenericWorker},
		{"GET", "/_matrix/client/unstable/im.nheko.summary/summary/!abc:example.org", RoleGenericWorker},
		// v1.157.0 additions
		{"GET", "/_matrix/client/v1/room_summary/!abc:example.org", RoleGenericWorker},
		{"GET", "/_matrix/client/v1/room_summary/%23lobby:example.org?via=example.org", RoleGenericWorker},
		{"GET", "/_matrix/client/unstable/org.matrix.msc4140/delayed_events", RoleGenericWorker},
		{"POST", "/_matrix/client/unstable/org.matrix.msc4140/delayed_events/syd_abcdefghij/restart", RoleGenericWorker},
		{"PUT", "/_matrix/client/unstable/org.matrix.msc4140/delayed_events/syd_abcdefghij/restart", RoleGenericWorker},
		{"GET", "/_matrix/client/unstable/org.matrix.msc4140/delayed_events/syd_abcdefghij", RoleGenericWorker},
		{"POST", "/_matrix/client/unstable/org.matrix.msc4140/delayed_events/syd_abcdefghij/cancel", RoleMain},
		{"POST", "/_matrix/client/unstable/org.matrix.msc4140/delayed_events/syd_abcdefghij/restart/x", RoleMain},
		{"GET", "/_synapse/admin/v2/users/@u:x", RoleGenericWorker},
		{"POST", "/_synapse/admin/v2/users/@u:x", RoleMain},
		{"PUT", "/_synapse/admin/v2/users/@u:x", RoleMain},
		{"DELETE", "/_synapse/admin/v2/users/@u:x", RoleMain},
		{"GET", "/_synapse/admin/v2/users/@u:x/extra", RoleMain}, // [^/]+$: one segment
		{"GET", "/_synapse/admin/v2/users", RoleMain},            // the user list is not listed
		// not routed: SSO must reach a single process (main)
		{"GET", "/_matrix/client/v3/login/sso/redirect", RoleMain},
		{"GET", "/_synapse/client/oidc/callback", RoleMain},
	}
	for _, ex := range MainOnlyExamples {
		rows = append(rows, row{ex.Method, ex.Path, RoleMain})
	}
	if len(rows) < 40 {
		t.Fatalf("want at least 40 rows, have %d", len(rows))
	}
	p := classifyPlan(t, true)
	for _, r := range rows {
		if got := roleServing(t, p, r.method, r.path); got != r.want {
			t.Errorf("%s %s: served by %s, want %s", r.method, r.path, got, r.want)
		}
	}
}

// TestEndpointClassifyWithoutWriters: with no stream writers configured, the
// writers' paths fall back to generic workers (GET-only lines, device lists)
// or to main.
func TestEndpointClassifyWithoutWriters(t *testing.T) {
	rows := []struct {
		method, path string
		want         Role
	}{
		{"GET", "/_matrix/client/v3/pushrules/", RoleGenericWorker},
		{"PUT", "/_matrix/client/v3/pushrules/global/override/my.rule", RoleMain},
		{"DELETE", "/_matrix/client/v3/pushrules/global/override/my.rule", RoleMain},
		{"GET", "/_matrix/client/v3/presence/@u:example.org/status", RoleGenericWorker},
		{"PUT", "/_matrix/client/v3/presence/@u:example.org/status", RoleMain},
		{"GET", "/_matrix/client/v3/user/@u:example.org/account_data/m.direct", RoleGenericWorker},
		{"PUT", "/_matrix/client/v3/user/@u:example.org/account_data/m.direct", RoleMain},
		{"PUT", "/_matrix/client/v3/rooms/!abc:example.org/typing/@u:example.org", RoleMain},
		{"PUT", "/_matrix/client/v3/sendToDevice/m.room.encrypted/txn123", RoleMain},
		{"POST", "/_matrix/client/v3/rooms/!abc:example.org/receipt/m.read/$ev1", RoleMain},
		{"POST", "/_matrix/client/v3/keys/upload", RoleGenericWorker},
		{"DELETE", "/_matrix/client/v3/devices/ABCDEFGH", RoleGenericWorker},
		{"PUT", "/_matrix/client/unstable/io.element.msc4306/rooms/!abc:example.org/thread/$root/subscription", RoleMain},
		{"POST", "/_matrix/client/unstable/org.matrix.msc4140/delayed_events/syd_abcdefghij/restart", RoleGenericWorker},
		{"POST", "/_matrix/client/unstable/org.matrix.msc4140/delayed_events/syd_abcdefghij/send", RoleMain},
	}
	p := classifyPlan(t, false)
	for _, r := range rows {
		if got := roleServing(t, p, r.method, r.path); got != r.want {
			t.Errorf("no writers: %s %s: served by %s, want %s", r.method, r.path, got, r.want)
		}
	}
}
