package tests

import (
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/api/resource"

	"synapse/components"
	"synapse/config"
	"synapse/internal/mockstack"
	"synapse/plan"
	"synapse/router"
	"synapse/stack"
	"synapse/synapseconfig"
)

// TestWorkloadsMatchPlan: one workload and one headless Service per plan
// process, with the plan's name, kind and replicas, and an HPA exactly
// where the plan autoscales, with the tier's range.
func TestWorkloadsMatchPlan(t *testing.T) {
	t.Parallel()
	for _, tc := range stackCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, p := deploy(t, tc)
			got := synapseWorkloads(s)
			require.Len(t, got, len(p.Processes), "workloads: %v", sortedKeys(got))

			hpas := map[string]mockstack.Resource{}
			for _, r := range s.ByType(tHPA) {
				hpas[metaName(r)] = r
			}
			wantHPAs := 0
			for _, proc := range p.Processes {
				w, ok := got[proc.Name]
				require.True(t, ok, "no workload for %s", proc.Name)
				assert.Equal(t, string(proc.Kind), w.Kind, proc.Name)
				assert.Equal(t, proc.Replicas, w.replicas(), proc.Name)
				assert.ElementsMatch(t, portNames(proc.Ports), sortedKeys(w.portNames()), proc.Name)

				svc := byMetaName(t, s, tService, proc.Name)
				assert.Equal(t, "None", digString(svc.Inputs, "spec", "clusterIP"), proc.Name)
				assert.Equal(t, plan.PortNameHTTP, digString(svc.Inputs, "spec", "ports", 0, "name"),
					"%s: HAProxy looks up _http._tcp.<service>", proc.Name)
				if proc.Kind == plan.StatefulSet {
					assert.Equal(t, proc.Name, digString(w.R.Inputs, "spec", "serviceName"), proc.Name)
				}

				hpa, hasHPA := hpas[proc.Name]
				if proc.Autoscale == nil {
					assert.False(t, hasHPA, "%s has an HPA but the plan does not autoscale it", proc.Name)
					assert.NotContains(t, w.R.IgnoreChanges, "spec.replicas", proc.Name)
					continue
				}
				wantHPAs++
				require.True(t, hasHPA, "no HPA for %s", proc.Name)
				assert.Equal(t, float64(proc.Autoscale.Min), dig(hpa.Inputs, "spec", "minReplicas"), proc.Name)
				assert.Equal(t, float64(proc.Autoscale.Max), dig(hpa.Inputs, "spec", "maxReplicas"), proc.Name)
				assert.Equal(t, proc.Kind, plan.Kind(digString(hpa.Inputs, "spec", "scaleTargetRef", "kind")), proc.Name)
				assert.Equal(t, proc.Name, digString(hpa.Inputs, "spec", "scaleTargetRef", "name"), proc.Name)
				targets := map[string]float64{}
				for _, m := range digList(hpa.Inputs, "spec", "metrics") {
					targets[digString(m, "resource", "name")] = dig(m, "resource", "target", "averageUtilization").(float64)
				}
				assert.Equal(t, map[string]float64{"cpu": float64(proc.Autoscale.CPUPercent), "memory": float64(proc.Autoscale.MemoryPercent)}, targets, proc.Name)
				assert.Contains(t, w.R.IgnoreChanges, "spec.replicas", "%s: pulumi up must not fight the HPA", proc.Name)
			}
			assert.Len(t, hpas, wantHPAs, "HPAs: %v", sortedKeys(hpas))
		})
	}
}

// TestHPARangesPerTier: the HPA ranges are the tier table's, for every tier.
func TestHPARangesPerTier(t *testing.T) {
	t.Parallel()
	for _, tier := range config.Tiers {
		t.Run(tier.Name, func(t *testing.T) {
			t.Parallel()
			tc := stackCase{name: "tier-" + tier.Name, file: "prod", overrides: map[string]string{"tier": tier.Name}}
			s, p := deploy(t, tc)
			for _, proc := range p.Processes {
				size := tier.Pools[proc.Pool]
				if size.Autoscale == nil || proc.Pool == config.PoolPusher || proc.Pool == config.PoolBackground {
					continue // fixed in this tier, or overridden by the prod stack file
				}
				hpa := byMetaName(t, s, tHPA, proc.Name)
				assert.Equal(t, float64(size.Autoscale.Min), dig(hpa.Inputs, "spec", "minReplicas"), proc.Name)
				assert.Equal(t, float64(size.Autoscale.Max), dig(hpa.Inputs, "spec", "maxReplicas"), proc.Name)
			}
		})
	}
}

func portNames(ports []plan.Port) []string {
	out := make([]string, len(ports))
	for i, p := range ports {
		out[i] = p.Name
	}
	return out
}

