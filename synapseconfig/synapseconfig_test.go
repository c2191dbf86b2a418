package synapseconfig

import (
	"encoding/json"
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"synapse/config"
	"synapse/internal/realtools"
	"synapse/plan"
)

func load(t *testing.T, stack string, override map[string]string) (*config.Config, *plan.Plan, Files) {
	t.Helper()
	c, err := config.ParseStackFile("../Pulumi."+stack+".yaml", override)
	if err != nil {
		t.Fatal(err)
	}
	p := plan.Build(c)
	files, err := Render(c, p, ExternalFor(c, p))
	if err != nil {
		t.Fatal(err)
	}
	return c, p, files
}

func parse(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("rendered YAML does not parse: %v\n%s", err, s)
	}
	return m
}

func TestSharedConfig(t *testing.T) {
	for _, tc := range []struct {
		name       string
		stack      string
		override   map[string]string
		federation bool
		s3         bool
	}{
		{"dev", "dev", nil, false, false},
		{"prod", "prod", nil, true, true},
		{"prod federation off", "prod", map[string]string{"federation": `{"enabled":false}`}, false, true},
		{"dev federation on", "dev", map[string]string{"federation": `{"enabled":true,"senders":2}`}, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, p, files := load(t, tc.stack, tc.override)
			hs := parse(t, files[SharedFile])

			im := hs["instance_map"].(map[string]any)
			if len(im) != len(p.InstanceMap) {
				t.Errorf("instance_map has %d entries, plan %d", len(im), len(p.InstanceMap))
			}
			main := im["main"].(map[string]any)
			if main["host"] != p.Main().Host(0) || main["port"] != plan.PortReplication {
				t.Errorf("instance_map.main = %v", main)
			}
			sw := hs["stream_writers"].(map[string]any)
			for stream, writers := range p.StreamWriters {
				got := sw[stream].([]any)
				if len(got) != len(writers) {
					t.Errorf("stream_writers.%s = %v, want %v", stream, got, writers)
				}
				for _, w := range got {
					name := w.(string)
					if name == "master" {
						name = "main"
					}
					if _, ok := im[name]; !ok {
						t.Errorf("stream_writers.%s names %s, which is not in instance_map", stream, w)
					}
				}
			}
			if hs["enable_media_repo"] != false || hs["media_instance_running_background_jobs"] != "synapse-media-repository-0" {
				t.Errorf("media: enable_media_repo=%v background=%v", hs["enable_media_repo"], hs["media_instance_running_background_jobs"])
			}

			senders, hasSenders := hs["federation_sender_instances"]
			if tc.federation {
				if !hasSenders || len(senders.([]any)) != c.Federation.Senders {
					t.Errorf("federation on: federation_sender_instances = %v, want %d senders", senders, c.Federation.Senders)
				}
				if _, ok := hs["federation_domain_whitelist"]; ok {
					t.Errorf("federation on but a whitelist is set")
				}
				// Explicit, so that Synapse does not warn on every start.
				tks, _ := hs["trusted_key_servers"].([]any)
				if len(tks) != 1 || tks[0].(map[string]any)["server_name"] != "matrix.org" || hs["suppress_key_server_warning"] != true {
					t.Errorf("federation on: trusted_key_servers = %v, suppress_key_server_warning = %v", hs["trusted_key_servers"], hs["suppress_key_server_warning"])
				}
			} else {
				if !hasSenders || len(senders.([]any)) != 0 {
					t.Errorf("federation off: federation_sender_instances = %v, want []", senders)
				}
				if wl, ok := hs["federation_domain_whitelist"]; !ok || len(wl.([]any)) != 0 {
					t.Errorf("federation off: federation_domain_whitelist = %v, want []", wl)
				}
				if tks, ok := hs["trusted_key_servers"]; !ok || len(tks.([]any)) != 0 {
					t.Errorf("federation off: trusted_key_servers = %v, want [] (set, so Synapse neither defaults to matrix.org nor warns)", tks)
				}
			}

			db := hs["database"].(map[string]any)
			args := db["args"].(map[string]any)
			if db["name"] != "psycopg2" || args["cp_min"] != c.DatabasePool.Min || args["cp_max"] != c.DatabasePool.Max ||
				args["host"] != "synapse-postgres-rw."+c.Namespace+".svc.cluster.local" {
				t.Errorf("database = %v", db)
			}
			if _, leaked := args["password"]; leaked {
				t.Errorf("database password in the shared file")
			}
			redis := hs["redis"].(map[string]any)
			if redis["enabled"] != true || redis["port"] != 6379 || redis["password_path"] != "/secrets/redis_password" {
				t.Errorf("redis = %v", redis)
			}
			providers, hasS3 := hs["media_storage_providers"]
			if hasS3 != tc.s3 {
				t.Errorf("media_storage_providers present=%v, want %v", hasS3, tc.s3)
			}
			if tc.s3 {
				prov := providers.([]any)[0].(map[string]any)
				if prov["store_local"] != true || prov["store_synchronous"] != true ||
					prov["config"].(map[string]any)["bucket"] != c.MinIO.Bucket {
					t.Errorf("S3 provider = %v", prov)
				}
			}
			for _, k := range []string{"macaroon_secret_key", "form_secret", "registration_shared_secret", "worker_replication_secret"} {
				if _, inline := hs[k]; inline {
					t.Errorf("%s inline in the shared ConfigMap", k)
				}
				if hs[k+"_path"] != "/secrets/"+k {
					t.Errorf("%s_path = %v", k, hs[k+"_path"])
				}
			}
		})
	}
}

