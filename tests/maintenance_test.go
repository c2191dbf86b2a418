package tests

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"synapse/components"
	"synapse/config"
	"synapse/plan"
	"synapse/synapseconfig"
)

// withOverrides is tc with more config overrides.
func withOverrides(tc stackCase, name string, kv ...string) stackCase {
	o := map[string]string{}
	for k, v := range tc.overrides {
		o[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		o[kv[i]] = kv[i+1]
	}
	return stackCase{name: name, file: tc.file, overrides: o}
}

// containerNamed returns a workload's container (not init) by name.
func containerNamed(w workload, name string) (map[string]any, bool) {
	for _, c := range digList(w.PodSpec, "containers") {
		if digString(c, "name") == name {
			return c.(map[string]any), true
		}
	}
	return nil, false
}

// TestMediaCacheOnlyWithS3: each media worker pod runs the media cache
// container on its own volume exactly when media is also in S3, with the
// configured bounds and the S3 credentials only; no other pod runs it, and
// without S3 nothing anywhere runs the eviction script (the local store is
// then the only copy of the media).
func TestMediaCacheOnlyWithS3(t *testing.T) {
	t.Parallel()
	cases := []struct {
		tc            stackCase
		days, percent int // 0: no cache container anywhere
	}{
		{stackCases[0], 0, 0}, // dev: no MinIO
		{withOverrides(stackCases[0], "dev with more media storage", "mediaStorage", `{"size":"5Gi"}`), 0, 0},
		{stackCases[1], config.DefaultMediaCacheDays, config.DefaultMediaCacheMaxPercent},
		{withOverrides(stackCases[1], "prod with bounds", "mediaStorage", `{"size":"10Gi","cacheDays":3,"cacheMaxPercent":60}`), 3, 60},
		{stackCases[2], config.DefaultMediaCacheDays, config.DefaultMediaCacheMaxPercent},
	}
	for _, c := range cases {
		t.Run(c.tc.name, func(t *testing.T) {
			t.Parallel()
			s, p := deploy(t, c.tc)
			media, ok := p.Process(plan.RoleMediaRepository)
			require.True(t, ok)
			found := 0
			for _, w := range workloads(s) {
				for _, ct := range w.containers() {
					args := strings.Join(toStrings(digList(ct, "args")), " ")
					runsScript := strings.Contains(args, "def run_once") || digString(ct, "name") == components.MediaCacheContainer
					if !runsScript {
						continue
					}
					found++
					require.NotZero(t, c.days, "%s %s runs the media cache without S3: the local store is the only copy", w.Kind, w.Name)
					assert.Equal(t, media.Name, w.Name, "only media workers keep media")
					assert.Equal(t, "StatefulSet", w.Kind)
				}
			}
			if c.days == 0 {
				assert.Zero(t, found)
				return
			}
			require.Equal(t, 1, found, "the media StatefulSet's pods run one media cache container")
			w := synapseWorkloads(s)[media.Name]
			cache, _ := containerNamed(w, components.MediaCacheContainer)
			synapse, ok := containerNamed(w, "synapse")
			require.True(t, ok)
			args := toStrings(digList(cache, "args"))
			require.GreaterOrEqual(t, len(args), 2)
			assert.Equal(t, synapseconfig.MediaCacheScript, args[1])
			assert.Equal(t, fmt.Sprintf("--media %s --config %s/%s --max-idle-days %d --max-usage-percent %d",
				synapseconfig.MediaDir, synapseconfig.ConfigDir, synapseconfig.SharedFile, c.days, c.percent), strings.Join(args[2:], " "))
			assert.Equal(t, digString(synapse, "image"), digString(cache, "image"), "the media image (boto3, PyYAML)")

			// The same volume as Synapse's media_store_path (the pod's own
			// claim), and homeserver.yaml.
			mounts := map[string]string{}
			for _, m := range digList(cache, "volumeMounts") {
				mounts[digString(m, "mountPath")] = digString(m, "name")
			}
			synapseMounts := map[string]string{}
			for _, m := range digList(synapse, "volumeMounts") {
				synapseMounts[digString(m, "mountPath")] = digString(m, "name")
			}
			assert.Equal(t, synapseMounts[synapseconfig.MediaDir], mounts[synapseconfig.MediaDir])
			assert.Equal(t, synapseMounts[synapseconfig.ConfigDir], mounts[synapseconfig.ConfigDir])
			claims := digList(w.R.Inputs, "spec", "volumeClaimTemplates")
			require.Len(t, claims, 1)
			assert.Equal(t, digString(claims[0], "metadata", "name"), mounts[synapseconfig.MediaDir], "the pod's own claim")

			// The S3 credentials as the provider gets them, and nothing else.
			synapseEnv := map[string]any{}
			for _, e := range digList(synapse, "env") {
				synapseEnv[digString(e, "name")] = dig(e, "valueFrom")
			}
			var names []string
			for _, e := range digList(cache, "env") {
				name := digString(e, "name")
				names = append(names, name)
				assert.Nil(t, dig(e, "value"), "%s is passed by value", name)
				assert.Equal(t, synapseEnv[name], dig(e, "valueFrom"), "%s: not the provider's reference", name)
			}
			assert.ElementsMatch(t, []string{synapseconfig.EnvS3AccessKey, synapseconfig.EnvS3SecretKey}, names)
		})
	}
}

// TestStateCompressionCronJob: the compressor CronJob exists exactly when
// maintenance.stateCompression is on, on the configured schedule, never
// overlapping, in a restricted pod, with the database password from the
// Postgres Secret by reference only (no secret in its arguments or in any
// ConfigMap).
func TestStateCompressionCronJob(t *testing.T) {
	t.Parallel()
	cases := []struct {
		tc       stackCase
		schedule string // "": no CronJob
	}{
		{stackCases[0], ""},
		{withOverrides(stackCases[0], "dev with compression", "maintenance",
			`{"stateCompression":{"enabled":true,"image":"r.io/compress:1","schedule":"15 4 * * 0","chunkSize":200,"chunks":20}}`), "15 4 * * 0"},
		{withOverrides(stackCases[0], "dev with compression off but configured", "maintenance",
			`{"stateCompression":{"enabled":false,"image":"r.io/compress:1","schedule":"@weekly"}}`), ""},
		{stackCases[1], config.DefaultStateCompressionSchedule},
		{withOverrides(stackCases[1], "prod compression off", "maintenance", `{"stateCompression":{"enabled":false}}`), ""},
	}
	for _, c := range cases {
		t.Run(c.tc.name, func(t *testing.T) {
			t.Parallel()
			s, _ := deploy(t, c.tc)
			cfg, err := config.Parse(rawConfig(t, c.tc))
			require.NoError(t, err)
			jobs := s.ByType(tCronJob)
			if c.schedule == "" {
				assert.Empty(t, jobs, "maintenance.stateCompression is off")
				return
			}
			require.Len(t, jobs, 1)
			cj := jobs[0]
			sc := cfg.Maintenance.StateCompression
			assert.Equal(t, components.StateCompressorName, metaName(cj), "kubectl create job --from=cronjob/"+components.StateCompressorName)
			assert.Equal(t, c.schedule, digString(cj.Inputs, "spec", "schedule"))
			assert.Equal(t, "Forbid", digString(cj.Inputs, "spec", "concurrencyPolicy"))
			pod := digMap(cj.Inputs, "spec", "jobTemplate", "spec", "template", "spec")
			assert.Equal(t, "Never", pod["restartPolicy"])
			assert.Equal(t, false, pod["automountServiceAccountToken"])
			assert.Equal(t, true, dig(pod, "securityContext", "runAsNonRoot"))
			containers := digList(pod, "containers")
			require.Len(t, containers, 1)
			ct := containers[0]
			assert.Equal(t, sc.Image, digString(ct, "image"))
			assert.Equal(t, true, dig(ct, "securityContext", "readOnlyRootFilesystem"))
			assert.Equal(t, false, dig(ct, "securityContext", "allowPrivilegeEscalation"))
			assert.NotEmpty(t, dig(ct, "resources", "limits", "memory"))
			args := toStrings(digList(ct, "args"))
			assert.Equal(t, components.StateCompressorArgs(sc), args)

			// The password: a reference to the Postgres Secret, in no argument.
			var password map[string]any
			for _, e := range digList(ct, "env") {
				if digString(e, "name") == "PGPASSWORD" {
					password = e.(map[string]any)
				}
			}
			require.NotNil(t, password, "PGPASSWORD")
			assert.Nil(t, password["value"], "the password is passed by value")
			assert.Equal(t, plan.PostgresSecretName, digString(password, "valueFrom", "secretKeyRef", "name"))
			assert.Equal(t, plan.PostgresSecretPass, digString(password, "valueFrom", "secretKeyRef", "key"))
			assert.Empty(t, s.Leaks(cj.Inputs), "the CronJob holds a generated secret")
			for _, a := range args {
				assert.Empty(t, s.Leaks(a))
			}
			for _, cm := range s.ByType(tConfigMap) {
				assert.Empty(t, s.Leaks(cm.Inputs), "ConfigMap %s", metaName(cm))
			}

			// After main, which migrates the schema.
			main := byMetaName(t, s, tStatefulSet, plan.MainName)
			assert.True(t, s.DependsOnTransitively(cj.URN, main.URN), "the compressor must wait for main")
		})
	}
}