// TestStartupOrder: the DESIGN's order, as explicit dependencies (walking
// parents: a component's DependsOn is recorded on the component only).
func TestStartupOrder(t *testing.T) {
	t.Parallel()
	for _, tc := range stackCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, p := deploy(t, tc)
			cluster := byMetaName(t, s, tCluster, plan.PostgresClusterName)
			redis := byMetaName(t, s, tStatefulSet, plan.RedisName)
			main := byMetaName(t, s, tStatefulSet, plan.MainName)
			var minio []mockstack.Resource
			if p.Processes[0].Role == plan.RoleMain && hasMinIO(s) {
				minio = []mockstack.Resource{byMetaName(t, s, tStatefulSet, plan.MinIOName), byBaseName(t, s, tJob, "minio-bucket-job")}
			}
			ws := synapseWorkloads(s)
			var writers []mockstack.Resource
			for _, proc := range p.Processes {
				if proc.Role != plan.RoleMain && components.IsStreamWriter(proc) {
					writers = append(writers, ws[proc.Name].R)
				}
			}
			require.NotEmpty(t, writers, "every plan has event persisters")

			for _, proc := range p.Processes {
				w := ws[proc.Name].R
				for _, dep := range append([]mockstack.Resource{cluster, redis}, minio...) {
					assert.True(t, s.DependsOnTransitively(w.URN, dep.URN), "%s must wait for %s", proc.Name, dep.Name)
				}
				if proc.Role == plan.RoleMain {
					continue
				}
				assert.True(t, s.DependsOnTransitively(w.URN, main.URN), "%s must wait for main", proc.Name)
				if components.IsStreamWriter(proc) {
					continue
				}
				for _, wr := range writers {
					assert.True(t, s.DependsOnTransitively(w.URN, wr.URN), "%s must wait for %s", proc.Name, wr.Name)
				}
			}
			// With backups on MinIO, the Cluster archives WAL from its first
			// minute: the backup bucket and user exist before it.
			cfg, err := config.Parse(rawConfig(t, tc))
			require.NoError(t, err)
			if cfg.Postgres.Backup.OnMinIO() {
				require.NotEmpty(t, minio)
				for _, dep := range minio {
					assert.True(t, s.DependsOnTransitively(cluster.URN, dep.URN), "the Postgres Cluster must wait for %s", dep.Name)
				}
			}
			haproxy := byMetaName(t, s, tDeployment, plan.HAProxyName)
			for name, w := range ws {
				assert.True(t, s.DependsOnTransitively(haproxy.URN, w.R.URN), "HAProxy must wait for %s", name)
			}
			for _, ing := range s.ByType(tIngress) {
				// Each Ingress waits for the pods behind it: Synapse's for
				// HAProxy, Element Web's, Element Admin's and MAS's for their own
				// hosts, RTC's for LiveKit and the authorization service.
				backends := []mockstack.Resource{haproxy}
				switch metaName(ing) {
				case components.ElementWebName, components.ElementAdminName, plan.MASName:
					backends = []mockstack.Resource{byMetaName(t, s, tDeployment, metaName(ing))}
				case plan.RTCIngressName:
					backends = []mockstack.Resource{byMetaName(t, s, tDeployment, plan.LiveKitName), byMetaName(t, s, tDeployment, plan.RTCAuthorizationName)}
				}
				for _, backend := range backends {
					assert.True(t, s.DependsOnTransitively(ing.URN, backend.URN), "Ingress %s must wait for %s", metaName(ing), metaName(backend))
				}
			}
		})
	}
}

func hasMinIO(s *mockstack.Stack) bool {
	for _, r := range s.ByType(tStatefulSet) {
		if metaName(r) == plan.MinIOName {
			return true
		}
	}
	return false
}

// TestSelectorsAndPortNames: every Service, PDB and HPA points at exactly
// one workload; every port a Service, probe, ServiceMonitor, NetworkPolicy
// or the Ingress names exists where it is looked up.
func TestSelectorsAndPortNames(t *testing.T) {
	t.Parallel()
	for _, tc := range stackCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, _ := deploy(t, tc)
			all := workloads(s)
			selected := func(sel map[string]string) []workload {
				var out []workload
				for _, w := range all {
					if selects(sel, w.PodLabels) {
						out = append(out, w)
					}
				}
				return out
			}
			services := map[string]mockstack.Resource{}
			for _, svc := range s.ByType(tService) {
				name := metaName(svc)
				services[name] = svc
				ws := selected(stringMap(dig(svc.Inputs, "spec", "selector")))
				require.Len(t, ws, 1, "Service %s must select exactly one workload's pods", name)
				ports := ws[0].portNames()
				for _, p := range digList(svc.Inputs, "spec", "ports") {
					if target, ok := dig(p, "targetPort").(string); ok {
						assert.True(t, ports[target], "Service %s: targetPort %q is not a port of %s", name, target, ws[0].Name)
					}
				}
			}
			for _, w := range all {
				ports := w.portNames()
				for _, c := range w.containers() {
					for _, probe := range []string{"startupProbe", "readinessProbe", "livenessProbe"} {
						for _, action := range []string{"httpGet", "tcpSocket"} {
							if port, ok := dig(c, probe, action, "port").(string); ok {
								assert.True(t, ports[port], "%s %s: %s names port %q, which no container has", w.Kind, w.Name, probe, port)
							}
						}
					}
				}
			}
			for _, pdb := range s.ByType(tPDB) {
				assert.Len(t, selected(stringMap(dig(pdb.Inputs, "spec", "selector", "matchLabels"))), 1, "PDB %s", metaName(pdb))
			}
			for _, hpa := range s.ByType(tHPA) {
				kind, name := digString(hpa.Inputs, "spec", "scaleTargetRef", "kind"), digString(hpa.Inputs, "spec", "scaleTargetRef", "name")
				n := 0
				for _, w := range all {
					if w.Kind == kind && w.Name == name {
						n++
					}
				}
				assert.Equal(t, 1, n, "HPA %s targets %s/%s", metaName(hpa), kind, name)
			}
			for _, sm := range s.ByType(tServiceMonitor) {
				sel := stringMap(dig(sm.Inputs, "spec", "selector", "matchLabels"))
				var matched []mockstack.Resource
				for _, svc := range services {
					if selects(sel, stringMap(dig(svc.Inputs, "metadata", "labels"))) {
						matched = append(matched, svc)
					}
				}
				require.Len(t, matched, 1, "ServiceMonitor %s must select one Service (no double scrape)", metaName(sm))
				port := digString(sm.Inputs, "spec", "endpoints", 0, "port")
				found := false
				for _, p := range digList(matched[0].Inputs, "spec", "ports") {
					found = found || digString(p, "name") == port
				}
				assert.True(t, found, "ServiceMonitor %s: port %q not on Service %s", metaName(sm), port, metaName(matched[0]))
			}
			for _, np := range s.ByType(tNetworkPolicy) {
				checkNetworkPolicy(t, s, np, all)
			}
			for _, ing := range s.ByType(tIngress) {
				for _, path := range digList(ing.Inputs, "spec", "rules", 0, "http", "paths") {
					svc, ok := services[digString(path, "backend", "service", "name")]
					require.True(t, ok, "Ingress path %v: no such Service", dig(path, "path"))
					assert.Equal(t, digString(path, "backend", "service", "port", "name"), digString(svc.Inputs, "spec", "ports", 0, "name"))
				}
			}
		})
	}
}