func TestWorkerFiles(t *testing.T) {
	for _, stack := range []string{"dev", "prod"} {
		_, p, files := load(t, stack, nil)
		for _, proc := range p.Processes {
			if proc.Role == plan.RoleMain {
				m := parse(t, files[MainFile])
				if len(m["listeners"].([]any)) != len(proc.Listeners) {
					t.Errorf("%s main listeners = %v", stack, m["listeners"])
				}
				continue
			}
			w := parse(t, files[WorkerFileName(proc)])
			if w["worker_app"] != proc.App || w["worker_name"] != WorkerNamePlaceholder {
				t.Errorf("%s %s: worker_app=%v worker_name=%v", stack, proc.Name, w["worker_app"], w["worker_name"])
			}
			ls := w["worker_listeners"].([]any)
			var ports []int
			for _, l := range ls {
				lm := l.(map[string]any)
				ports = append(ports, lm["port"].(int))
				if lm["type"] == "http" && lm["port"] == plan.PortHTTP && lm["x_forwarded"] != true {
					t.Errorf("%s %s: client listener without x_forwarded", stack, proc.Name)
				}
			}
			for _, port := range proc.Ports {
				if !slices.Contains(ports, port.Port) {
					t.Errorf("%s %s: port %s (%d) has no listener", stack, proc.Name, port.Name, port.Port)
				}
			}
			if !strings.Contains(strings.Join(InitScript(proc), " "), WorkerFileName(proc)) {
				t.Errorf("%s: init script does not read its own worker file", proc.Name)
			}
		}
	}
}

func TestChecksumRollsExactlyWhatChanged(t *testing.T) {
	_, p1, f1 := load(t, "prod", nil)
	// More event persisters: shared config changes, every process restarts.
	_, p2, f2 := load(t, "prod", map[string]string{"pools": `{"eventPersister":{"replicas":7},"background":{"replicas":1},"pusher":{"replicas":2}}`})
	for _, proc := range p1.Processes {
		other, _ := p2.Process(proc.Role)
		if Checksum(f1, proc) == Checksum(f2, other) {
			t.Errorf("%s keeps its checksum although instance_map changed", proc.Name)
		}
	}
	// Only generic workers' resources change: no file changes, no restart.
	_, p3, f3 := load(t, "prod", map[string]string{"pools": `{"generic":{"resources":{"limits":{"memory":"3Gi"}}},"background":{"replicas":1},"pusher":{"replicas":2}}`})
	for _, proc := range p1.Processes {
		other, _ := p3.Process(proc.Role)
		if Checksum(f1, proc) != Checksum(f3, other) {
			t.Errorf("%s checksum changed by a change to another pool's resources", proc.Name)
		}
	}
}

