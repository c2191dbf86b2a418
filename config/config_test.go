package config

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// base is a minimal valid stack config.
func base() map[string]string {
	return map[string]string{"serverName": "example.org"}
}

func with(kv ...string) map[string]string {
	raw := base()
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == "<unset>" {
			delete(raw, kv[i])
			continue
		}
		raw[kv[i]] = kv[i+1]
	}
	return raw
}

func TestParseReportsEveryProblemAtOnce(t *testing.T) {
	_, err := Parse(map[string]string{"tier": "huge", "image": "synapse", "streamWriters": `{"typing":2}`})
	var verr ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("want ValidationError, got %v", err)
	}
	for _, key := range []string{"serverName", "tier", "image", "streamWriters.typing"} {
		if !slices.Contains(verr.Keys(), key) {
			t.Errorf("missing error for %s in:\n%v", key, err)
		}
	}
}

// The seed's "Scaling Guidelines" and "Horizontal Pod Autoscaling", verbatim.
func TestTiersReproduceTheSeedTable(t *testing.T) {
	type row struct{ generic, persisters, media, sync, fedSenders int }
	seed := map[string]row{
		"small":  {2, 2, 2, 4, 1},
		"medium": {4, 4, 4, 8, 2},
		"large":  {8, 6, 6, 12, 4},
		"xlarge": {12, 8, 8, 16, 6},
	}
	hpa := map[Pool]struct{ max, cpu, mem int }{
		PoolGeneric:     {16, 70, 80},
		PoolMedia:       {8, 70, 80},
		PoolSynchrotron: {16, 60, 70},
	}
	for name, want := range seed {
		t.Run(name, func(t *testing.T) {
			c, err := Parse(with("tier", name, "minio", `{"enabled":true}`, "mediaImage", "r.io/s3:1", "federation", `{"enabled":true}`))
			if err != nil {
				t.Fatal(err)
			}
			got := row{c.Pools[PoolGeneric].Replicas, c.Pools[PoolEventPersister].Replicas, c.Pools[PoolMedia].Replicas,
				c.Pools[PoolSynchrotron].Replicas, c.Federation.Senders}
			if got != want {
				t.Fatalf("tier %s replicas = %+v, want the seed's %+v", name, got, want)
			}
			for pool, h := range hpa {
				a := c.Pools[pool].Autoscale
				if a == nil || a.Min != c.Pools[pool].Replicas || a.Max != h.max || a.CPUPercent != h.cpu || a.MemoryPercent != h.mem {
					t.Errorf("%s HPA = %+v, want min %d max %d cpu %d%% mem %d%%", pool, a, c.Pools[pool].Replicas, h.max, h.cpu, h.mem)
				}
			}
			for _, pool := range []Pool{PoolEventPersister, PoolFederationSender} {
				if c.Pools[pool].Autoscale != nil {
					t.Errorf("%s is scaled manually in the seed, got an HPA", pool)
				}
			}
		})
	}
	// The smallest CCU tier's ranges are exactly the seed's HPA ranges.
	small, _ := TierByName("small")
	for pool, want := range map[Pool][2]int{PoolGeneric: {2, 16}, PoolMedia: {2, 8}, PoolSynchrotron: {4, 16}} {
		a := small.Pools[pool].Autoscale
		if a.Min != want[0] || a.Max != want[1] {
			t.Errorf("small %s HPA %d–%d, want the seed's %d–%d", pool, a.Min, a.Max, want[0], want[1])
		}
	}
}

func TestSeedResources(t *testing.T) {
	small, _ := TierByName("small")
	want := map[Pool]Resources{
		PoolGeneric:          res("250m", "512Mi", "500m", "1Gi"),
		PoolEventPersister:   res("500m", "1Gi", "1000m", "2Gi"),
		PoolFederationSender: res("250m", "512Mi", "500m", "1Gi"),
		PoolMedia:            res("500m", "1Gi", "1000m", "2Gi"),
		PoolSynchrotron:      res("500m", "1Gi", "1000m", "2Gi"),
		PoolStreamWriter:     res("100m", "256Mi", "250m", "512Mi"),
	}
	for pool, r := range want {
		if small.Pools[pool].Resources != r {
			t.Errorf("%s resources %+v, want %+v", pool, small.Pools[pool].Resources, r)
		}
	}
}