// checkNetworkPolicy: every pod selector (protected pods and peers) selects
// some pods of the stack, and every named port exists on the protected pods.
func checkNetworkPolicy(t *testing.T, s *mockstack.Stack, np mockstack.Resource, all []workload) {
	t.Helper()
	name := metaName(np)
	podSel := digMap(np.Inputs, "spec", "podSelector")
	pods := func(sel map[string]any) []workload {
		var out []workload
		for _, w := range all {
			if selectsExpr(sel, w.PodLabels) {
				out = append(out, w)
			}
		}
		return out
	}
	// CNPG creates the Postgres pods; they carry the cluster label.
	isCNPG := func(sel map[string]any) bool {
		c := stringMap(sel["matchLabels"])[components.CNPGClusterLabel]
		return c != "" && c == metaName(byMetaName(t, s, tCluster, plan.PostgresClusterName))
	}
	if len(podSel) == 0 {
		assert.Empty(t, digList(np.Inputs, "spec", "ingress"), "%s: a policy for every pod must be the default deny", name)
		return
	}
	protected := pods(podSel)
	if !isCNPG(podSel) {
		require.NotEmpty(t, protected, "%s: podSelector %v selects no pods", name, podSel)
	}
	for _, rule := range digList(np.Inputs, "spec", "ingress") {
		for _, peer := range digList(rule, "from") {
			if sel := digMap(peer, "podSelector"); sel != nil && !isCNPG(sel) {
				assert.NotEmpty(t, pods(sel), "%s: peer %v selects no pods", name, sel)
			}
		}
		for _, port := range digList(rule, "ports") {
			named, ok := dig(port, "port").(string)
			if !ok {
				continue
			}
			for _, w := range protected {
				assert.True(t, w.portNames()[named], "%s: port %q is not a port of %s", name, named, w.Name)
			}
		}
	}
}

// TestNoSecretLeaks: generated secrets are only in Secrets; no ConfigMap,
// env value, other object or plain stack output holds one.
func TestNoSecretLeaks(t *testing.T) {
	t.Parallel()
	for _, tc := range stackCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, _ := deploy(t, tc)
			require.NotEmpty(t, s.SecretValues())
			secrets := secretStrings(s)
			require.NotEmpty(t, secrets)
			synapseSecret := byBaseName(t, s, tSecret, plan.SynapseSecretName)
			files := synapseSecretFiles()
			if cfg, err := config.Parse(rawConfig(t, tc)); err == nil && cfg.MAS.Enabled {
				files = append(files, synapseconfig.SecretMAS) // the secret shared with MAS
			}
			assert.Equal(t, sortedKeys(digMap(synapseSecret.Inputs, "stringData")), sortedStrings(files))

			for _, r := range s.Resources {
				if r.Type == tSecret || !r.Custom {
					continue
				}
				assert.Empty(t, s.Leaks(r.Inputs), "%s %s holds a generated secret", r.Type, r.Name)
				text := fmt.Sprint(r.Inputs)
				for v, where := range secrets {
					assert.NotContains(t, text, v, "%s %s holds the value of %s", r.Type, r.Name, where)
				}
			}
			for _, w := range workloads(s) {
				for _, c := range w.containers() {
					for _, e := range digList(c, "env") {
						if v, ok := dig(e, "value").(string); ok {
							assert.Empty(t, s.Leaks(v), "%s %s env %s", w.Kind, w.Name, digString(e, "name"))
						}
					}
				}
				if w.isSynapse() {
					assert.Empty(t, w.R.SecretPaths, "%s: a Synapse pod template holds no secret (the secret checksum is unsecreted)", w.Name)
				}
			}
			for k, v := range s.Outputs {
				if !s.OutputSecrets[k] {
					assert.Empty(t, s.Leaks(v), "stack output %s", k)
				}
			}
			for _, k := range []string{"namespace", "publicUrl", "endpoints", "secretNames"} {
				assert.Contains(t, s.Outputs, k)
				assert.False(t, s.OutputSecrets[k], k)
			}
			for _, name := range s.Outputs["secretNames"].([]any) {
				byMetaName(t, s, tSecret, name.(string))
			}
		})
	}
}

