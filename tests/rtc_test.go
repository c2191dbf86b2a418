package tests

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"synapse/components"
	"synapse/config"
	"synapse/internal/mockstack"
	"synapse/plan"
	"synapse/synapseconfig"
)

// rtcCases: prod (LoadBalancer, fixed address, TURN with TLS), prod
// without federation, three NodePort replicas with their Redis, STUN
// discovery on dev (with its Ingress on: calls are refused without one),
// and RTC off.
var rtcCases = []stackCase{
	{name: "prod", file: "prod"},
	{name: "prod-federation-off", file: "prod", overrides: map[string]string{"federation": `{"enabled":false}`}},
	{name: "prod-livekit-replicas", file: "prod", overrides: map[string]string{"rtc": rtcNodePortReplicas}},
	{name: "dev-rtc", file: "dev", overrides: map[string]string{"rtc": `{"enabled":true}`, "ingress": devIngressOn}},
	{name: "prod-rtc-off", file: "prod", overrides: map[string]string{"rtc": `{"enabled":false}`}},
}

// devIngressOn turns the dev stack's Ingress on, for the host of its
// publicBaseUrl.
const devIngressOn = `{"enabled":true,"host":"matrix.localhost"}`

// rtcOwned are the objects of the RTC components: the ones carrying an RTC
// name label, and the RTC NetworkPolicies (which carry none).
func rtcOwned(s *mockstack.Stack) []string {
	names := []string{plan.LiveKitName, plan.LiveKitRedisName, plan.RTCAuthorizationName, plan.RTCIngressName}
	var out []string
	for _, r := range s.Resources {
		if !strings.HasPrefix(r.Type, "kubernetes:") {
			continue
		}
		label := digString(r.Inputs, "metadata", "labels", components.LabelName)
		if slices.Contains(names, label) || (r.Type == tNetworkPolicy && slices.Contains(names, metaName(r))) {
			out = append(out, r.Type+" "+metaName(r))
		}
	}
	sort := slices.Clone(out)
	slices.Sort(sort)
	return sort
}

// TestRTCObjects: the RTC objects exist exactly with rtc.enabled, the RTC
// Ingress included (config refuses calls with ingress.enabled=false), and
// Redis with more than one replica.
func TestRTCObjects(t *testing.T) {
	t.Parallel()
	for _, tc := range rtcCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, _, cfg := deployConfig(t, tc)
			owned := rtcOwned(s)
			if !cfg.RTC.Enabled {
				assert.Empty(t, owned, "rtc.enabled is false")
				return
			}
			cm := byBaseName(t, s, tConfigMap, plan.LiveKitConfigMapName)
			secret := byBaseName(t, s, tSecret, plan.LiveKitSecretName)
			want := []string{
				tConfigMap + " " + metaName(cm), tSecret + " " + metaName(secret),
				tDeployment + " " + plan.LiveKitName, tService + " " + plan.LiveKitName, tService + " " + plan.LiveKitMediaName,
				tNetworkPolicy + " " + plan.LiveKitName,
				tDeployment + " " + plan.RTCAuthorizationName, tService + " " + plan.RTCAuthorizationName,
				tNetworkPolicy + " " + plan.RTCAuthorizationName,
				tIngress + " " + plan.RTCIngressName,
			}
			if cfg.RTC.LiveKit.Replicas > 1 {
				want = append(want, tPDB+" "+plan.LiveKitName,
					tStatefulSet+" "+plan.LiveKitRedisName, tService+" "+plan.LiveKitRedisName, tSecret+" "+plan.LiveKitRedisSecret,
					tNetworkPolicy+" "+plan.LiveKitRedisName)
			}
			assert.ElementsMatch(t, want, owned)
		})
	}
}