func TestSigningKeyFormat(t *testing.T) {
	seed := make([]byte, 32)
	got := SigningKey(seed)
	fields := strings.Fields(got)
	if len(fields) != 3 || fields[0] != "ed25519" || !strings.HasPrefix(fields[1], "a_") || len(fields[2]) != 43 || strings.HasSuffix(fields[2], "=") {
		t.Errorf("signing key %q is not `ed25519 <id> <unpadded base64 of 32 bytes>`", got)
	}
}

// prodFoci is the MSC4143 transport list of the prod stack file.
const prodFoci = `"org.matrix.msc4143.rtc_foci":[{"livekit_service_url":"https://rtc.example.org","type":"livekit"}]`

func TestWellKnown(t *testing.T) {
	for _, tc := range []struct {
		stack    string
		override map[string]string
		client   string
		server   string // "" = not served
	}{
		// With MAS and RTC (prod): MAS's issuer and account page (MSC2965) and
		// the call backend.
		{"prod", nil, `{"m.homeserver":{"base_url":"https://matrix.example.org"},"org.matrix.msc2965.authentication":{"account":"https://auth.example.org/account/","issuer":"https://auth.example.org/"},` + prodFoci + `}`, `{"m.server":"matrix.example.org:443"}`},
		{"prod", map[string]string{"rtc": `{"enabled":false}`}, `{"m.homeserver":{"base_url":"https://matrix.example.org"},"org.matrix.msc2965.authentication":{"account":"https://auth.example.org/account/","issuer":"https://auth.example.org/"}}`, `{"m.server":"matrix.example.org:443"}`},
		// Without federation, the RTC authorization service still finds
		// the server's openid/userinfo through /.well-known/matrix/server.
		{"prod", map[string]string{"federation": `{"enabled":false}`}, `{"m.homeserver":{"base_url":"https://matrix.example.org"},"org.matrix.msc2965.authentication":{"account":"https://auth.example.org/account/","issuer":"https://auth.example.org/"},` + prodFoci + `}`, `{"m.server":"matrix.example.org:443"}`},
		{"prod", map[string]string{"federation": `{"enabled":false}`, "rtc": `{"enabled":false}`, "mas": `{"enabled":false}`}, `{"m.homeserver":{"base_url":"https://matrix.example.org"}}`, ""},
		{"dev", nil, `{"m.homeserver":{"base_url":"http://matrix.localhost:8008"},"org.matrix.msc2965.authentication":{"account":"http://auth.matrix.localhost:8008/account/","issuer":"http://auth.matrix.localhost:8008/"}}`, ""},
	} {
		c, _, _ := load(t, tc.stack, tc.override)
		wk := WellKnown(c)
		if wk[WellKnownClient] != tc.client {
			t.Errorf("%s client = %s, want %s", tc.stack, wk[WellKnownClient], tc.client)
		}
		if got, ok := wk[WellKnownServer]; got != tc.server || ok != (tc.server != "") {
			t.Errorf("%s server = %q (served %v), want %q", tc.stack, got, ok, tc.server)
		}
	}
}

// TestMediaRetention: homeserver.yaml carries media_retention exactly as
// configured, and no media_retention at all when no lifetime is set (then
// Synapse purges nothing).
func TestMediaRetention(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		want        map[string]any // nil: no media_retention key
	}{
		{"unset", "", nil},
		{"empty object", `{}`, nil},
		{"remote only", `{"remoteMediaLifetime":"90d"}`, map[string]any{"remote_media_lifetime": "90d"}},
		{"local only", `{"localMediaLifetime":"2y"}`, map[string]any{"local_media_lifetime": "2y"}},
		{"both", `{"localMediaLifetime":"365d","remoteMediaLifetime":"4w"}`,
			map[string]any{"local_media_lifetime": "365d", "remote_media_lifetime": "4w"}},
	} {
		for _, stack := range []string{"dev", "prod"} {
			t.Run(stack+" "+tc.name, func(t *testing.T) {
				override := map[string]string{}
				if tc.value != "" {
					override["mediaRetention"] = tc.value
				}
				_, _, files := load(t, stack, override)
				hs := parse(t, files[SharedFile])
				got, present := hs["media_retention"]
				switch {
				case tc.want == nil && present:
					t.Fatalf("media_retention = %v, want no key (nothing purged)", got)
				case tc.want == nil:
				case !present:
					t.Fatalf("no media_retention, want %v", tc.want)
				default:
					if !reflect.DeepEqual(got, tc.want) {
						t.Errorf("media_retention = %#v, want %#v", got, tc.want)
					}
				}
			})
		}
	}
}

