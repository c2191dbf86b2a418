package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"synapse/components"
	"synapse/config"
	"synapse/internal/kubeapitest"
	"synapse/internal/mockstack"
	"synapse/plan"
	"synapse/render"
	"synapse/stack"
)

// elementAdminCases: the console off by default (stackCases), off when
// admin.enabled is false whatever else is set, on with MAS on a laptop
// (one pod, no Ingress) and in prod (two pods and a PDB, an Ingress with
// or without TLS on its own host).
var elementAdminCases = append(append([]stackCase{}, stackCases...),
	stackCase{name: "prod-admin-off", file: "prod", overrides: map[string]string{
		"admin": `{"enabled":false,"host":"console.example.org","tlsSecretName":"console-tls"}`}},
	// dev runs without MAS: the console needs it on.
	stackCase{name: "dev-admin", file: "dev", overrides: map[string]string{
		"mas": `{"enabled":true}`, "admin": `{"enabled":true}`}},
	stackCase{name: "prod-admin", file: "prod", overrides: map[string]string{
		"admin": `{"enabled":true,"tlsSecretName":"admin-example-org-tls"}`}},
	// TLS ends in front of the Ingress (no ingress.tlsSecretName): no
	// host needs a Secret of its own.
	stackCase{name: "prod-admin-own-host-no-tls", file: "prod", overrides: map[string]string{
		"ingress": `{"enabled":true,"className":"nginx","host":"matrix.example.org","annotations":{"nginx.ingress.kubernetes.io/proxy-body-size":"100m"}}`,
		"admin":   `{"enabled":true,"host":"console.example.org","image":"registry.example.org/element-admin:0.1.13"}`}},
)

// elementAdminOwned are the resources that carry Element Admin's name
// label or name, as "type name".
func elementAdminOwned(s *mockstack.Stack) []string {
	var owned []string
	for _, r := range s.Resources {
		if digString(r.Inputs, "metadata", "labels", components.LabelName) == components.ElementAdminName ||
			strings.HasPrefix(metaName(r), components.ElementAdminName) {
			owned = append(owned, r.Type+" "+metaName(r))
		}
	}
	return owned
}

