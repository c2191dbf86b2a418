package plan

import (
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"
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

func endpointMatches(e Endpoint, method, path string) bool {
	if e.Methods != nil {
		ok := false
		for _, m := range e.Methods {
			if m == method {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	return regexp.MustCompile(e.Pattern).MatchString(path)
}

// endpointClassify routes a request the way HAProxy must: stream writers
// (only those in writers), then media, sync, user directory, generic; first
// match wins. "none" means the main process.
func endpointClassify(method, path string, writers map[string]bool) string {
	streams := make([]string, 0, len(StreamWriterEndpoints))
	for s := range StreamWriterEndpoints {
		streams = append(streams, s)
	}
	sort.Strings(streams)
	for _, s := range streams {
		if !writers[s] {
			continue
		}
		for _, e := range StreamWriterEndpoints[s] {
			if endpointMatches(e, method, path) {
				return "stream:" + s
			}
		}
	}
	for _, l := range []struct {
		name string
		eps  []Endpoint
	}{
		{"media", MediaRepositoryEndpoints},
		{"sync", SyncEndpoints},
		{"userdir", UserDirectoryEndpoints},
		{"generic", GenericWorkerEndpoints},
	} {
		for _, e := range l.eps {
			if endpointMatches(e, method, path) {
				return l.name
			}
		}
	}
	return "none"
}

func endpointAllWriters() map[string]bool {
	w := map[string]bool{}
	for s := range StreamWriterEndpoints {
		w[s] = true
	}
	return w
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
			if strings.Contains(e.Pattern, "delayed_events") && !(len(e.Methods) == 1 && e.Methods[0] == "GET") {
				t.Errorf("%s: %q: delayed_events must be GET-only on workers", name, e.Pattern)
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

func TestEndpointClassify(t *testing.T) {
	type row struct{ method, path, want string }
	rows := []row{
		// sync
		{"GET", "/_matrix/client/v3/sync", "sync"},
		{"GET", "/_matrix/client/r0/sync", "sync"},
		{"GET", "/_matrix/client/v3/events", "sync"},
		{"GET", "/_matrix/client/v3/initialSync", "sync"},
		{"GET", "/_matrix/client/v3/rooms/!abc:example.org/initialSync", "sync"},
		// stream writers
		{"PUT", "/_matrix/client/v3/rooms/!abc:example.org/typing/@u:example.org", "stream:typing"},
		{"PUT", "/_matrix/client/v3/sendToDevice/m.room.encrypted/txn123", "stream:to_device"},
		{"PUT", "/_matrix/client/v3/user/@u:example.org/account_data/m.direct", "stream:account_data"},
		{"GET", "/_matrix/client/v3/user/@u:example.org/account_data/m.direct", "stream:account_data"},
		{"PUT", "/_matrix/client/v3/user/@u:example.org/rooms/!abc:example.org/tags/m.favourite", "stream:account_data"},
		{"POST", "/_matrix/client/v3/rooms/!abc:example.org/receipt/m.read/$ev1", "stream:receipts"},
		{"POST", "/_matrix/client/v3/rooms/!abc:example.org/read_markers", "stream:receipts"},
		{"PUT", "/_matrix/client/v3/presence/@u:example.org/status", "stream:presence"},
		{"PUT", "/_matrix/client/v3/pushrules/global/override/my.rule", "stream:push_rules"},
		{"GET", "/_matrix/client/v3/pushrules/", "stream:push_rules"},
		{"POST", "/_matrix/client/v3/keys/upload", "stream:device_lists"},
		{"GET", "/_matrix/client/v3/devices", "stream:device_lists"},
		{"DELETE", "/_matrix/client/v3/devices/ABCDEFGH", "stream:device_lists"},
		{"POST", "/_matrix/client/v3/delete_devices", "stream:device_lists"},
		{"POST", "/_matrix/client/v3/keys/signatures/upload", "stream:device_lists"},
		{"PUT", "/_matrix/client/unstable/io.element.msc4306/rooms/!abc:example.org/thread/$root/subscription", "stream:thread_subscriptions"},
		// media
		{"GET", "/_matrix/media/v3/download/example.org/abcdef", "media"},
		{"POST", "/_matrix/media/v3/upload", "media"},
		{"GET", "/_matrix/client/v1/media/thumbnail/example.org/abcdef", "media"},
		{"GET", "/_matrix/federation/v1/media/download/abcdef", "media"},
		{"POST", "/_synapse/admin/v1/quarantine_media/example.org/abcdef", "media"},
		{"POST", "/_synapse/admin/v1/purge_media_cache", "media"},
		{"GET", "/_synapse/admin/v1/users/@u:example.org/media", "media"},
		{"POST", "/_synapse/admin/v1/room/!abc:example.org/media/quarantine", "media"},
		// user directory
		{"POST", "/_matrix/client/v3/user_directory/search", "userdir"},
		// generic: federation
		{"PUT", "/_matrix/federation/v1/send/1700000000000", "generic"},
		{"GET", "/_matrix/federation/v1/event/$ev1", "generic"},
		{"PUT", "/_matrix/federation/v2/send_join/!abc:example.org/$ev1", "generic"},
		{"GET", "/_matrix/federation/v1/make_knock/!abc:example.org/@u:remote.org", "generic"},
		{"POST", "/_matrix/key/v2/query", "generic"},
		{"GET", "/_matrix/federation/v1/version", "generic"},
		// generic: client
		{"POST", "/_matrix/client/v3/createRoom", "generic"},
		{"PUT", "/_matrix/client/v3/rooms/!abc:example.org/send/m.room.message/txn1", "generic"},
		{"PUT", "/_matrix/client/v3/rooms/!abc:example.org/state/m.room.topic/", "generic"},
		{"POST", "/_matrix/client/v3/rooms/!abc:example.org/invite", "generic"},
		{"POST", "/_matrix/client/v3/join/#room:example.org", "generic"},
		{"GET", "/_matrix/client/v3/rooms/!abc:example.org/messages", "generic"},
		{"GET", "/_matrix/client/v3/rooms/!abc:example.org/members", "generic"},
		{"GET", "/_matrix/client/v1/rooms/!abc:example.org/relations/$ev1", "generic"},
		{"POST", "/_matrix/client/v3/login", "generic"},
		{"POST", "/_matrix/client/v3/register", "generic"},
		{"POST", "/_matrix/client/v3/keys/query", "generic"},
		{"PUT", "/_matrix/client/v3/room_keys/keys?version=1", "generic"},
		{"GET", "/_matrix/client/versions", "generic"},
		{"GET", "/_matrix/client/v3/account/whoami", "generic"},
		{"GET", "/_matrix/client/v3/profile/@u:example.org/displayname", "generic"},
		{"GET", "/_matrix/client/unstable/org.matrix.msc4140/delayed_events", "generic"},
		{"GET", "/_synapse/admin/v1/rooms/!abc:example.org", "generic"},
		{"GET", "/_matrix/client/unstable/im.nheko.summary/summary/!abc:example.org", "generic"},
		// not routed: SSO must reach a single process (main)
		{"GET", "/_matrix/client/v3/login/sso/redirect", "none"},
		{"GET", "/_synapse/client/oidc/callback", "none"},
	}
	for _, ex := range MainOnlyExamples {
		rows = append(rows, row{ex.Method, ex.Path, "none"})
	}
	if len(rows) < 40 {
		t.Fatalf("want at least 40 rows, have %d", len(rows))
	}
	all := endpointAllWriters()
	for _, r := range rows {
		path := r.path
		if i := strings.IndexByte(path, '?'); i >= 0 {
			path = path[:i] // HAProxy matches on path, without the query
		}
		if got := endpointClassify(r.method, path, all); got != r.want {
			t.Errorf("%s %s: got %s, want %s", r.method, r.path, got, r.want)
		}
	}
}

// TestEndpointClassifyWithoutWriters: with no stream writers configured, the
// writers' paths fall back to generic workers (GET-only lines, device lists)
// or to main.
func TestEndpointClassifyWithoutWriters(t *testing.T) {
	rows := []struct{ method, path, want string }{
		{"GET", "/_matrix/client/v3/pushrules/", "generic"},
		{"PUT", "/_matrix/client/v3/pushrules/global/override/my.rule", "none"},
		{"DELETE", "/_matrix/client/v3/pushrules/global/override/my.rule", "none"},
		{"GET", "/_matrix/client/v3/presence/@u:example.org/status", "generic"},
		{"PUT", "/_matrix/client/v3/presence/@u:example.org/status", "none"},
		{"GET", "/_matrix/client/v3/user/@u:example.org/account_data/m.direct", "generic"},
		{"PUT", "/_matrix/client/v3/user/@u:example.org/account_data/m.direct", "none"},
		{"PUT", "/_matrix/client/v3/rooms/!abc:example.org/typing/@u:example.org", "none"},
		{"PUT", "/_matrix/client/v3/sendToDevice/m.room.encrypted/txn123", "none"},
		{"POST", "/_matrix/client/v3/rooms/!abc:example.org/receipt/m.read/$ev1", "none"},
		{"POST", "/_matrix/client/v3/keys/upload", "generic"},
		{"DELETE", "/_matrix/client/v3/devices/ABCDEFGH", "generic"},
		{"PUT", "/_matrix/client/unstable/io.element.msc4306/rooms/!abc:example.org/thread/$root/subscription", "none"},
	}
	for _, r := range rows {
		if got := endpointClassify(r.method, r.path, nil); got != r.want {
			t.Errorf("no writers: %s %s: got %s, want %s", r.method, r.path, got, r.want)
		}
	}
}