// TestNoSecretInResourceIDs: resource IDs are never secret (pulumi stack
// --show-ids, stack exports); none may hold a generated value or a value a
// Secret was given. The mocks give RandomBytes its value as its ID, as
// pulumi-random does, so a seed from RandomBytes fails here.
func TestNoSecretInResourceIDs(t *testing.T) {
	t.Parallel()
	for _, tc := range stackCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, _ := deploy(t, tc)
			values := s.SecretValues()
			for v := range secretStrings(s) {
				values = append(values, v)
			}
			require.NotEmpty(t, values)
			for _, r := range s.Resources {
				for _, v := range values {
					assert.NotContains(t, r.ID, v, "the ID of %s %s holds a secret", r.Type, r.Name)
				}
				if strings.HasPrefix(r.Type, "random:") {
					assert.Equal(t, mockstack.TypeRandomPassword, r.Type, "%s: only RandomPassword keeps its value out of its ID and in a secret output", r.Name)
					assert.Contains(t, r.AdditionalSecretOutputs, "result", "%s: the result must be a secret output", r.Name)
				}
			}
		})
	}
}

// The signing key is derived from a generated secret, protected with data
// protection, and stable: the same secret gives the same key.
func TestSigningKey(t *testing.T) {
	t.Parallel()
	for _, tc := range stackCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, _ := deploy(t, tc)
			seed := s.MustGet(t, mockstack.TypeRandomPassword, plan.MainName+"-signing-seed")
			cfg, err := config.Parse(rawConfig(t, tc))
			require.NoError(t, err)
			assert.Equal(t, cfg.DataProtection, seed.Protect, "the seed is protected exactly when data protection is on")
			synapseSecret := byBaseName(t, s, tSecret, plan.SynapseSecretName)
			key := digString(synapseSecret.Inputs, "stringData", "signing.key")
			assert.Equal(t, synapseconfig.SigningKeyFromSecret(digString(seed.Outputs, "result")), key)
			assert.NoError(t, config.CheckSigningKey(key))
			assert.Contains(t, synapseSecret.SecretPaths, "stringData")
		})
	}
}

func synapseSecretFiles() []string {
	return []string{"macaroon_secret_key", "form_secret", "registration_shared_secret", "worker_replication_secret", "signing.key", "redis_password"}
}

func sortedStrings(in []string) []string {
	m := map[string]bool{}
	for _, s := range in {
		m[s] = true
	}
	return sortedKeys(m)
}

// TestRestrictedPods: every container, init containers included, meets
// the `restricted` Pod Security Standard (the namespace enforces it).
func TestRestrictedPods(t *testing.T) {
	t.Parallel()
	for _, tc := range stackCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, _ := deploy(t, tc)
			for _, w := range workloads(s) {
				pod := digMap(w.PodSpec, "securityContext")
				// runAsNonRoot alone fails at start for an image whose
				// USER is a name (the kubelet cannot check it): a uid must
				// be set, at pod or container level, and not be root.
				if uid, ok := dig(pod, "runAsUser").(float64); ok {
					assert.NotZero(t, uid, "%s: pod runs as root", w.Name)
				}
				if w.isSynapse() {
					// The Synapse Secret's files are 0440 root:<fsGroup>:
					// uid 991 reads them through fsGroup only.
					fsGroup, ok := dig(pod, "fsGroup").(float64)
					assert.True(t, ok && fsGroup != 0, "%s: a Synapse pod needs a non-root fsGroup to read its Secret (mode 0440)", w.Name)
				}
				for _, v := range digList(w.PodSpec, "volumes") {
					if mode, ok := dig(v, "secret", "defaultMode").(float64); ok && int(mode)&0o004 == 0 {
						fsGroup, _ := dig(pod, "fsGroup").(float64)
						assert.NotZero(t, fsGroup, "%s: Secret volume %s is mode %o (not world-readable): the pod needs an fsGroup", w.Name, digString(v, "name"), int(mode))
					}
				}
				// restricted forbids an explicit false at pod level, whatever the containers say.
				assert.NotEqual(t, false, pod["runAsNonRoot"], "%s: pod runAsNonRoot false", w.Name)
				for _, c := range w.containers() {
					where := fmt.Sprintf("%s %s container %s", w.Kind, w.Name, digString(c, "name"))
					sc := digMap(c, "securityContext")
					require.NotNil(t, sc, where)
					uid, ok := dig(sc, "runAsUser").(float64)
					if !ok {
						uid, ok = dig(pod, "runAsUser").(float64)
					}
					if assert.True(t, ok, "%s: runAsUser is set neither on the container nor on the pod", where) {
						assert.NotZero(t, uid, "%s: runs as root", where)
					}
					assert.Equal(t, false, sc["allowPrivilegeEscalation"], where)
					assert.NotEqual(t, true, sc["privileged"], where)
					assert.Contains(t, digList(sc, "capabilities", "drop"), "ALL", where)
					assert.True(t, sc["runAsNonRoot"] == true || pod["runAsNonRoot"] == true, where)
					profile := digString(sc, "seccompProfile", "type")
					if profile == "" {
						profile = digString(pod, "seccompProfile", "type")
					}
					assert.Contains(t, []string{"RuntimeDefault", "Localhost"}, profile, where)
					if w.isSynapse() || w.Name == plan.HAProxyName || w.Name == components.ElementWebName {
						assert.Equal(t, true, sc["readOnlyRootFilesystem"], where)
					}
				}
				if w.isSynapse() || w.Name == plan.HAProxyName || w.Name == components.ElementWebName {
					assert.Equal(t, false, w.PodSpec["automountServiceAccountToken"], w.Name)
				}
				if w.isSynapse() && w.Name != plan.MainName {
					require.Len(t, digList(w.PodSpec, "initContainers"), 1, "%s writes its worker file in an init container", w.Name)
					env := digList(w.PodSpec, "initContainers", 0, "env")
					assert.Equal(t, "metadata.name", digString(env, 0, "valueFrom", "fieldRef", "fieldPath"), w.Name)
				}
			}
		})
	}
}