func TestLaptopTierIsOneReplicaPerPool(t *testing.T) {
	c, err := Parse(base())
	if err != nil {
		t.Fatal(err)
	}
	if c.Tier != "laptop" {
		t.Fatalf("default tier %q, want laptop", c.Tier)
	}
	for _, p := range []Pool{PoolMain, PoolGeneric, PoolSynchrotron, PoolMedia, PoolEventPersister} {
		if s := c.Pools[p]; s.Replicas != 1 || s.Autoscale != nil {
			t.Errorf("laptop %s = %+v, want one fixed replica", p, s)
		}
	}
}

func TestOverridesWinOverTier(t *testing.T) {
	c, err := Parse(with("tier", "large", "minio", `{"enabled":true}`, "mediaImage", "r.io/s3:1",
		"pools", `{"generic":{"replicas":10,"maxReplicas":20,"resources":{"limits":{"memory":"3Gi"}}},"synchrotron":{"autoscale":false,"replicas":5},"media":{"minReplicas":3}}`))
	if err != nil {
		t.Fatal(err)
	}
	g := c.Pools[PoolGeneric]
	if g.Replicas != 10 || g.Autoscale.Min != 10 || g.Autoscale.Max != 20 || g.Resources.Limits.Memory != "3Gi" || g.Resources.Requests.CPU != "250m" {
		t.Errorf("generic = %+v %+v", g, g.Autoscale)
	}
	if s := c.Pools[PoolSynchrotron]; s.Replicas != 5 || s.Autoscale != nil {
		t.Errorf("synchrotron = %+v", s)
	}
	if m := c.Pools[PoolMedia]; m.Replicas != 3 || m.Autoscale.Min != 3 || m.Autoscale.Max != 8 {
		t.Errorf("media = %+v %+v", m, m.Autoscale)
	}
}

func TestDefaultsAndDerivedValues(t *testing.T) {
	c, err := Parse(with("publicBaseUrl", "https://matrix.example.org"))
	if err != nil {
		t.Fatal(err)
	}
	checks := map[string][2]string{
		"publicBaseUrl gets a trailing slash": {c.PublicBaseURL, "https://matrix.example.org/"},
		"ingress host from publicBaseUrl":     {c.Ingress.Host, "matrix.example.org"},
		"namespace":                           {c.Namespace, DefaultNamespace},
		"media image defaults to image":       {c.MediaImage, DefaultImage},
	}
	for what, v := range checks {
		if v[0] != v[1] {
			t.Errorf("%s: got %q, want %q", what, v[0], v[1])
		}
	}
	if c.Federation.Enabled || c.Federation.Senders != 0 || c.Pools[PoolFederationSender].Replicas != 0 {
		t.Errorf("federation must be off by default with no senders: %+v", c.Federation)
	}
	if c.StreamWriters["typing"] != 1 || c.StreamWriters["push_rules"] != 0 {
		t.Errorf("stream writer defaults: %v", c.StreamWriters)
	}
}

func TestStackFiles(t *testing.T) {
	for _, tc := range []struct {
		stack       string
		tier        string
		federation  bool
		pgInstances int
		protect     bool
		monitoring  bool
	}{
		{"dev", "laptop", false, 1, false, false},
		{"prod", "large", true, 3, true, true},
	} {
		raw, err := ReadStackFile("../Pulumi." + tc.stack + ".yaml")
		if err != nil {
			t.Fatal(err)
		}
		c, err := Parse(raw)
		if err != nil {
			t.Fatalf("%s: %v", tc.stack, err)
		}
		if c.Tier != tc.tier || c.Federation.Enabled != tc.federation || c.Postgres.Instances != tc.pgInstances ||
			c.DataProtection != tc.protect || c.Monitoring.Enabled != tc.monitoring {
			t.Errorf("%s: tier %s federation %v postgres %d protect %v monitoring %v", tc.stack, c.Tier, c.Federation.Enabled,
				c.Postgres.Instances, c.DataProtection, c.Monitoring.Enabled)
		}
	}
}

