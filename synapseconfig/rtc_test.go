package synapseconfig

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"synapse/config"
	"synapse/plan"
)

// liveKitFile mirrors the keys of LiveKit's config.yaml this program
// writes, with LiveKit's own yaml tags (livekit/livekit pkg/config
// Config, RTCConfig, RoomConfig, TURNConfig, WebHookConfig, RedisConfig;
// mediatransportutil rtcconfig for rtc.tcp_port/udp_port/use_external_ip/
// node_ip; protocol logger.Config for logging.level/json). LiveKit decodes
// its file with KnownFields(true): decoding strictly here catches a key it
// would refuse.
type liveKitFile struct {
	Port uint32 `yaml:"port"`
	RTC  struct {
		TCPPort       uint32 `yaml:"tcp_port"`
		UDPPort       uint32 `yaml:"udp_port"`
		UseExternalIP bool   `yaml:"use_external_ip"`
		NodeIP        string `yaml:"node_ip"`
	} `yaml:"rtc"`
	Redis *struct {
		Address  string `yaml:"address"`
		Password string `yaml:"password"`
	} `yaml:"redis"`
	Room struct {
		AutoCreate *bool `yaml:"auto_create"`
	} `yaml:"room"`
	TURN *struct {
		Enabled  bool   `yaml:"enabled"`
		Domain   string `yaml:"domain"`
		CertFile string `yaml:"cert_file"`
		KeyFile  string `yaml:"key_file"`
		TLSPort  int    `yaml:"tls_port"`
		UDPPort  int    `yaml:"udp_port"`
	} `yaml:"turn"`
	WebHook struct {
		URLs   []string `yaml:"urls"`
		APIKey string   `yaml:"api_key"`
	} `yaml:"webhook"`
	KeyFile string            `yaml:"key_file"`
	Keys    map[string]string `yaml:"keys"`
	Logging struct {
		Level     string `yaml:"level"`
		JSON      bool   `yaml:"json"`
		PionLevel string `yaml:"pion_level"`
	} `yaml:"logging"`
}

// devIngress turns the dev stack's Ingress on (for its own host, the host
// of publicBaseUrl): calls need it.
const devIngress = `{"enabled":true,"host":"matrix.localhost"}`

// rtcCases are the RTC variants every rendered file is checked for.
var rtcCases = []struct {
	name     string
	stack    string
	override map[string]string
}{
	{"prod", "prod", nil},
	{"prod-federation-off", "prod", map[string]string{"federation": `{"enabled":false}`}},
	{"nodeport-three-replicas", "prod", map[string]string{"rtc": `{"enabled":true,"tlsSecretName":"rtc-example-org-tls","livekit":{"replicas":3},"media":{"serviceType":"NodePort","externalAddress":"hostIP"},"turn":{"enabled":true}}`}},
	// dev with its Ingress on (calls are refused without one).
	{"stun-no-turn", "dev", map[string]string{"rtc": `{"enabled":true}`, "ingress": devIngress}},
}

