package plan

import (
	"strings"
	"testing"

	"synapse/config"
)

// stacks are the configs every plan property is checked against.
func stacks(t *testing.T) map[string]*config.Config {
	t.Helper()
	out := map[string]*config.Config{}
	for _, name := range []string{"dev", "prod"} {
		raw, err := config.ReadStackFile("../Pulumi." + name + ".yaml")
		if err != nil {
			t.Fatal(err)
		}
		c, err := config.Parse(raw)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[name] = c
		if name == "prod" {
			raw["federation"] = `{"enabled":false}`
			c, err := config.Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			out["prod-nofed"] = c
		}
	}
	for _, tier := range []string{"small", "medium", "xlarge"} {
		c, err := config.Parse(map[string]string{"serverName": "example.org", "tier": tier, "minio": `{"enabled":true}`,
			"mediaImage": "r.io/s3:1", "federation": `{"enabled":true}`,
			"streamWriters": `{"account_data":1,"push_rules":1,"device_lists":3,"thread_subscriptions":2}`,
			"pools":         `{"pusher":{"replicas":2},"background":{"replicas":1},"initialSync":{"replicas":2}}`})
		if err != nil {
			t.Fatal(err)
		}
		out[tier] = c
	}
	return out
}

func TestInstanceMapHoldsMainAndEveryWriter(t *testing.T) {
	for name, c := range stacks(t) {
		p := Build(c)
		members := map[string]InstanceMapEntry{}
		for _, e := range p.InstanceMap {
			if _, dup := members[e.Name]; dup {
				t.Errorf("%s: %s twice in instance_map", name, e.Name)
			}
			members[e.Name] = e
		}
		if m, ok := members[InstanceMapMain]; !ok || m.Host != "synapse-main-0.synapse-main."+c.Namespace+".svc.cluster.local" || m.Port != PortReplication {
			t.Errorf("%s: main in instance_map = %+v", name, m)
		}
		for _, proc := range p.Processes {
			if proc.Role == RoleEventPersister || proc.Role.IsStreamWriter() {
				for i, w := range proc.InstanceNames() {
					e, ok := members[w]
					if !ok {
						t.Errorf("%s: writer %s not in instance_map", name, w)
						continue
					}
					if e.Host != proc.Host(i) || e.Port != proc.Port(PortNameReplication) {
						t.Errorf("%s: %s at %s:%d, want %s:%d", name, w, e.Host, e.Port, proc.Host(i), proc.Port(PortNameReplication))
					}
					if proc.Kind != StatefulSet {
						t.Errorf("%s: %s is in instance_map but not a StatefulSet", name, proc.Name)
					}
				}
			}
		}
		for stream, writers := range p.StreamWriters {
			for _, w := range writers {
				key := w
				if w == StreamWriterMain {
					key = InstanceMapMain // "master" in stream_writers is "main" in instance_map
				}
				if _, ok := members[key]; !ok {
					t.Errorf("%s: stream %s writer %s is not in instance_map", name, stream, w)
				}
			}
			s, known := config.StreamByName(stream)
			if known && !s.MultiWriter && len(writers) > 1 {
				t.Errorf("%s: single-writer stream %s has writers %v", name, stream, writers)
			}
		}
		if got, want := len(p.StreamWriters["events"]), c.Pools[config.PoolEventPersister].Replicas; got != want {
			t.Errorf("%s: %d event persisters in stream_writers, want %d", name, got, want)
		}
	}
}

func TestFederation(t *testing.T) {
	for name, c := range stacks(t) {
		p := Build(c)
		_, hasSender := p.Process(RoleFederationSender)
		fedRoutes := 0
		for _, r := range p.Routes {
			if strings.HasPrefix(r.Pattern, "^/_matrix/federation") || strings.HasPrefix(r.Pattern, "^/_matrix/key") {
				fedRoutes++
			}
		}
		fedListener := false
		for _, proc := range p.Processes {
			for _, l := range proc.Listeners {
				for _, r := range l.Resources {
					fedListener = fedListener || r == ResFederation
				}
			}
		}
		if c.Federation.Enabled {
			if !hasSender || len(p.FederationSenders) != c.Federation.Senders || fedRoutes == 0 || !fedListener {
				t.Errorf("%s: federation on but senders=%v (%d) routes=%d listener=%v", name, hasSender, len(p.FederationSenders), fedRoutes, fedListener)
			}
			continue
		}
		if hasSender || len(p.FederationSenders) > 0 || fedRoutes > 0 || fedListener {
			t.Errorf("%s: federation off but senders=%v routes=%d federation listener=%v", name, hasSender, fedRoutes, fedListener)
		}
		if got := p.Match("PUT", "/_matrix/federation/v1/send/123", false); got != p.MainBackend {
			t.Errorf("%s: federation off, /send/ goes to %s; want main (which refuses it)", name, got)
		}
	}
}