// TestDataProtection: prod protects the database and the media store;
// dev protects nothing.
func TestDataProtection(t *testing.T) {
	t.Parallel()
	cases := []struct {
		stack   stackCase
		protect bool
	}{{stackCases[0], false}, {stackCases[1], true}}
	for _, tc := range cases {
		t.Run(tc.stack.name, func(t *testing.T) {
			t.Parallel()
			s, _ := deploy(t, tc.stack)
			assert.Equal(t, tc.protect, byMetaName(t, s, tCluster, plan.PostgresClusterName).Protect)
			if tc.protect {
				assert.True(t, byMetaName(t, s, tStatefulSet, plan.MinIOName).Protect)
			}
			for name, w := range synapseWorkloads(s) {
				assert.False(t, w.R.Protect, "%s: Synapse workloads hold no data and must stay replaceable", name)
			}
		})
	}
}

// TestDataResourcesStable: federation and tier changes leave the data
// resources (CNPG Cluster, MinIO StatefulSet, their Secrets) where they
// are, with the same inputs. The planned exceptions: Postgres
// max_connections, which follows the number of Synapse processes, and the
// Postgres resources and memory settings, which follow the tier.
func TestDataResourcesStable(t *testing.T) {
	t.Parallel()
	base, _ := deploy(t, stackCases[1])
	variants := []stackCase{
		stackCases[2],
		{name: "prod-medium", file: "prod", overrides: map[string]string{"tier": "medium"}},
		{name: "prod-xlarge-federation-off", file: "prod", overrides: map[string]string{"tier": "xlarge", "federation": `{"enabled":false}`}},
	}
	data := []struct{ typ, name string }{
		{tCluster, plan.PostgresClusterName},
		{tStatefulSet, plan.MinIOName},
		{tSecret, plan.PostgresSecretName},
		{tSecret, plan.MinIOSecretName},
		{tSecret, plan.RedisSecretName},
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			s, p := deploy(t, v)
			for _, d := range data {
				want, got := byMetaName(t, base, d.typ, d.name), byMetaName(t, s, d.typ, d.name)
				assert.Equal(t, want.URN, got.URN, d.name)
				wantIn, gotIn := want.Inputs, got.Inputs
				if d.typ == tCluster {
					assert.Equal(t, fmt.Sprint(p.MaxConnections()), digString(gotIn, "spec", "postgresql", "parameters", "max_connections"))
					// The tier sizes Postgres: its memory settings follow
					// the memory limit (an in-place rolling restart).
					limit := resource.MustParse(digString(gotIn, "spec", "resources", "limits", "memory"))
					for k, v := range plan.PostgresParameters(limit.Value(), p.MaxConnections()) {
						assert.Equal(t, v, digString(gotIn, "spec", "postgresql", "parameters", k), k)
					}
					wantIn, gotIn = withoutSizing(wantIn), withoutSizing(gotIn)
				}
				assert.Equal(t, wantIn, gotIn, "%s %s inputs changed", d.typ, d.name)
				assert.Equal(t, want.Protect, got.Protect, d.name)
			}
		})
	}
}

// withoutSizing drops what the tier and the process count decide: the
// Cluster's resources and the parameters derived from them.
func withoutSizing(in map[string]any) map[string]any {
	out := deepCopy(in).(map[string]any)
	for k := range plan.PostgresParameters(1<<30, 1) {
		delete(digMap(out, "spec", "postgresql", "parameters"), k)
	}
	delete(digMap(out, "spec"), "resources")
	return out
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = deepCopy(e)
		}
		return l
	default:
		return v
	}
}

// TestInvalidConfigRegistersNothing: a config error is returned before
// any resource exists.
func TestInvalidConfigRegistersNothing(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		overrides map[string]string
		key       string
	}{
		{"unknown tier", map[string]string{"tier": "huge"}, "tier"},
		{"two typing writers", map[string]string{"streamWriters": `{"typing":2}`}, "streamWriters.typing"},
		{"missing server name", map[string]string{"serverName": ""}, "serverName"},
		// A misspelt key inside an object. (A misspelt top-level key is
		// not seen: config.Load asks the context for known keys only, and
		// the Go SDK cannot list a stack's config.)
		{"misspelt nested key", map[string]string{"postgres": `{"instanes":3}`}, "postgres.instanes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			raw := rawConfig(t, stackCase{file: "dev", overrides: tc.overrides})
			s, err := mockstack.Run(stack.Deploy, mockstack.Options{Project: config.Namespace, Config: mockConfig(raw)})
			require.Error(t, err)
			var verr config.ValidationError
			require.True(t, errors.As(err, &verr), "want a config.ValidationError, got %v", err)
			assert.Contains(t, verr.Keys(), tc.key)
			assert.Empty(t, s.Resources, "an invalid config must register nothing")
		})
	}
}

// checksums returns each Synapse workload's config and secret checksums.
func checksums(t *testing.T, tc stackCase) (cfg, sec map[string]string, res map[string]any) {
	t.Helper()
	s, _ := deploy(t, tc)
	cfg, sec, res = map[string]string{}, map[string]string{}, map[string]any{}
	for name, w := range synapseWorkloads(s) {
		ann := stringMap(dig(w.R.Inputs, "spec", "template", "metadata", "annotations"))
		require.NotEmpty(t, ann[components.AnnotationChecksum], name)
		require.Regexp(t, `^[0-9a-f]{64}$`, ann[components.AnnotationSecretChecksum], name)
		cfg[name], sec[name] = ann[components.AnnotationChecksum], ann[components.AnnotationSecretChecksum]
		res[name] = dig(w.PodSpec, "containers", 0, "resources")
	}
	return cfg, sec, res
}

