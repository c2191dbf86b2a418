package tests

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"synapse/components"
	"synapse/plan"
	"synapse/synapseconfig"
)

// TestElementWeb: Element Web's objects exist exactly when
// elementWeb.enabled (its Ingress also needs ingress.enabled); its
// config.json names this homeserver; its nginx listens where the Service
// and probes say, on a read-only root with the image's writable paths on
// emptyDirs; and it waits for no Synapse process.
func TestElementWeb(t *testing.T) {
	t.Parallel()
	cases := append(append([]stackCase{}, stackCases...),
		stackCase{name: "dev-element-web", file: "dev", overrides: map[string]string{"elementWeb": `{"enabled":true}`}},
		stackCase{name: "prod-element-web-off", file: "prod", overrides: map[string]string{"elementWeb": `{"enabled":false,"host":"element.example.org"}`}},
		stackCase{name: "prod-element-web-one-replica", file: "prod", overrides: map[string]string{"elementWeb": `{"enabled":true,"replicas":1,"tlsSecretName":"element-example-org-tls"}`}},
	)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, _, cfg := deployConfig(t, tc)
			ec := cfg.ElementWeb

			// Everything Element Web owns carries its name label.
			var owned []string
			for _, r := range s.Resources {
				if digString(r.Inputs, "metadata", "labels", components.LabelName) == components.ElementWebName ||
					strings.HasPrefix(metaName(r), components.ElementWebName) {
					owned = append(owned, r.Type+" "+metaName(r))
				}
			}
			if !ec.Enabled {
				assert.Empty(t, owned, "elementWeb.enabled is false")
				return
			}
			cm := byBaseName(t, s, tConfigMap, components.ElementWebConfigMapName)
			want := []string{
				tConfigMap + " " + metaName(cm),
				tDeployment + " " + components.ElementWebName, tService + " " + components.ElementWebName,
				tNetworkPolicy + " " + components.ElementWebName,
			}
			if cfg.Ingress.Enabled {
				want = append(want, tIngress+" "+components.ElementWebName)
			}
			if ec.Replicas > 1 {
				want = append(want, tPDB+" "+components.ElementWebName)
			}
			assert.ElementsMatch(t, want, owned)

			// config.json: from the plan, parsed back.
			text := digString(cm.Inputs, "data", synapseconfig.ElementWebConfigFile)
			var doc map[string]any
			require.NoError(t, json.Unmarshal([]byte(text), &doc), text)
			assert.Equal(t, strings.TrimSuffix(cfg.PublicBaseURL, "/"), dig(doc, "default_server_config", "m.homeserver", "base_url"))
			assert.Equal(t, cfg.ServerName, dig(doc, "default_server_config", "m.homeserver", "server_name"))
			for _, secret := range []string{"password", "secret", "token", "macaroon"} {
				assert.NotContains(t, strings.ToLower(text), secret)
			}

			// The pod: uid 101, the port from ELEMENT_WEB_PORT, config.json
			// over the image's, the writable paths on emptyDirs.
			d := byMetaName(t, s, tDeployment, components.ElementWebName)
			assert.Equal(t, float64(ec.Replicas), dig(d.Inputs, "spec", "replicas"))
			pod := digMap(d.Inputs, "spec", "template", "spec")
			assert.Equal(t, float64(components.ElementWebUID), dig(pod, "securityContext", "runAsUser"))
			assert.NotEmpty(t, digString(d.Inputs, "spec", "template", "metadata", "annotations", components.AnnotationChecksum))
			c := digMap(pod, "containers", 0)
			assert.Equal(t, ec.Image, digString(c, "image"))
			port := dig(c, "ports", 0, "containerPort").(float64)
			assert.Equal(t, components.ElementWebPortName, digString(c, "ports", 0, "name"))
			assert.NotEqual(t, float64(80), port, "a non-root nginx may not bind 80")
			var envPort string
			for _, e := range digList(c, "env") {
				if digString(e, "name") == "ELEMENT_WEB_PORT" {
					envPort = digString(e, "value")
				}
			}
			assert.Equal(t, strconv.Itoa(int(port)), envPort, "the image's nginx listens on ELEMENT_WEB_PORT")
			assert.Equal(t, true, dig(c, "securityContext", "readOnlyRootFilesystem"))
			emptyDirs := map[string]bool{}
			for _, v := range digList(pod, "volumes") {
				if dig(v, "emptyDir") != nil {
					emptyDirs[digString(v, "name")] = true
				}
			}
			mounts := map[string]string{}
			for _, m := range digList(c, "volumeMounts") {
				mounts[digString(m, "mountPath")] = digString(m, "name")
			}
			for _, path := range []string{"/etc/nginx/conf.d", "/tmp", "/var/cache/nginx"} {
				assert.True(t, emptyDirs[mounts[path]], "%s must be an emptyDir (nginx writes there)", path)
			}
			assert.Equal(t, "config", mounts["/app/config.json"])

			// The Ingress: its own host, ingress.className and annotations,
			// elementWeb.tlsSecretName.
			if cfg.Ingress.Enabled {
				ing := byMetaName(t, s, tIngress, components.ElementWebName)
				assert.Equal(t, ec.Host, digString(ing.Inputs, "spec", "rules", 0, "host"))
				assert.NotEqual(t, cfg.Ingress.Host, ec.Host)
				assert.Equal(t, components.ElementWebName, digString(ing.Inputs, "spec", "rules", 0, "http", "paths", 0, "backend", "service", "name"))
				assert.Equal(t, cfg.Ingress.ClassName, digString(ing.Inputs, "spec", "ingressClassName"))
				assert.Equal(t, ec.TLSSecretName, digString(ing.Inputs, "spec", "tls", 0, "secretName"))
				if ec.TLSSecretName != "" {
					assert.Equal(t, ec.Host, digString(ing.Inputs, "spec", "tls", 0, "hosts", 0))
				}
			}

			// Static files wait for nothing of Synapse's.
			main := byMetaName(t, s, tStatefulSet, plan.MainName)
			assert.False(t, s.DependsOnTransitively(d.URN, main.URN), "Element Web must not wait for Synapse")
		})
	}
}