func TestMediaNeverFallsBackToMain(t *testing.T) {
	for name, c := range stacks(t) {
		p := Build(c)
		media, ok := p.Process(RoleMediaRepository)
		if !ok {
			t.Fatalf("%s: no media repository", name)
		}
		if media.FallbackToMain {
			t.Errorf("%s: media process may fall back to main", name)
		}
		for _, b := range p.Backends {
			if b.Process == media.Name && b.FallbackToMain {
				t.Errorf("%s: media backend %s falls back to main (main has enable_media_repo: false)", name, b.Name)
			}
		}
		for _, path := range []string{"/_matrix/media/v3/download/example.org/abc", "/_matrix/client/v1/media/thumbnail/example.org/abc"} {
			if b, _ := p.Backend(p.Match("GET", path, false)); b.Process != media.Name {
				t.Errorf("%s: %s goes to %q, want media", name, path, b.Name)
			}
		}
		if b, _ := p.Backend(p.Match("POST", "/_synapse/admin/v1/media/quarantine/example.org/abc", false)); b.Ordinal != 0 {
			t.Errorf("%s: quarantine must reach media-0 (the quarantined_media_changes writer), got backend %+v", name, b)
		}
	}
}

func TestEveryBackendNamesARealProcessAndPort(t *testing.T) {
	for name, c := range stacks(t) {
		p := Build(c)
		for _, b := range p.Backends {
			proc, ok := findByName(p, b.Process)
			if !ok {
				t.Errorf("%s: backend %s names missing process %s", name, b.Name, b.Process)
				continue
			}
			if !proc.ServesHTTP || !proc.HasPort(PortNameHTTP) {
				t.Errorf("%s: backend %s sends to %s, which serves no HTTP", name, b.Name, proc.Name)
			}
			if b.Ordinal >= proc.Replicas {
				t.Errorf("%s: backend %s pinned to missing ordinal %d", name, b.Name, b.Ordinal)
			}
		}
		for _, r := range p.Routes {
			if _, ok := p.Backend(r.Backend); !ok {
				t.Errorf("%s: route %s names missing backend %s", name, r.Pattern, r.Backend)
			}
		}
	}
}

func findByName(p *Plan, n string) (Process, bool) {
	for _, proc := range p.Targets() {
		if proc.Name == n {
			return proc, true
		}
	}
	return Process{}, false
}

func TestRoutesAgreeWithSynapse(t *testing.T) {
	c := stacks(t)["prod"]
	p := Build(c)
	cases := []struct{ method, path, want string }{
		{"GET", "/_matrix/client/v3/sync", "synchrotron-user"},
		{"POST", "/_matrix/client/v3/logout", "mas"}, // prod runs MAS
		{"POST", "/_matrix/client/v3/account/password", "main"},
		{"GET", "/_synapse/admin/v1/server_version", "main"},
		{"PUT", "/_matrix/client/v3/rooms/!r:example.org/typing/@u:example.org", "typing-writer"},
		{"PUT", "/_matrix/client/v3/sendToDevice/m.room.encrypted/1", "to-device-writer"},
		{"PUT", "/_matrix/client/v3/presence/@u:example.org/status", "presence-writer"},
		{"POST", "/_matrix/client/v3/rooms/!r:example.org/receipt/m.read/$e", "receipts-writer"},
		{"PUT", "/_matrix/client/v3/pushrules/global/override/x", "push-rules-writer"},
		{"POST", "/_matrix/client/v3/keys/upload", "device-lists-writer"},
		{"GET", "/_matrix/client/v3/rooms/!r:example.org/messages", "generic-worker-room"},
		{"PUT", "/_matrix/federation/v1/send/1234", "generic-worker-origin"},
		{"POST", "/_matrix/client/v3/user_directory/search", "background-worker"},
		{"GET", "/_matrix/client/v3/auth/m.login.recaptcha/fallback/web", "main"},
	}
	for _, tc := range cases {
		if got := p.Match(tc.method, tc.path, true); got != tc.want {
			t.Errorf("%s %s → %s, want %s", tc.method, tc.path, got, tc.want)
		}
	}
	// With an initial-sync pool, a sync without `since` goes there.
	x := Build(stacks(t)["xlarge"])
	if got := x.Match("GET", "/_matrix/client/v3/sync", false); got != "initial-synchrotron-user" {
		t.Errorf("initial sync → %s", got)
	}
	if got := x.Match("GET", "/_matrix/client/v3/sync", true); got != "synchrotron-user" {
		t.Errorf("incremental sync → %s", got)
	}
	// /events paginates with `from`, never `since`: it is not an initial sync.
	if got := x.Match("GET", "/_matrix/client/v3/events", false); got != "synchrotron-user" {
		t.Errorf("/events without since → %s, want the synchrotrons", got)
	}
	// Without a push-rules writer, writes go to main and reads to generic workers.
	d := Build(stacks(t)["dev"])
	if got := d.Match("PUT", "/_matrix/client/v3/pushrules/global/override/x", true); got != "main" {
		t.Errorf("dev pushrules PUT → %s, want main", got)
	}
	if got := d.Match("GET", "/_matrix/client/v3/pushrules/", true); got != "generic-worker" {
		t.Errorf("dev pushrules GET → %s, want generic-worker", got)
	}
}