// TestChecksums: a change that every process reads (the event persister
// list is in instance_map and stream_writers) rolls every process; a change
// to one pool's resources rolls nothing through the checksums.
func TestChecksums(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		base     stackCase
		change   map[string]string
		allRoll  bool
		resource string // the pool whose resources change
	}{
		{name: "dev persisters", base: stackCases[0], change: map[string]string{"pools": `{"eventPersister":{"replicas":2}}`}, allRoll: true},
		{name: "prod persisters", base: stackCases[1], change: map[string]string{"pools": `{"background":{"replicas":1},"pusher":{"replicas":2},"eventPersister":{"replicas":7}}`}, allRoll: true},
		{name: "dev synchrotron resources", base: stackCases[0], change: map[string]string{"pools": `{"synchrotron":{"resources":{"limits":{"memory":"3Gi"}}}}`},
			resource: "synapse-synchrotron"},
		{name: "prod generic resources", base: stackCases[1], change: map[string]string{"pools": `{"background":{"replicas":1},"pusher":{"replicas":2},"generic":{"resources":{"requests":{"cpu":"300m"}}}}`},
			resource: "synapse-generic-worker"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			changed := tc.base
			changed.name += "-changed"
			changed.overrides = map[string]string{}
			for k, v := range tc.base.overrides {
				changed.overrides[k] = v
			}
			for k, v := range tc.change {
				changed.overrides[k] = v
			}
			cfgA, secA, resA := checksums(t, tc.base)
			cfgB, secB, resB := checksums(t, changed)
			require.Equal(t, sortedKeys(cfgA), sortedKeys(cfgB), "the same workloads")
			assert.Equal(t, secA, secB, "generated secrets are stable across updates")
			for name := range cfgA {
				if tc.allRoll {
					assert.NotEqual(t, cfgA[name], cfgB[name], "%s must restart when the event persisters change", name)
					continue
				}
				assert.Equal(t, cfgA[name], cfgB[name], "%s: only %s's resources changed", name, tc.resource)
				if name == tc.resource {
					assert.NotEqual(t, resA[name], resB[name], "the change reached %s", name)
				} else {
					assert.Equal(t, resA[name], resB[name], name)
				}
			}
		})
	}
}

// TestAntiAffinity: synchrotrons with a fixed count (dev) must each have a
// node; autoscaled ones (prod) only prefer it, as every other pool does.
func TestAntiAffinity(t *testing.T) {
	t.Parallel()
	cases := []struct {
		stack    stackCase
		required bool
	}{{stackCases[0], true}, {stackCases[1], false}}
	for _, tc := range cases {
		t.Run(tc.stack.name, func(t *testing.T) {
			t.Parallel()
			s, _ := deploy(t, tc.stack)
			for name, w := range synapseWorkloads(s) {
				anti := digMap(w.PodSpec, "affinity", "podAntiAffinity")
				required := anti["requiredDuringSchedulingIgnoredDuringExecution"] != nil
				want := tc.required && name == "synapse-synchrotron"
				assert.Equal(t, want, required, name)
				assert.Equal(t, !want, anti["preferredDuringSchedulingIgnoredDuringExecution"] != nil, name)
			}
		})
	}
}

// TestRouterAndIngress: HAProxy's ConfigMap holds the rendered files, its
// pods roll when they change, and the Ingress sends the public paths to it.
func TestRouterAndIngress(t *testing.T) {
	t.Parallel()
	for _, tc := range stackCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, p := deploy(t, tc)
			raw := rawConfig(t, tc)
			cfg, err := config.Parse(raw)
			require.NoError(t, err)
			files, err := router.Render(p, router.Options{WellKnown: synapseconfig.WellKnown(cfg)})
			require.NoError(t, err)
			cm := byBaseName(t, s, tConfigMap, plan.HAProxyConfigMapName)
			assert.Equal(t, files.Config, digString(cm.Inputs, "data", router.ConfigFileName))
			assert.Len(t, digMap(cm.Inputs, "data"), len(files.Maps)+1)
			// Discovery: /client always, /server only with federation or
			// RTC on (the RTC authorization service finds openid/userinfo
			// through it).
			assert.Contains(t, digMap(cm.Inputs, "data"), "wellknown-client.json")
			_, serverWK := digMap(cm.Inputs, "data")["wellknown-server.json"]
			assert.Equal(t, cfg.Federation.Enabled || cfg.RTC.Enabled, serverWK, "wellknown-server.json iff federation or RTC")
			d := byMetaName(t, s, tDeployment, plan.HAProxyName)
			assert.Equal(t, float64(cfg.HAProxy.Replicas), dig(d.Inputs, "spec", "replicas"))
			assert.NotEmpty(t, digString(d.Inputs, "spec", "template", "metadata", "annotations", components.AnnotationChecksum))
			assert.Equal(t, float64(components.HAProxyUID), dig(d.Inputs, "spec", "template", "spec", "securityContext", "runAsUser"))

			var ings []mockstack.Resource // Element Web's and RTC's have their own tests
			for _, r := range s.ByType(tIngress) {
				if metaName(r) == components.IngressName {
					ings = append(ings, r)
				}
			}
			if !cfg.Ingress.Enabled {
				assert.Empty(t, s.ByType(tIngress))
				return
			}
			require.Len(t, ings, 1)
			var paths []string
			for _, path := range digList(ings[0].Inputs, "spec", "rules", 0, "http", "paths") {
				paths = append(paths, digString(path, "path"))
			}
			assert.ElementsMatch(t, []string{"/_matrix", "/_synapse/client", "/.well-known/matrix"}, paths)
			assert.Equal(t, cfg.Ingress.Host, digString(ings[0].Inputs, "spec", "rules", 0, "host"))
			assert.Equal(t, cfg.Ingress.TLSSecretName, digString(ings[0].Inputs, "spec", "tls", 0, "secretName"))
			assert.Equal(t, cfg.Ingress.ClassName, digString(ings[0].Inputs, "spec", "ingressClassName"))
			for k := range cfg.Ingress.Annotations {
				assert.Contains(t, digMap(ings[0].Inputs, "metadata", "annotations"), k)
			}
			for _, path := range paths {
				assert.False(t, strings.HasPrefix(path, "/_synapse/admin"), "the admin API is not public")
			}
		})
	}
}