// TestLiveKitConfigParsedBack: LiveKit's file, decoded as strictly as
// LiveKit decodes it, says what the config says: the media ports the
// Service exposes, the advertised address, keys from the Secret's file
// (no key in the file), rooms created by the authorization service only,
// the webhook to that service, Redis exactly with several replicas, TURN
// exactly as configured.
func TestLiveKitConfigParsedBack(t *testing.T) {
	for _, tc := range rtcCases {
		t.Run(tc.name, func(t *testing.T) {
			c, p, _ := load(t, tc.stack, tc.override)
			text, err := LiveKitConfig(c, p)
			if err != nil {
				t.Fatal(err)
			}
			var f liveKitFile
			dec := yaml.NewDecoder(strings.NewReader(text))
			dec.KnownFields(true)
			if err := dec.Decode(&f); err != nil {
				t.Fatalf("LiveKit would refuse its config: %v\n%s", err, text)
			}
			r := c.RTC
			if f.Port != config.LiveKitHTTPPort || f.RTC.TCPPort != uint32(r.Media.TCPPort) || f.RTC.UDPPort != uint32(r.Media.UDPPort) {
				t.Errorf("ports: %+v %+v, want http %d tcp %d udp %d", f.Port, f.RTC, config.LiveKitHTTPPort, r.Media.TCPPort, r.Media.UDPPort)
			}
			if f.RTC.UseExternalIP != (r.Media.ExternalAddress == config.AddressSTUN) || f.RTC.NodeIP != r.Media.ExternalIP() {
				t.Errorf("address %q: use_external_ip %v node_ip %q", r.Media.ExternalAddress, f.RTC.UseExternalIP, f.RTC.NodeIP)
			}
			if f.KeyFile != RTCSecretsDir+"/"+LiveKitKeysFile || len(f.Keys) != 0 {
				t.Errorf("keys must come from the Secret's file: key_file %q keys %v", f.KeyFile, f.Keys)
			}
			if f.Room.AutoCreate == nil || *f.Room.AutoCreate {
				t.Errorf("room.auto_create must be false (only the authorization service creates rooms)")
			}
			auth := p.RTCAuthorization()
			want := fmt.Sprintf("http://%s.%s.svc.cluster.local:%d/sfu_webhook", plan.RTCAuthorizationName, c.Namespace, auth.Port)
			if len(f.WebHook.URLs) != 1 || f.WebHook.URLs[0] != want || f.WebHook.APIKey != LiveKitAPIKey {
				t.Errorf("webhook %+v, want %s signed with %s", f.WebHook, want, LiveKitAPIKey)
			}
			if (f.Redis != nil) != (r.LiveKit.Replicas > 1) {
				t.Errorf("redis %+v with %d replicas", f.Redis, r.LiveKit.Replicas)
			}
			if f.Redis != nil && (f.Redis.Address != fmt.Sprintf("%s:6379", p.LiveKitRedis().Host()) || f.Redis.Password != "") {
				t.Errorf("redis %+v: the address of livekit-redis, the password from REDIS_PASSWORD only", *f.Redis)
			}
			if (f.TURN != nil) != r.TURN.Enabled {
				t.Fatalf("turn %+v, enabled %v", f.TURN, r.TURN.Enabled)
			}
			if f.TURN != nil {
				if !f.TURN.Enabled || f.TURN.UDPPort != r.TURN.UDPPort {
					t.Errorf("turn %+v", *f.TURN)
				}
				tls := f.TURN.TLSPort == config.LiveKitTURNTLSPort && f.TURN.Domain == r.TURN.Domain &&
					f.TURN.CertFile == TURNTLSDir+"/tls.crt" && f.TURN.KeyFile == TURNTLSDir+"/tls.key"
				if tls != r.TURN.TLS() || (!r.TURN.TLS() && f.TURN.TLSPort != 0) {
					t.Errorf("turn TLS %+v, want TLS %v", *f.TURN, r.TURN.TLS())
				}
			}
		})
	}
	// The mirror is strict: a key LiveKit does not know fails.
	dec := yaml.NewDecoder(strings.NewReader("rtc:\n  udp_prot: 7882\n"))
	dec.KnownFields(true)
	if err := dec.Decode(&liveKitFile{}); err == nil {
		t.Error("the strict decoder accepts an unknown key")
	}
}

// TestLiveKitSecretData: LiveKit's key_file holds "<key>: <secret>" as
// YAML, and the authorization service's file the same secret.
func TestLiveKitSecretData(t *testing.T) {
	data := LiveKitSecretData("s3cr3t")
	var keys map[string]string
	if err := yaml.Unmarshal([]byte(data[LiveKitKeysFile]), &keys); err != nil || !maps.Equal(keys, map[string]string{LiveKitAPIKey: "s3cr3t"}) {
		t.Errorf("keys.yaml %q = %v (%v)", data[LiveKitKeysFile], keys, err)
	}
	if data[LiveKitAPISecretFile] != "s3cr3t" {
		t.Errorf("api-secret %q", data[LiveKitAPISecretFile])
	}
	if got := mapsKeys(data); !reflect.DeepEqual(got, mapsKeys(map[string]string{LiveKitKeysFile: "", LiveKitAPISecretFile: ""})) {
		t.Errorf("secret keys %v", got)
	}
}

func mapsKeys(m map[string]string) map[string]bool {
	out := map[string]bool{}
	for k := range m {
		out[k] = true
	}
	return out
}

// TestRTCAuthorizationEnv: the authorization service talks to this
// stack's LiveKit, reads the secret from its file, lets only this server's
// users create rooms, and reaches the client API in-cluster.
func TestRTCAuthorizationEnv(t *testing.T) {
	for _, tc := range []struct {
		stack, url string
	}{{"prod", "wss://rtc.example.org"}, {"dev", "ws://rtc.matrix.localhost:8008"}} {
		c, p, _ := load(t, tc.stack, ingressOn(tc.stack, map[string]string{"rtc": `{"enabled":true,"tlsSecretName":"rtc-example-org-tls"}`}))
		env := map[string]string{}
		for _, e := range RTCAuthorizationEnv(c, p) {
			env[e.Name] = e.Value
		}
		want := map[string]string{
			"LIVEKIT_URL":                     tc.url,
			"LIVEKIT_KEY":                     LiveKitAPIKey,
			"LIVEKIT_SECRET_FROM_FILE":        "/secrets/api-secret",
			"LIVEKIT_FULL_ACCESS_HOMESERVERS": c.ServerName,
			"LIVEKIT_CS_API_URL_OVERRIDES":    c.ServerName + "=http://synapse-haproxy." + c.Namespace + ".svc.cluster.local:8008",
		}
		if !maps.Equal(env, want) {
			t.Errorf("%s: env %v, want %v", tc.stack, env, want)
		}
	}
}