// TestRTCOffChangesNothingElse: turning RTC off removes the RTC objects
// and changes no other object but the ones that carry the configuration
// it is part of (Synapse's config, HAProxy's discovery answer) and the pod
// templates that name them; data resources are untouched.
func TestRTCOffChangesNothingElse(t *testing.T) {
	t.Parallel()
	on, _ := deploy(t, rtcCases[0])
	off, _ := deploy(t, rtcCases[4])
	names := func(s *mockstack.Stack, skip []string) map[string]mockstack.Resource {
		out := map[string]mockstack.Resource{}
		for _, r := range s.Resources {
			key := r.Type + " " + metaName(r)
			if !strings.HasPrefix(r.Type, "kubernetes:") || slices.Contains(skip, key) {
				continue
			}
			// Content-named objects: by their base name.
			for _, base := range []string{plan.SynapseConfigMapName, plan.SynapseSecretName, plan.HAProxyConfigMapName} {
				if strings.HasPrefix(metaName(r), base+"-") {
					key = r.Type + " " + base
				}
			}
			if r.Type == tJob {
				key = r.Type + " " + r.Name // auto-named
			}
			out[key] = r
		}
		return out
	}
	a, b := names(on, rtcOwned(on)), names(off, nil)
	require.ElementsMatch(t, sortedKeys(a), sortedKeys(b), "RTC off must remove the RTC objects and nothing else")
	mayChange := func(r mockstack.Resource) bool {
		switch {
		case r.Type == tConfigMap && (strings.HasPrefix(metaName(r), plan.SynapseConfigMapName) || strings.HasPrefix(metaName(r), plan.HAProxyConfigMapName)):
			return true // homeserver.yaml's RTC keys, the well-known answer
		case r.Type == tStatefulSet || r.Type == tDeployment || r.Type == tJob:
			// Synapse pods and the config check name the Synapse ConfigMap;
			// HAProxy names its own.
			l := digString(r.Inputs, "spec", "template", "metadata", "labels", components.LabelName)
			return strings.HasPrefix(l, "synapse-") && l != plan.RedisName && l != plan.MinIOName
		}
		return false
	}
	for key, ra := range a {
		rb := b[key]
		if mayChange(ra) {
			continue
		}
		assert.Equal(t, ra.Inputs, rb.Inputs, "%s changed with rtc.enabled", key)
	}
}

// TestLiveKitWorkload: LiveKit's pod reads the rendered config and only
// its own form of the API secret, listens where its Services and
// NetworkPolicy say, and learns its address and Redis password as
// configured; the media Service exposes each media port on the port LiveKit
// listens on (and advertises), keeping client addresses.
func TestLiveKitWorkload(t *testing.T) {
	t.Parallel()
	for _, tc := range rtcCases[:4] {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, p, cfg := deployConfig(t, tc)
			r := cfg.RTC

			cm := byBaseName(t, s, tConfigMap, plan.LiveKitConfigMapName)
			want, err := synapseconfig.LiveKitConfig(cfg, p)
			require.NoError(t, err)
			assert.Equal(t, want, digString(cm.Inputs, "data", synapseconfig.LiveKitConfigFile))

			d := byMetaName(t, s, tDeployment, plan.LiveKitName)
			assert.Equal(t, float64(r.LiveKit.Replicas), dig(d.Inputs, "spec", "replicas"))
			pod := digMap(d.Inputs, "spec", "template", "spec")
			c := digMap(pod, "containers", 0)
			assert.Equal(t, r.LiveKit.Image, digString(c, "image"))
			assert.Equal(t, []any{"--config", "/etc/livekit/livekit.yaml"}, digList(c, "args"))
			assert.Nil(t, pod["hostNetwork"], "LiveKit stays off the host network")
			for _, port := range digList(c, "ports") {
				assert.Nil(t, dig(port, "hostPort"), "no hostPort: %v", port)
			}

			volumes := map[string]map[string]any{}
			for _, v := range digList(pod, "volumes") {
				volumes[digString(v, "name")] = v.(map[string]any)
			}
			assert.Equal(t, metaName(cm), digString(volumes["config"], "configMap", "name"))
			secret := byBaseName(t, s, tSecret, plan.LiveKitSecretName)
			assert.Equal(t, metaName(secret), digString(volumes["secrets"], "secret", "secretName"))
			assert.Equal(t, []any{map[string]any{"key": synapseconfig.LiveKitKeysFile, "path": synapseconfig.LiveKitKeysFile}},
				digList(volumes["secrets"], "secret", "items"), "LiveKit mounts its key file only")
			// LiveKit refuses a key file that others may read.
			assert.Zero(t, int(dig(volumes["secrets"], "secret", "defaultMode").(float64))&0o007)
			if r.TURN.TLS() {
				assert.Equal(t, r.TURN.TLSSecretName, digString(volumes["turn-tls"], "secret", "secretName"))
			} else {
				assert.NotContains(t, volumes, "turn-tls")
			}

			env := map[string]map[string]any{}
			for _, e := range digList(c, "env") {
				env[digString(e, "name")] = e.(map[string]any)
			}
			if r.Media.ExternalAddress == config.AddressHostIP {
				assert.Equal(t, "status.hostIP", digString(env["NODE_IP"], "valueFrom", "fieldRef", "fieldPath"))
			} else {
				assert.NotContains(t, env, "NODE_IP")
			}
			if r.LiveKit.Replicas > 1 {
				assert.Equal(t, plan.LiveKitRedisSecret, digString(env["REDIS_PASSWORD"], "valueFrom", "secretKeyRef", "name"))
				assert.Nil(t, env["REDIS_PASSWORD"]["value"])
				assert.NotNil(t, dig(pod, "affinity", "podAntiAffinity", "requiredDuringSchedulingIgnoredDuringExecution"),
					"one replica per node: a node port reaches only that node's pod")
			} else {
				assert.NotContains(t, env, "REDIS_PASSWORD")
			}

			// The media Service: type, ports equal to the container ports
			// (node ports too), TURN/TLS on 443, client addresses kept.
			containerPorts := map[string]map[string]any{}
			for _, port := range digList(c, "ports") {
				containerPorts[digString(port, "name")] = port.(map[string]any)
			}
			media := byMetaName(t, s, tService, plan.LiveKitMediaName)
			assert.Equal(t, r.Media.ServiceType, digString(media.Inputs, "spec", "type"))
			assert.Equal(t, "Local", digString(media.Inputs, "spec", "externalTrafficPolicy"))
			wantPorts := []string{components.LiveKitPortRTCTCP, components.LiveKitPortRTCUDP}
			if r.TURN.Enabled {
				wantPorts = append(wantPorts, components.LiveKitPortTURNUDP)
			}
			if r.TURN.TLS() {
				wantPorts = append(wantPorts, components.LiveKitPortTURNTLS)
			}
			var gotPorts []string
			for _, sp := range digList(media.Inputs, "spec", "ports") {
				name := digString(sp, "name")
				gotPorts = append(gotPorts, name)
				cp := containerPorts[name]
				require.NotNil(t, cp, "media port %s is no container port", name)
				assert.Equal(t, name, digString(sp, "targetPort"))
				assert.Equal(t, digString(cp, "protocol"), digString(sp, "protocol"), name)
				exposed := dig(sp, "port")
				if name == components.LiveKitPortTURNTLS {
					assert.Equal(t, float64(config.TURNTLSPort), exposed, "LiveKit advertises turns:<domain>:443")
				} else {
					assert.Equal(t, dig(cp, "containerPort"), exposed, "%s: LiveKit advertises the port it listens on", name)
				}
				if r.Media.ServiceType == config.ServiceTypeNodePort {
					assert.Equal(t, dig(cp, "containerPort"), dig(sp, "nodePort"), name)
				} else {
					assert.Nil(t, dig(sp, "nodePort"), name)
				}
			}
			assert.ElementsMatch(t, wantPorts, gotPorts)
			signalling := byMetaName(t, s, tService, plan.LiveKitName)
			assert.Equal(t, "ClusterIP", digString(signalling.Inputs, "spec", "type"))
		})
	}
}