// TestConfigCheckGatesMain: Synapse's own config check runs on every
// process's files, each with its own image, and main waits for it.
func TestConfigCheckGatesMain(t *testing.T) {
	t.Parallel()
	for _, tc := range stackCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, p := deploy(t, tc)
			job := byBaseName(t, s, "kubernetes:batch/v1:Job", plan.MainName+"-config-check")
			inits := digList(job.Inputs, "spec", "template", "spec", "initContainers")
			require.Len(t, inits, len(p.Processes), "one check per process")
			for i, proc := range p.Processes {
				assert.Equal(t, proc.Image, digString(inits, i, "image"), proc.Name)
				assert.Equal(t, strings.Join(synapseconfig.CheckArgs(proc), " "), strings.Join(toStrings(digList(inits, i, "args")), " "), proc.Name)
			}
			mainSts := byMetaName(t, s, tStatefulSet, plan.MainName)
			assert.True(t, s.DependsOnTransitively(mainSts.URN, job.URN), "main must wait for the config check")
			assert.NotEmpty(t, digString(job.Inputs, "spec", "template", "metadata", "annotations", components.AnnotationChecksum))
		})
	}
}

func toStrings(l []any) []string {
	out := make([]string, len(l))
	for i, v := range l {
		out[i], _ = v.(string)
	}
	return out
}

// An existing server's signing key (synapse:signingKey, a stack secret)
// is used as it is, and nothing is generated in its place; a plain or
// malformed value is refused without echoing it.
func TestSigningKeyFromStackSecret(t *testing.T) {
	t.Parallel()
	const key = "ed25519 a_old1 mFZX2SVd6yGcI/qtgWXXMY4eXITrbRuTXQkuHsXWO6s"
	raw := rawConfig(t, stackCases[0])
	run := func(value string, secret bool) (*mockstack.Stack, error) {
		cfg := mockConfig(raw)
		cfg["synapse:signingKey"] = value
		opts := mockstack.Options{Project: config.Namespace, Stack: "dev", Config: cfg}
		if secret {
			opts.SecretConfigKeys = []string{"synapse:signingKey"}
		}
		return mockstack.Run(stack.Deploy, opts)
	}
	s, err := run(key, true)
	require.NoError(t, err)
	synapseSecret := byBaseName(t, s, tSecret, plan.SynapseSecretName)
	assert.Equal(t, key+"\n", digString(synapseSecret.Inputs, "stringData", "signing.key"))
	_, generated := s.Get(mockstack.TypeRandomPassword, plan.MainName+"-signing-seed")
	assert.False(t, generated, "no seed is generated when the stack brings its key")

	for _, tc := range []struct {
		name, value string
		secret      bool
		want        string
	}{
		{"plain text", key, false, "--secret"},
		{"not a key", "hunter2hunter2hunter2", true, "ed25519 a_<id>"},
		{"short seed", "ed25519 a_x QUJD", true, "ed25519 a_<id>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := run(tc.value, tc.secret)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "synapse:signingKey")
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), tc.value, "the error must not echo the key")
			if s != nil {
				assert.Empty(t, s.Resources, "a refused key registers nothing")
			}
		})
	}
}

// TestMountedObjectsReplaceCreateFirst: pulumi-kubernetes replaces a
// ConfigMap or Secret whose data changes, and a Job whose template
// changes; under a fixed name the replace deletes first and a restarting
// pod cannot mount its config. So every ConfigMap and Secret a pod mounts
// is named by its content (the name changes exactly when the data does),
// every Job is auto-named, and nothing asks for delete-before-replace.
func TestMountedObjectsReplaceCreateFirst(t *testing.T) {
	t.Parallel()
	for _, tc := range stackCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, _ := deploy(t, tc)
			for _, r := range s.Resources {
				assert.False(t, r.DeleteBeforeReplace, "%s %s asks for delete-before-replace", r.Type, r.Name)
				if r.Type == tJob {
					assert.Empty(t, digString(r.Inputs, "metadata", "name"), "Job %s must be auto-named", r.Name)
				}
			}
			mounted := map[string]string{} // name → type
			for _, w := range workloads(s) {
				for _, v := range digList(w.PodSpec, "volumes") {
					if n := digString(v, "configMap", "name"); n != "" {
						mounted[n] = tConfigMap
					}
					if n := digString(v, "secret", "secretName"); n != "" {
						mounted[n] = tSecret
					}
				}
			}
			require.NotEmpty(t, mounted)
			cfg, err := config.Parse(rawConfig(t, tc))
			require.NoError(t, err)
			// The operator's TURN certificate (cert-manager or by hand),
			// like the Ingresses' TLS Secrets: not ours to name.
			delete(mounted, cfg.RTC.TURN.TLSSecretName)
			for name, typ := range mounted {
				r := byMetaName(t, s, typ, name)
				data := map[string]string{}
				for _, key := range []string{"data", "stringData"} {
					for k, v := range digMap(r.Inputs, key) {
						data[k] = v.(string)
					}
				}
				require.NotEmpty(t, data, name)
				base, hash, ok := cutLast(name, "-")
				require.True(t, ok, name)
				assert.Regexp(t, `^[0-9a-f]{10}$`, hash, "%s %s: the name carries a content hash", typ, name)
				// Changing any value changes the name the pods mount.
				for k := range data {
					changed := maps.Clone(data)
					changed[k] += "x"
					assert.NotEqual(t, name, contentNameOf(t, tc, typ, base, changed), "%s: a change of %s keeps the name", name, k)
					break
				}
				assert.Equal(t, name, contentNameOf(t, tc, typ, base, data), "%s: the name is the hash of its data", name)
			}
		})
	}
}