// ingressOn adds dev's Ingress to override (prod has one): calls need it.
func ingressOn(stack string, override map[string]string) map[string]string {
	if stack == "dev" {
		override["ingress"] = devIngress
	}
	return override
}

// rtcHomeserverKeys are the keys addRTC owns in homeserver.yaml.
var rtcHomeserverKeys = []string{"max_event_delay_duration", "rc_message", "rc_delayed_event_mgmt", "matrix_rtc"}

// TestHomeserverRTC: with rtc.enabled, homeserver.yaml (parsed back)
// carries MatrixRTC's experimental features, delayed events, the raised
// rate limits and the transport that rtc/transports answers; turning RTC
// off removes exactly those and changes nothing else.
func TestHomeserverRTC(t *testing.T) {
	for _, stack := range []string{"prod", "dev"} {
		for _, fed := range []string{"true", "false"} {
			override := ingressOn(stack, map[string]string{"federation": `{"enabled":` + fed + `}`})
			on := map[string]string{"rtc": `{"enabled":true,"tlsSecretName":"rtc-example-org-tls"}`}
			off := map[string]string{"rtc": `{"enabled":false}`}
			maps.Copy(on, override)
			maps.Copy(off, override)
			cOn, _, filesOn := load(t, stack, on)
			_, _, filesOff := load(t, stack, off)
			hsOn, hsOff := parse(t, filesOn[SharedFile]), parse(t, filesOff[SharedFile])
			name := stack + " federation " + fed

			exp, _ := hsOn["experimental_features"].(map[string]any)
			// Element Call's self-hosting guide and ess-helm's matrix-rtc
			// Synapse overrides.
			for _, f := range []string{"msc3266_enabled", "msc4143_enabled", "msc4222_enabled"} {
				if exp[f] != true {
					t.Errorf("%s: experimental_features.%s = %v", name, f, exp[f])
				}
			}
			if hsOn["max_event_delay_duration"] != "24h" {
				t.Errorf("%s: max_event_delay_duration %v", name, hsOn["max_event_delay_duration"])
			}
			wantRC := map[string]map[string]any{"rc_message": {"per_second": 0.5, "burst_count": 30}, "rc_delayed_event_mgmt": {"per_second": 1, "burst_count": 20}}
			for k, v := range wantRC {
				if !reflect.DeepEqual(hsOn[k], v) {
					t.Errorf("%s: %s = %v, want %v", name, k, hsOn[k], v)
				}
			}
			transports := []any{map[string]any{"type": "livekit", "livekit_service_url": RTCServiceURL(cOn)}}
			if !reflect.DeepEqual(hsOn["matrix_rtc"], map[string]any{"transports": transports}) {
				t.Errorf("%s: matrix_rtc = %v", name, hsOn["matrix_rtc"])
			}

			// Off: none of it, and the rest identical (MAS's own
			// experimental features stay).
			expOff, _ := hsOff["experimental_features"].(map[string]any)
			expOn, _ := hsOn["experimental_features"].(map[string]any)
			for _, f := range RTCExperimentalFeatures {
				if _, ok := expOff[f]; ok {
					t.Errorf("%s: rtc off but experimental_features has %s", name, f)
				}
				delete(expOn, f)
			}
			if len(expOn) == 0 {
				delete(hsOn, "experimental_features")
			}
			for _, k := range rtcHomeserverKeys {
				if _, ok := hsOff[k]; ok {
					t.Errorf("%s: rtc off but homeserver.yaml has %s", name, k)
				}
				delete(hsOn, k)
			}
			if !reflect.DeepEqual(hsOn, hsOff) {
				t.Errorf("%s: rtc changes more of homeserver.yaml than its own keys", name)
			}
			// main.yaml: without federation, main's listener gains the
			// openid resource (plan.TestOpenIDForRTC); nothing else changes.
			for k, v := range filesOn {
				if k != SharedFile && filesOff[k] != v && (k != MainFile || fed == "true") {
					t.Errorf("%s: rtc changes %s", name, k)
				}
			}
		}
	}
}