// TestRTCAuthorizationWorkload: the authorization service gets the
// rendered environment, its own form of LiveKit's secret as a file (never
// in its environment) from LiveKit's Secret, and /healthz probes.
func TestRTCAuthorizationWorkload(t *testing.T) {
	t.Parallel()
	tc := rtcCases[0]
	s, p, cfg := deployConfig(t, tc)
	d := byMetaName(t, s, tDeployment, plan.RTCAuthorizationName)
	pod := digMap(d.Inputs, "spec", "template", "spec")
	c := digMap(pod, "containers", 0)
	assert.Equal(t, cfg.RTC.Authorization.Image, digString(c, "image"))
	got := map[string]string{}
	for _, e := range digList(c, "env") {
		require.Nil(t, dig(e, "valueFrom"), "%v: plain values only", e)
		got[digString(e, "name")] = digString(e, "value")
	}
	want := map[string]string{}
	for _, e := range synapseconfig.RTCAuthorizationEnv(cfg, p) {
		want[e.Name] = e.Value
	}
	assert.Equal(t, want, got)
	assert.NotContains(t, got, "LIVEKIT_SECRET", "the secret comes from a file")
	secret := byBaseName(t, s, tSecret, plan.LiveKitSecretName)
	v := digMap(pod, "volumes", 0)
	assert.Equal(t, metaName(secret), digString(v, "secret", "secretName"))
	assert.Equal(t, []any{map[string]any{"key": synapseconfig.LiveKitAPISecretFile, "path": synapseconfig.LiveKitAPISecretFile}}, digList(v, "secret", "items"))
	assert.Equal(t, synapseconfig.RTCSecretsDir, digString(c, "volumeMounts", 0, "mountPath"))
	assert.Equal(t, "/healthz", digString(c, "readinessProbe", "httpGet", "path"))
	assert.Equal(t, float64(1), dig(d.Inputs, "spec", "replicas"))
}