// contentNameOf recomputes the name the program gives an object with this
// data: the Synapse ConfigMap and Secret and the router's ConfigMap hash
// their data as their builders do.
func contentNameOf(t *testing.T, tc stackCase, typ, base string, data map[string]string) string {
	t.Helper()
	var sum string
	switch {
	case typ == tConfigMap && (base == plan.SynapseConfigMapName || base == plan.MinIOName+"-bucket" || base == components.MASConfigMapName):
		// The Synapse config, MinIO's setup script and policies, MAS's config.
		sum = synapseconfig.ChecksumAll(data)
	case typ == tSecret && (base == plan.SynapseSecretName || base == components.MASSecretName):
		sum = components.SecretChecksumOf(data)
	case typ == tConfigMap && base == components.ElementWebConfigMapName:
		sum = components.ElementWebChecksum(data)
	case typ == tConfigMap && base == plan.LiveKitConfigMapName:
		sum = synapseconfig.ChecksumAll(data)
	case typ == tSecret && base == plan.LiveKitSecretName:
		sum = components.LiveKitSecretChecksum(data)
	case typ == tConfigMap && base == plan.HAProxyConfigMapName:
		files := &router.Files{Config: data[router.ConfigFileName], Maps: map[string]string{}}
		for k, v := range data {
			if k != router.ConfigFileName {
				files.Maps[k] = v
			}
		}
		sum = components.RouterChecksum(files)
	default:
		t.Fatalf("%s %s: a mounted object this test does not know; name it by content and add it here", typ, base)
	}
	return base + "-" + sum[:10]
}

func cutLast(s, sep string) (before, after string, found bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

// TestQuantitiesAreCanonical: every quantity the program emits is in the
// form the API server returns (resource.Quantity's String), so a preview
// never shows a false diff such as cpu "1" => "1000m".
func TestQuantitiesAreCanonical(t *testing.T) {
	t.Parallel()
	quantityKeys := map[string]bool{"cpu": true, "memory": true, "storage": true, "size": true, "sizeLimit": true, "ephemeral-storage": true}
	for _, tc := range stackCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, _ := deploy(t, tc)
			seen := 0
			var walk func(where string, v any)
			walk = func(where string, v any) {
				switch v := v.(type) {
				case map[string]any:
					for k, x := range v {
						if str, ok := x.(string); ok && quantityKeys[k] {
							q, err := resource.ParseQuantity(str)
							require.NoError(t, err, "%s.%s", where, k)
							assert.Equal(t, q.String(), str, "%s.%s is not canonical", where, k)
							seen++
							continue
						}
						walk(where+"."+k, x)
					}
				case []any:
					for i, x := range v {
						walk(fmt.Sprintf("%s[%d]", where, i), x)
					}
				}
			}
			for _, r := range s.Resources {
				if strings.HasPrefix(r.Type, "kubernetes:") {
					walk(r.Type+" "+r.Name, r.Inputs)
				}
			}
			assert.Greater(t, seen, 20, "the walk found the quantities")
		})
	}
}

// TestMediaWorkersRunTheS3Image: with S3 on, every container that runs or
// checks a media worker uses mediaImage (the stock image has no
// synapse-s3-storage-provider, and a media worker loads it at start-up:
// ContentRepositoryConfig imports every media_storage_providers module on
// processes that can load the media repository). Every other Synapse
// container runs the stock image.
func TestMediaWorkersRunTheS3Image(t *testing.T) {
	t.Parallel()
	for _, tc := range stackCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			raw := rawConfig(t, tc)
			cfg, err := config.Parse(raw)
			require.NoError(t, err)
			s, p := deploy(t, tc)
			media, ok := p.Process(plan.RoleMediaRepository)
			require.True(t, ok, "no media repository pool")
			if cfg.MinIO.Enabled {
				require.NotEqual(t, cfg.Image, cfg.MediaImage, "the stack enables S3 but its mediaImage is the stock image")
			}
			checked := 0
			for _, w := range workloads(s) {
				for _, c := range w.containers() {
					name, image := digString(c, "name"), digString(c, "image")
					runsMedia := w.isSynapse() && w.Name == media.Name
					checksMedia := name == "check-"+string(plan.RoleMediaRepository)
					switch {
					case runsMedia || checksMedia:
						checked++
						assert.Equal(t, cfg.MediaImage, image, "%s %s container %s", w.Kind, w.Name, name)
					case w.isSynapse() || strings.HasPrefix(name, "check-"):
						assert.Equal(t, cfg.Image, image, "%s %s container %s", w.Kind, w.Name, name)
					}
				}
			}
			// The media pool's init and Synapse containers, and its check.
			assert.GreaterOrEqual(t, checked, 3, "media containers found")
		})
	}
}