func TestLoadCollectsEveryKeyOfTheNamespace(t *testing.T) {
	env := `{"synapse:serverName":"example.org","synapse:teir":"large","synapse:signingKey":"x","kubernetes:context":"kind"}`
	engine := map[string]string{"serverName": "example.org", "tier": "small"}
	raw, secret := collect(env, func(k string) (string, bool, bool) {
		v, ok := engine[k]
		return v, ok, k == "tier"
	})
	want := map[string]string{"serverName": "example.org", "tier": "small", "teir": "large"}
	if len(raw) != len(want) {
		t.Fatalf("collect = %v, want %v (signingKey is read elsewhere, kubernetes: is not ours)", raw, want)
	}
	for k, v := range want {
		if raw[k] != v {
			t.Errorf("collect[%s] = %q, want %q", k, raw[k], v)
		}
	}
	if !secret["tier"] || secret["teir"] {
		t.Errorf("secret keys = %v, want tier only", secret)
	}
	_, err := parse(raw, secret)
	var verr ValidationError
	if !errors.As(err, &verr) || !slices.Equal(verr.Keys(), []string{"teir", "tier"}) {
		t.Fatalf("want errors for teir (unknown) and tier (secret), got %v", err)
	}
	if strings.Contains(err.Error(), "small") {
		t.Errorf("a secret value is echoed: %v", err)
	}
	if !strings.Contains(err.Error(), `"large"`) {
		t.Errorf("the misspelt key's value is not named: %v", err)
	}
}

// TestElementWebDefaults: off, on element.<serverName>, one replica, the
// pinned image, plain HTTP.
func TestElementWebDefaults(t *testing.T) {
	c, err := Parse(map[string]string{"serverName": "example.org"})
	if err != nil {
		t.Fatal(err)
	}
	want := ElementWeb{Enabled: false, Host: "element.example.org", Image: DefaultElementWebImage, Replicas: 1}
	if c.ElementWeb != want {
		t.Errorf("ElementWeb = %+v, want %+v", c.ElementWeb, want)
	}
}

// TestRTCDefaults: off; rtc.<serverName> and turn.<serverName>; one LiveKit
// replica on a LoadBalancer with LiveKit's usual ports and STUN discovery;
// TURN off; node-port-range defaults for a NodePort Service.
func TestRTCDefaults(t *testing.T) {
	c, err := Parse(map[string]string{"serverName": "example.org"})
	if err != nil {
		t.Fatal(err)
	}
	r := c.RTC
	if r.Enabled || r.Host != "rtc.example.org" || r.TURN.Domain != "turn.example.org" || r.TURN.Enabled || r.TURN.TLS() {
		t.Errorf("RTC = %+v", r)
	}
	if r.LiveKit.Image != DefaultLiveKitImage || r.LiveKit.Replicas != 1 || r.Authorization.Image != DefaultRTCAuthorizationImage {
		t.Errorf("RTC images/replicas = %+v %+v", r.LiveKit, r.Authorization)
	}
	want := RTCMedia{ServiceType: ServiceTypeLoadBalancer, ExternalAddress: AddressSTUN, TCPPort: 7881, UDPPort: 7882}
	if r.Media.ServiceType != want.ServiceType || r.Media.ExternalAddress != want.ExternalAddress ||
		r.Media.TCPPort != want.TCPPort || r.Media.UDPPort != want.UDPPort || r.TURN.UDPPort != DefaultTURNUDPPort {
		t.Errorf("RTC media = %+v, TURN %+v", r.Media, r.TURN)
	}
	c, err = Parse(map[string]string{"serverName": "example.org", "rtc": `{"enabled":true,"media":{"serviceType":"NodePort"},"turn":{"enabled":true}}`})
	if err != nil {
		t.Fatal(err)
	}
	for name, p := range map[string]int{"tcp": c.RTC.Media.TCPPort, "udp": c.RTC.Media.UDPPort, "turn": c.RTC.TURN.UDPPort} {
		if p < minNodePort || p > maxNodePort {
			t.Errorf("NodePort default %s port %d is outside %d-%d", name, p, minNodePort, maxNodePort)
		}
	}
	// Several replicas: accepted on node ports with discovered addresses.
	if _, err := Parse(map[string]string{"serverName": "example.org", "rtc": `{"enabled":true,"livekit":{"replicas":3},"media":{"serviceType":"NodePort","externalAddress":"hostIP"}}`}); err != nil {
		t.Errorf("three NodePort replicas refused: %v", err)
	}
}