// TestRTCIngress: rtc.host sends the authorization service's endpoints to
// it and the rest to LiveKit, with the RTC TLS Secret and ingress.className:
// the URLs the discovery answer and homeserver.yaml give clients.
func TestRTCIngress(t *testing.T) {
	t.Parallel()
	tc := rtcCases[0]
	s, _, cfg := deployConfig(t, tc)
	ing := byMetaName(t, s, tIngress, plan.RTCIngressName)
	assert.Equal(t, cfg.RTC.Host, digString(ing.Inputs, "spec", "rules", 0, "host"))
	assert.Equal(t, cfg.RTC.TLSSecretName, digString(ing.Inputs, "spec", "tls", 0, "secretName"))
	assert.Equal(t, cfg.Ingress.ClassName, digString(ing.Inputs, "spec", "ingressClassName"))
	routes := map[string]string{}
	for _, path := range digList(ing.Inputs, "spec", "rules", 0, "http", "paths") {
		routes[digString(path, "path")] = digString(path, "backend", "service", "name")
	}
	for _, path := range []string{"/get_token", "/sfu/get", "/delegate_delayed_leave", "/healthz"} {
		assert.Equal(t, plan.RTCAuthorizationName, routes[path], path)
	}
	assert.Equal(t, plan.LiveKitName, routes["/"])
	assert.NotContains(t, routes, "/sfu_webhook", "LiveKit's webhook stays in-cluster")
	assert.Equal(t, "https://"+cfg.RTC.Host, synapseconfig.RTCServiceURL(cfg))
	assert.Equal(t, "wss://"+cfg.RTC.Host, synapseconfig.LiveKitURL(cfg))
}

// TestRTCStartupOrder: Redis (several replicas) → LiveKit → the
// authorization service → the RTC Ingress and HAProxy (which answers the
// well-known); none of it waits for Synapse.
func TestRTCStartupOrder(t *testing.T) {
	t.Parallel()
	for _, tc := range rtcCases[:4] {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, _, cfg := deployConfig(t, tc)
			lk := byMetaName(t, s, tDeployment, plan.LiveKitName)
			auth := byMetaName(t, s, tDeployment, plan.RTCAuthorizationName)
			haproxy := byMetaName(t, s, tDeployment, plan.HAProxyName)
			main := byMetaName(t, s, tStatefulSet, plan.MainName)
			order := [][2]mockstack.Resource{{auth, lk}, {haproxy, auth}, {haproxy, lk}}
			if cfg.RTC.LiveKit.Replicas > 1 {
				order = append(order, [2]mockstack.Resource{lk, byMetaName(t, s, tStatefulSet, plan.LiveKitRedisName)})
			}
			if cfg.Ingress.Enabled {
				ing := byMetaName(t, s, tIngress, plan.RTCIngressName)
				order = append(order, [2]mockstack.Resource{ing, auth}, [2]mockstack.Resource{ing, lk})
			}
			for _, o := range order {
				assert.True(t, s.DependsOnTransitively(o[0].URN, o[1].URN), "%s must wait for %s", metaName(o[0]), metaName(o[1]))
			}
			for _, r := range []mockstack.Resource{lk, auth} {
				assert.False(t, s.DependsOnTransitively(r.URN, main.URN), "%s must not wait for Synapse", metaName(r))
			}
		})
	}
}

// TestRTCWellKnownInRouter: HAProxy's discovery file lists the LiveKit
// transport exactly when RTC is on, at the URL of the RTC Ingress.
func TestRTCWellKnownInRouter(t *testing.T) {
	t.Parallel()
	for _, tc := range rtcCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, _, cfg := deployConfig(t, tc)
			cm := byBaseName(t, s, tConfigMap, plan.HAProxyConfigMapName)
			var doc map[string]any
			require.NoError(t, json.Unmarshal([]byte(digString(cm.Inputs, "data", "wellknown-client.json")), &doc))
			foci, ok := doc[synapseconfig.WellKnownRTCFoci]
			require.Equal(t, cfg.RTC.Enabled, ok, "rtc_foci iff rtc.enabled")
			if ok {
				// publicBaseUrl's scheme and port on rtc.host (dev's
				// http://matrix.localhost:8008/ keeps :8008).
				want := map[bool]string{true: "http://rtc.matrix.localhost:8008", false: "https://rtc.example.org"}[tc.file == "dev"]
				assert.Equal(t, []any{map[string]any{"type": "livekit", "livekit_service_url": want}}, foci)
			}
		})
	}
}