// TestElementAdmin: the admin console's objects exist exactly when
// admin.enabled (its Ingress also needs ingress.enabled); its one setting,
// SERVER_NAME, is the server name; its nginx runs under Pod Security
// "restricted" on a read-only root with /tmp on an emptyDir, probed on
// /health where the Service sends traffic; its Ingress is admin.host's; its
// NetworkPolicy opens its http port only; and it waits for no Synapse
// process.
func TestElementAdmin(t *testing.T) {
	t.Parallel()
	for _, tc := range elementAdminCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, _, cfg := deployConfig(t, tc)
			ac := cfg.Admin

			owned := elementAdminOwned(s)
			if !ac.Console {
				assert.Empty(t, owned, "admin.enabled is false")
				assert.NotContains(t, dig(s.Outputs, "endpoints"), components.ElementAdminName)
				return
			}
			require.True(t, cfg.MAS.Enabled, "config validation lets the console on only with MAS")
			replicas := 2
			if cfg.Tier == "laptop" {
				replicas = 1
			}
			want := []string{
				tDeployment + " " + components.ElementAdminName, tService + " " + components.ElementAdminName,
				tNetworkPolicy + " " + components.ElementAdminName,
			}
			if cfg.Ingress.Enabled {
				want = append(want, tIngress+" "+components.ElementAdminName)
			}
			if replicas > 1 {
				want = append(want, tPDB+" "+components.ElementAdminName)
			}
			assert.ElementsMatch(t, want, owned)

			d := byMetaName(t, s, tDeployment, components.ElementAdminName)
			assert.Equal(t, float64(replicas), dig(d.Inputs, "spec", "replicas"), "one pod on a laptop, two elsewhere")
			podLabels := stringMap(dig(d.Inputs, "spec", "template", "metadata", "labels"))
			pod := digMap(d.Inputs, "spec", "template", "spec")
			containers := digList(pod, "containers")
			require.Len(t, containers, 1)
			c := digMap(containers, 0)
			assert.Equal(t, ac.Image, digString(c, "image"))
			assert.Empty(t, digList(pod, "initContainers"))

			// Its only setting is SERVER_NAME; nothing secret reaches it.
			env := map[string]string{}
			for _, e := range digList(c, "env") {
				env[digString(e, "name")] = digString(e, "value")
			}
			assert.Equal(t, map[string]string{"SERVER_NAME": cfg.ServerName}, env)
			assert.Nil(t, dig(c, "envFrom"))
			assert.Equal(t, false, dig(pod, "automountServiceAccountToken"))

			// Pod Security "restricted", on a read-only root, as the
			// image's own user (101, nginx-unprivileged).
			assert.Equal(t, true, dig(pod, "securityContext", "runAsNonRoot"))
			assert.Equal(t, float64(components.ElementAdminUID), dig(pod, "securityContext", "runAsUser"))
			assert.NotZero(t, dig(pod, "securityContext", "runAsUser"))
			assert.Equal(t, "RuntimeDefault", digString(pod, "securityContext", "seccompProfile", "type"))
			sc := digMap(c, "securityContext")
			assert.Equal(t, true, sc["readOnlyRootFilesystem"])
			assert.Equal(t, false, sc["allowPrivilegeEscalation"])
			assert.Equal(t, []any{"ALL"}, digList(sc, "capabilities", "drop"))
			assert.Nil(t, dig(sc, "capabilities", "add"))
			assert.NotEqual(t, true, sc["privileged"])
			assert.Equal(t, "RuntimeDefault", digString(sc, "seccompProfile", "type"))

			// /tmp (listen.conf, index.runtime.html, nginx's pid and temp
			// files) is the one writable path, a small emptyDir; every
			// volume is an emptyDir (no config or secret is mounted).
			emptyDirs := map[string]bool{}
			for _, v := range digList(pod, "volumes") {
				require.NotNil(t, dig(v, "emptyDir"), "volume %s: only emptyDirs", digString(v, "name"))
				emptyDirs[digString(v, "name")] = true
				assert.NotEmpty(t, digString(v, "emptyDir", "sizeLimit"), "volume %s: bounded", digString(v, "name"))
			}
			mounts := map[string]string{}
			for _, m := range digList(c, "volumeMounts") {
				mounts[digString(m, "mountPath")] = digString(m, "name")
			}
			assert.True(t, emptyDirs[mounts["/tmp"]], "/tmp must be an emptyDir (the image writes there)")

			// The image listens on 8080 (EXPOSE 8080), named http; probes
			// and the Service use that name.
			require.Len(t, digList(c, "ports"), 1)
			assert.Equal(t, components.ElementAdminPortName, digString(c, "ports", 0, "name"))
			assert.Equal(t, float64(8080), dig(c, "ports", 0, "containerPort"))
			for _, probe := range []string{"readinessProbe", "livenessProbe"} {
				assert.Equal(t, "/health", digString(c, probe, "httpGet", "path"), probe)
				assert.Equal(t, components.ElementAdminPortName, dig(c, probe, "httpGet", "port"), probe)
			}
			svc := byMetaName(t, s, tService, components.ElementAdminName)
			assert.True(t, selects(stringMap(dig(svc.Inputs, "spec", "selector")), podLabels), "the Service selects the pods")
			require.Len(t, digList(svc.Inputs, "spec", "ports"), 1)
			assert.Equal(t, components.ElementAdminPortName, dig(svc.Inputs, "spec", "ports", 0, "targetPort"))
			assert.Equal(t, components.ElementAdminPortName, digString(svc.Inputs, "spec", "ports", 0, "name"))
			assert.Equal(t, float64(components.ElementAdminServicePort), dig(svc.Inputs, "spec", "ports", 0, "port"))
			assert.Equal(t, plan.Service{Name: components.ElementAdminName, Namespace: cfg.Namespace, Port: components.ElementAdminServicePort}.Host()+":80",
				dig(s.Outputs, "endpoints", components.ElementAdminName))

			if replicas > 1 {
				pdb := byMetaName(t, s, tPDB, components.ElementAdminName)
				assert.True(t, selects(stringMap(dig(pdb.Inputs, "spec", "selector", "matchLabels")), podLabels), "the PDB selects the pods")
				assert.Equal(t, float64(1), dig(pdb.Inputs, "spec", "maxUnavailable"))
			}

			// Its NetworkPolicy: any source, its http port, nothing else
			// (TestNetworkPolicyFlows evaluates the flows).
			np := byMetaName(t, s, tNetworkPolicy, components.ElementAdminName)
			assert.True(t, selectsExpr(digMap(np.Inputs, "spec", "podSelector"), podLabels), "the NetworkPolicy selects the pods")
			rules := digList(np.Inputs, "spec", "ingress")
			require.Len(t, rules, 1)
			assert.Nil(t, dig(rules, 0, "from"), "browsers reach it from anywhere, like Element Web")
			assert.Equal(t, []any{map[string]any{"port": components.ElementAdminPortName, "protocol": "TCP"}}, digList(rules, 0, "ports"))

			// The Ingress: admin.host (not the homeserver's), all paths to
			// the Service's named port, ingress.className and annotations,
			// admin.tlsSecretName for that host.
			if cfg.Ingress.Enabled {
				ing := byMetaName(t, s, tIngress, components.ElementAdminName)
				spec := digMap(ing.Inputs, "spec")
				require.Len(t, digList(spec, "rules"), 1)
				assert.Equal(t, ac.Host, digString(spec, "rules", 0, "host"))
				assert.NotEqual(t, cfg.Ingress.Host, ac.Host)
				assert.Equal(t, "/", digString(spec, "rules", 0, "http", "paths", 0, "path"))
				assert.Equal(t, components.ElementAdminName, digString(spec, "rules", 0, "http", "paths", 0, "backend", "service", "name"))
				assert.Equal(t, components.ElementAdminPortName, digString(spec, "rules", 0, "http", "paths", 0, "backend", "service", "port", "name"))
				assert.Equal(t, cfg.Ingress.ClassName, digString(spec, "ingressClassName"))
				assert.Equal(t, cfg.Ingress.Annotations, stringMap(dig(ing.Inputs, "metadata", "annotations")))
				if ac.TLSSecretName != "" {
					assert.Equal(t, []any{map[string]any{"hosts": []any{ac.Host}, "secretName": ac.TLSSecretName}}, digList(spec, "tls"))
				} else {
					assert.Nil(t, dig(spec, "tls"), "no admin.tlsSecretName: no TLS (ingress.tlsSecretName is for another host)")
				}
				// It waits for the pods behind it, and only for them.
				assert.True(t, s.DependsOnTransitively(ing.URN, d.URN), "the Ingress waits for Element Admin")
				assert.True(t, s.DependsOnTransitively(ing.URN, svc.URN), "the Ingress waits for its Service")
			}

			// A static app waits for nothing of Synapse's.
			main := byMetaName(t, s, tStatefulSet, plan.MainName)
			assert.False(t, s.DependsOnTransitively(d.URN, main.URN), "Element Admin must not wait for Synapse")
		})
	}
}