// TestAddRTCKeepsOtherExperimentalFeatures: another feature's entries in
// experimental_features (MAS's msc3861, say) survive RTC's.
func TestAddRTCKeepsOtherExperimentalFeatures(t *testing.T) {
	c, err := config.Parse(map[string]string{"serverName": "example.org", "rtc": `{"enabled":true}`})
	if err != nil {
		t.Fatal(err)
	}
	hs := map[string]any{"experimental_features": map[string]any{"msc3861": map[string]any{"enabled": true}}}
	addRTC(hs, c)
	exp := hs["experimental_features"].(map[string]any)
	if exp["msc3861"] == nil || exp["msc4143_enabled"] != true {
		t.Errorf("experimental_features = %v", exp)
	}
}

// TestWellKnownRTCFoci: the client discovery answer lists the LiveKit
// transport exactly when RTC is on, as JSON clients parse.
func TestWellKnownRTCFoci(t *testing.T) {
	for _, on := range []bool{true, false} {
		c, err := config.Parse(map[string]string{"serverName": "example.org", "publicBaseUrl": "https://matrix.example.org/",
			"rtc": fmt.Sprintf(`{"enabled":%v,"host":"calls.example.org"}`, on)})
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		dec := json.NewDecoder(bytes.NewReader([]byte(WellKnown(c)[WellKnownClient])))
		if err := dec.Decode(&doc); err != nil {
			t.Fatal(err)
		}
		foci, ok := doc[WellKnownRTCFoci]
		if ok != on {
			t.Fatalf("rtc %v: %s present %v", on, WellKnownRTCFoci, ok)
		}
		if on && !reflect.DeepEqual(foci, []any{map[string]any{"type": "livekit", "livekit_service_url": "https://calls.example.org"}}) {
			t.Errorf("foci = %v", foci)
		}
	}
}

// TestRTCURLsFollowPublicBaseURL: the call backend's URLs (the
// well-known's and matrix_rtc's livekit_service_url, the LiveKit URL the
// authorization service hands out) sit next to the homeserver like MAS's:
// publicBaseUrl's scheme and port on rtc.host, ws(s) for the websocket.
func TestRTCURLsFollowPublicBaseURL(t *testing.T) {
	for _, tc := range []struct {
		base, service, livekit string
	}{
		{"https://matrix.example.org/", "https://rtc.example.org", "wss://rtc.example.org"},
		{"https://matrix.example.org", "https://rtc.example.org", "wss://rtc.example.org"},
		{"https://matrix.example.org:8448/", "https://rtc.example.org:8448", "wss://rtc.example.org:8448"},
		{"http://matrix.example.org/", "http://rtc.example.org", "ws://rtc.example.org"},
		{"http://matrix.example.org:8008/", "http://rtc.example.org:8008", "ws://rtc.example.org:8008"},
	} {
		t.Run(tc.base, func(t *testing.T) {
			c, err := config.Parse(map[string]string{"serverName": "example.org", "publicBaseUrl": tc.base, "rtc": `{"enabled":true}`})
			if err != nil {
				t.Fatal(err)
			}
			if got := RTCServiceURL(c); got != tc.service {
				t.Errorf("RTCServiceURL = %s, want %s", got, tc.service)
			}
			if got := LiveKitURL(c); got != tc.livekit {
				t.Errorf("LiveKitURL = %s, want %s", got, tc.livekit)
			}
			// The same scheme and port as MAS's issuer.
			if mas := strings.Replace(c.MAS.PublicBaseURL, "//auth.", "//rtc.", 1); mas != tc.service+"/" {
				t.Errorf("MAS is at %s, calls at %s: not the same scheme and port", c.MAS.PublicBaseURL, tc.service)
			}
			// Where clients and the authorization service read them.
			p := plan.Build(c)
			env := map[string]string{}
			for _, e := range RTCAuthorizationEnv(c, p) {
				env[e.Name] = e.Value
			}
			if env["LIVEKIT_URL"] != tc.livekit {
				t.Errorf("LIVEKIT_URL = %s, want %s", env["LIVEKIT_URL"], tc.livekit)
			}
			want := `"` + WellKnownRTCFoci + `":[{"livekit_service_url":"` + tc.service + `","type":"livekit"}]`
			if wk := WellKnown(c)[WellKnownClient]; !strings.Contains(wk, want) {
				t.Errorf("well-known %s lacks %s", wk, want)
			}
			files, err := Render(c, p, ExternalFor(c, p))
			if err != nil {
				t.Fatal(err)
			}
			transports := []any{map[string]any{"type": "livekit", "livekit_service_url": tc.service}}
			if hs := parse(t, files[SharedFile]); !reflect.DeepEqual(hs["matrix_rtc"], map[string]any{"transports": transports}) {
				t.Errorf("matrix_rtc = %v, want transports %v", hs["matrix_rtc"], transports)
			}
		})
	}
}
