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

func TestParseRejectsBadConfig(t *testing.T) {
	s3 := `{"enabled":true}`
	cases := []struct {
		name    string
		raw     map[string]string
		wantKey string // the key the error must name
		wantMsg string // a fragment of the explanation
	}{
		{"missing server name", with("serverName", "<unset>"), "serverName", "missing"},
		{"server name not a DNS name", with("serverName", "Example_Org"), "serverName", "DNS name"},
		{"server name without a dot", with("serverName", "localhost"), "serverName", "at least one dot"},
		{"unknown tier", with("tier", "huge"), "tier", "laptop"},
		{"HPA min above max", with("tier", "small", "pools", `{"generic":{"minReplicas":10,"maxReplicas":4}}`, "minio", s3, "mediaImage", "r.io/s3:1"), "pools.generic.maxReplicas", "at least minReplicas"},
		{"zero generic workers", with("pools", `{"generic":{"replicas":0}}`), "pools.generic.replicas", "between 1"},
		{"negative synchrotrons", with("pools", `{"synchrotron":{"replicas":-2}}`), "pools.synchrotron.replicas", "between 1"},
		{"zero event persisters", with("pools", `{"eventPersister":{"replicas":0}}`), "pools.eventPersister.replicas", "between 1"},
		{"two typing writers", with("streamWriters", `{"typing":2}`), "streamWriters.typing", "single writer"},
		{"two to-device writers", with("streamWriters", `{"to_device":2}`), "streamWriters.to_device", "single writer"},
		{"two account-data writers", with("streamWriters", `{"account_data":2}`), "streamWriters.account_data", "single writer"},
		{"two presence writers", with("streamWriters", `{"presence":2}`), "streamWriters.presence", "single writer"},
		{"two push-rules writers", with("streamWriters", `{"push_rules":2}`), "streamWriters.push_rules", "single writer"},
		{"negative receipts writers", with("streamWriters", `{"receipts":-1}`), "streamWriters.receipts", "0 (the main process"},
		{"unknown stream", with("streamWriters", `{"events":2}`), "streamWriters.events", "eventPersister"},
		{"federation senders while federation off", with("federation", `{"senders":2}`), "federation.senders", "federation.enabled=true"},
		{"media replicas without S3", with("pools", `{"media":{"replicas":3}}`), "pools.media.replicas", "minio.enabled=true"},
		{"small tier media without S3", with("tier", "small"), "pools.media.replicas", "shared media storage"},
		{"MinIO without an S3-capable media image", with("minio", s3), "mediaImage", "synapse-s3-storage-provider"},
		{"postgres instances zero", with("postgres", `{"instances":0}`), "postgres.instances", "between 1 and 9"},
		{"storage size with a space", with("postgres", `{"storage":{"size":"10 GB"}}`), "postgres.storage.size", "quantity"},
		{"cpu in cores", with("pools", `{"generic":{"resources":{"requests":{"cpu":"1.5 cores"}}}}`), "pools.generic.resources.requests.cpu", "quantity"},
		{"request above limit", with("pools", `{"generic":{"resources":{"requests":{"memory":"4Gi"}}}}`), "pools.generic.resources.requests.memory", "must not exceed"},
		{"image without tag", with("image", "ghcr.io/element-hq/synapse"), "image", "tag or a digest"},
		{"image with latest", with("image", "ghcr.io/element-hq/synapse:latest"), "image", ":latest"},
		{"malformed image", with("image", "ghcr.io/Element/Synapse:v1"), "image", "image reference"},
		{"unknown key under postgres", with("postgres", `{"instance":2}`), "postgres.instance", "unknown key"},
		{"unknown key under federation", with("federation", `{"enable":true}`), "federation.enable", "unknown key"},
		{"wrong type", with("haproxy", `{"replicas":"two"}`), "haproxy.replicas", "type int"},
		{"unknown pool", with("pools", `{"sync":{"replicas":2}}`), "pools.sync", "known pools"},
		{"main replicas", with("pools", `{"main":{"replicas":2}}`), "pools.main.replicas", "exactly one"},
		{"writer replicas under pools", with("pools", `{"streamWriter":{"replicas":2}}`), "pools.streamWriter.replicas", "streamWriters"},
		{"autoscaled event persisters", with("pools", `{"eventPersister":{"autoscale":true}}`), "pools.eventPersister.autoscale", "instance_map"},
		{"two background workers", with("pools", `{"background":{"replicas":2}}`), "pools.background.replicas", "run_background_tasks_on"},
		{"min/max without autoscaling", with("pools", `{"generic":{"maxReplicas":4}}`), "pools.generic.autoscale", "need autoscaling"},
		{"bad namespace", with("namespace", "Matrix_NS"), "namespace", "namespace name"},
		{"public base URL not a URL", with("publicBaseUrl", "matrix.example.org"), "publicBaseUrl", "absolute http(s) URL"},
		{"haproxy replicas zero", with("haproxy", `{"replicas":0}`), "haproxy.replicas", "between 1 and 16"},
		{"minio with three drives", with("minio", `{"enabled":true,"replicas":3}`, "mediaImage", "r.io/s3:1"), "minio.replicas", "at least 4 drives"},
		{"bad bucket", with("minio", `{"bucket":"My_Bucket"}`), "minio.bucket", "S3 bucket name"},
		{"bad annotation key", with("ingress", `{"annotations":{"bad key!":"x"}}`), "ingress.annotations", "qualified names"},
		{"bad TLS secret name", with("ingress", `{"tlsSecretName":"TLS_Secret"}`), "ingress.tlsSecretName", "Secret name"},
		{"db pool max below min", with("databasePool", `{"min":10,"max":5}`), "databasePool.max", "between databasePool.min"},
		{"dataProtection not a bool", with("dataProtection", "yes please"), "dataProtection", "true or false"},
		{"unknown top-level key", with("replicas", "3"), "replicas", "unknown key"},
		{"operator chart version", with("postgres", `{"operatorChartVersion":"latest"}`), "postgres.operatorChartVersion", "chart version"},
		{"storage class", with("mediaStorage", `{"storageClass":"Fast_SSD"}`), "mediaStorage.storageClass", "StorageClass"},
		{"synchrotron ceiling above the bound", with("tier", "small", "pools", `{"synchrotron":{"maxReplicas":100}}`, "minio", s3, "mediaImage", "r.io/s3:1"), "pools.synchrotron.maxReplicas", "at most 64"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse(tc.raw)
			if err == nil {
				t.Fatalf("Parse accepted bad config %v: %+v", tc.raw, c)
			}
			var verr ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("error is %T, want ValidationError", err)
			}
			found := false
			for _, fe := range verr {
				if fe.Key == tc.wantKey && strings.Contains(fe.Error(), tc.wantMsg) {
					found = true
				}
			}
			if !found {
				t.Fatalf("no error for key %q containing %q; got:\n%v", tc.wantKey, tc.wantMsg, err)
			}
			if !strings.Contains(err.Error(), "synapse:"+tc.wantKey) {
				t.Errorf("message does not name the key synapse:%s:\n%v", tc.wantKey, err)
			}
		})
	}
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

func TestUnknownTopLevelKeysFromTheCLI(t *testing.T) {
	env := `{"synapse:serverName":"example.org","synapse:teir":"large","kubernetes:context":"kind"}`
	got := unknownKeys(env)
	if len(got) != 1 || got[0] != "teir" {
		t.Fatalf("unknownKeys = %v, want [teir]", got)
	}
	raw := base()
	raw[got[0]] = "(set)"
	if _, err := Parse(raw); err == nil || !strings.Contains(err.Error(), "synapse:teir") {
		t.Errorf("a misspelt top-level key is not reported: %v", err)
	}
}