// TestElementAdminNeedsMAS: the console without MAS is a config error
// naming admin.enabled, and nothing is registered.
func TestElementAdminNeedsMAS(t *testing.T) {
	t.Parallel()
	raw := rawConfig(t, stackCase{file: "dev", overrides: map[string]string{
		"admin": `{"enabled":true}`, "mas": `{"enabled":false}`}})
	_, err := config.Parse(raw)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "admin.enabled")
	s, err := mockstack.Run(stack.Deploy, mockstack.Options{Project: config.Namespace, Stack: "dev", Config: mockConfig(raw)})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "admin.enabled")
	if s != nil {
		assert.Empty(t, elementAdminOwned(s))
	}
}

// TestElementAdminRealAPIServer sends Element Admin's rendered objects (and
// their Namespace, whose own labels make Pod Security enforce
// "restricted") to a real kube-apiserver: strict fields, warnings as
// errors. render's TestRealAPIServerAcceptsEveryObject covers the stacks
// as committed, where the console is off. Skips without the tools unless
// REQUIRE_REAL_TOOLS=1.
func TestElementAdminRealAPIServer(t *testing.T) {
	srv := kubeapitest.Start(t)
	for _, tc := range elementAdminCases {
		cfg, err := config.Parse(rawConfig(t, tc))
		require.NoError(t, err)
		if !cfg.Admin.Console {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			res, err := render.StackConfig(tc.file, rawConfig(t, tc))
			require.NoError(t, err)
			dir := t.TempDir()
			kinds := map[string]bool{}
			for _, o := range res.Objects {
				kind, _ := o.Manifest["kind"].(string)
				name := digString(o.Manifest, "metadata", "name")
				label := digString(o.Manifest, "metadata", "labels", components.LabelName)
				if kind != "Namespace" && name != components.ElementAdminName && label != components.ElementAdminName {
					continue
				}
				if kind != "Namespace" {
					kinds[kind] = true
				}
				b, err := render.YAML(o)
				require.NoError(t, err)
				p := filepath.Join(dir, filepath.FromSlash(o.Path))
				require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
				require.NoError(t, os.WriteFile(p, b, 0o644))
			}
			wantKinds := map[string]bool{"Deployment": true, "Service": true, "NetworkPolicy": true}
			if cfg.Ingress.Enabled {
				wantKinds["Ingress"] = true
			}
			if cfg.Tier != "laptop" {
				wantKinds["PodDisruptionBudget"] = true
			}
			require.Equal(t, wantKinds, kinds, "Element Admin's rendered objects")

			result := srv.DryRunDir(t, cfg.Namespace, dir)
			assert.True(t, result.OK(), "the API server refused or warned about Element Admin's objects:\n%s", result)
			labels := srv.NamespaceLabels(t, cfg.Namespace)
			assert.Equal(t, "restricted", labels["pod-security.kubernetes.io/enforce"], "judged under the program's own Pod Security labels")
			t.Logf("%s: %d objects accepted", tc.name, len(result.Findings))
		})
	}
}