func TestMaxConnections(t *testing.T) {
	all := stacks(t)
	// dev: main, persister, 4 writers, media, synchrotron, generic: 9 × 10,
	// MAS's one replica × its pool of 10, + 50.
	if got := Build(all["dev"]).MaxConnections(); got != 9*10+10+50 {
		t.Errorf("dev max_connections = %d, want %d", got, 9*10+10+50)
	}
	// With MAS, its replicas × its pool of 10 on top.
	c := *all["dev"]
	c.MAS.Enabled, c.MAS.Replicas = true, 3
	if got := Build(&c).MaxConnections(); got != 9*10+3*10+50 {
		t.Errorf("dev with 3 MAS replicas: max_connections = %d, want %d", got, 9*10+3*10+50)
	}
	// prod (large): main 1, persisters 6, writers 1+1+1+1+1+2+2, media 8 (HPA max),
	// synchrotrons 16, generic 16, federation senders 4, pushers 2, background 1.
	// MAS: 2 replicas × 10.
	wantProd := (1+6+9+8+16+16+4+2+1)*10 + 2*10 + 50
	if got := Build(all["prod"]).MaxConnections(); got != wantProd {
		t.Errorf("prod max_connections = %d, want %d", got, wantProd)
	}
	if got := Build(all["prod-nofed"]).MaxConnections(); got != wantProd-4*10 {
		t.Errorf("prod without federation = %d, want %d (no senders)", got, wantProd-40)
	}
}

func TestStatefulNamesAndKinds(t *testing.T) {
	p := Build(stacks(t)["prod"])
	for _, proc := range p.Processes {
		// Every pool is either named in shared config or hash-balanced by
		// HAProxy (generic workers: /messages per room), so all are
		// StatefulSets with stable per-ordinal names.
		if proc.Kind != StatefulSet {
			t.Errorf("%s is a %s, want a StatefulSet", proc.Name, proc.Kind)
		}
		if len(proc.Name) > 52 {
			t.Errorf("%s: name too long for StatefulSet pod names with ordinals", proc.Name)
		}
		if proc.Autoscale != nil && (proc.InInstanceMap && proc.Role != RoleMediaRepository) {
			t.Errorf("%s is named in instance_map but autoscaled", proc.Name)
		}
	}
}

// TestOpenIDForRTC: the MatrixRTC authorization service checks OpenID
// tokens on /_matrix/federation/v1/openid/userinfo. Main serves it through
// its federation resource when federating, through the openid resource
// alone when RTC is on without federation, and not at all otherwise; no
// other process gets it, and the request goes to main.
func TestOpenIDForRTC(t *testing.T) {
	for _, tc := range []struct {
		name                string
		federation, rtc     bool
		wantFed, wantOpenID bool
	}{
		{"federation on, rtc on", true, true, true, false},
		{"federation on, rtc off", true, false, true, false},
		{"federation off, rtc on", false, true, false, true},
		{"federation off, rtc off", false, false, false, false},
	} {
		c, err := config.Parse(map[string]string{"serverName": "example.org",
			"federation": `{"enabled":` + boolText(tc.federation) + `}`, "rtc": `{"enabled":` + boolText(tc.rtc) + `}`})
		if err != nil {
			t.Fatal(err)
		}
		p := Build(c)
		for _, proc := range p.Processes {
			res := map[string]bool{}
			for _, l := range proc.Listeners {
				for _, r := range l.Resources {
					res[r] = true
				}
			}
			isMain := proc.Role == RoleMain
			if res[ResOpenID] != (isMain && tc.wantOpenID) {
				t.Errorf("%s: %s serves openid=%v", tc.name, proc.Name, res[ResOpenID])
			}
			if isMain && res[ResFederation] != tc.wantFed {
				t.Errorf("%s: main serves federation=%v, want %v", tc.name, res[ResFederation], tc.wantFed)
			}
		}
		if got := p.Match("GET", "/_matrix/federation/v1/openid/userinfo", false); got != p.MainBackend {
			t.Errorf("%s: openid/userinfo goes to %s, want main", tc.name, got)
		}
	}
}

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