// TestMediaCacheScript runs the media cache's own tests (a real directory,
// a fake S3): idle files evicted only once S3 holds them, missing ones
// uploaded first, the URL cache and files in flight never touched, the size
// bound evicting least recently used first, and nothing evicted without a
// synchronous S3 provider in homeserver.yaml.
func TestMediaCacheScript(t *testing.T) {
	python := realtools.LookPath(t, "python3", "apt-get install python3 python3-yaml")
	if err := exec.Command(python, "-c", "import yaml").Run(); err != nil {
		realtools.Missing(t, "python3 has no yaml module: run 'apt-get install python3-yaml'")
	}
	out, err := exec.Command(python, "-B", "testdata/test_media_cache.py", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("media_cache.py tests failed: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "\nOK") {
		t.Fatalf("no OK from the media cache tests:\n%s", out)
	}
}

// TestMediaCacheArgs: the container runs the embedded script on the media
// store with homeserver.yaml (where it finds the S3 provider) and the
// configured bounds.
func TestMediaCacheArgs(t *testing.T) {
	args := MediaCacheArgs(config.MediaCache{Enabled: true, MaxIdleDays: 3, MaxUsagePercent: 70})
	if args[0] != "-c" || args[1] != MediaCacheScript || !strings.Contains(MediaCacheScript, "def run_once") {
		t.Fatalf("args do not run the script: %q", args[:1])
	}
	got := strings.Join(args[2:], " ")
	want := "--media " + MediaDir + " --config " + ConfigDir + "/" + SharedFile + " --max-idle-days 3 --max-usage-percent 70"
	if got != want {
		t.Errorf("args %q, want %q", got, want)
	}
}

// TestElementWebConfig: config.json is JSON naming this homeserver (base
// URL and server name) and nothing secret.
func TestElementWebConfig(t *testing.T) {
	c, err := config.Parse(map[string]string{"serverName": "example.org", "publicBaseUrl": "https://matrix.example.org/"})
	if err != nil {
		t.Fatal(err)
	}
	text, err := ElementWebConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Default struct {
			HS struct {
				BaseURL    string `json:"base_url"`
				ServerName string `json:"server_name"`
			} `json:"m.homeserver"`
		} `json:"default_server_config"`
		DisableCustomURLs *bool `json:"disable_custom_urls"`
		DisableGuests     bool  `json:"disable_guests"`
		RoomDirectory     struct {
			Servers []string `json:"servers"`
		} `json:"room_directory"`
	}
	if err := json.Unmarshal([]byte(text), &doc); err != nil {
		t.Fatalf("config.json is not JSON: %v\n%s", err, text)
	}
	if doc.Default.HS.BaseURL != "https://matrix.example.org" || doc.Default.HS.ServerName != "example.org" {
		t.Errorf("m.homeserver = %+v", doc.Default.HS)
	}
	if doc.DisableCustomURLs == nil || *doc.DisableCustomURLs || !doc.DisableGuests {
		t.Errorf("disable_custom_urls %v, disable_guests %v", doc.DisableCustomURLs, doc.DisableGuests)
	}
	if len(doc.RoomDirectory.Servers) != 1 || doc.RoomDirectory.Servers[0] != "example.org" {
		t.Errorf("room_directory.servers = %v", doc.RoomDirectory.Servers)
	}
	// The client's discovery and Element's default agree.
	var wk struct {
		HS struct {
			BaseURL string `json:"base_url"`
		} `json:"m.homeserver"`
	}
	if err := json.Unmarshal([]byte(WellKnown(c)[WellKnownClient]), &wk); err != nil || wk.HS.BaseURL != doc.Default.HS.BaseURL {
		t.Errorf(".well-known base_url %q, Element's %q (%v)", wk.HS.BaseURL, doc.Default.HS.BaseURL, err)
	}
}
