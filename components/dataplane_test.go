package components_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"synapse/components"
	"synapse/config"
	"synapse/internal/mockstack"
	"synapse/plan"
)

const (
	tNamespace   = "kubernetes:core/v1:Namespace"
	tSecret      = "kubernetes:core/v1:Secret"
	tService     = "kubernetes:core/v1:Service"
	tConfigMap   = "kubernetes:core/v1:ConfigMap"
	tStatefulSet = "kubernetes:apps/v1:StatefulSet"
	tDeployment  = "kubernetes:apps/v1:Deployment"
	tJob         = "kubernetes:batch/v1:Job"
	tCluster     = "kubernetes:postgresql.cnpg.io/v1:Cluster"
	tChart       = "kubernetes:helm.sh/v4:Chart"
	tConfigFile  = "kubernetes:yaml/v2:ConfigFile"
	tObjectStore = "kubernetes:barmancloud.cnpg.io/v1:ObjectStore"
	tSchedBackup = "kubernetes:postgresql.cnpg.io/v1:ScheduledBackup"
	tPassword    = mockstack.TypeRandomPassword

	tNamespaceC = "synapse:index:Namespace"
	tPostgresC  = "synapse:index:Postgres"
	tRedisC     = "synapse:index:Redis"
	tMinIOC     = "synapse:index:MinIO"
)

// dataPlane is what the test program built, for assertions on the
// components' Go-side outputs.
type dataPlane struct {
	cfg      *config.Config
	plan     *plan.Plan
	ns       *components.Namespace
	postgres *components.Postgres
	redis    *components.Redis
	minio    *components.MinIO // nil when minio.enabled is false
}

// deploy runs the data plane of a stack file under mocks. mutate, if set,
// edits the raw stack config before it is parsed.
func deploy(t *testing.T, stackFile string, mutate func(raw map[string]string)) (*mockstack.Stack, *dataPlane) {
	t.Helper()
	raw, err := config.ReadStackFile("../" + stackFile)
	require.NoError(t, err)
	if mutate != nil {
		mutate(raw)
	}
	cfg, err := config.Parse(raw)
	require.NoError(t, err)
	dp := &dataPlane{cfg: cfg, plan: plan.Build(cfg)}

	s, err := mockstack.Run(func(ctx *pulumi.Context) error {
		var err error
		var backupKeys *config.BackupKeys
		if cfg.Postgres.Backup.Endpoint != "" {
			backupKeys = &config.BackupKeys{
				AccessKeyID:     pulumi.ToSecret(pulumi.String("EXTERNALKEYID")).(pulumi.StringOutput),
				SecretAccessKey: pulumi.ToSecret(pulumi.String("external-secret-access-key")).(pulumi.StringOutput),
			}
		}
		dp.ns, err = components.NewNamespace(ctx, "namespace", &components.NamespaceArgs{
			Name: cfg.Namespace, DataProtection: cfg.DataProtection,
		})
		if err != nil {
			return err
		}
		args := &components.DataPlaneArgs{Namespace: dp.ns.Name, Config: cfg, Plan: dp.plan, BackupKeys: backupKeys}
		// As the stack does: MinIO first, Postgres after it when it
		// archives there.
		var ready, pgDeps []pulumi.Resource
		if cfg.MinIO.Enabled {
			if dp.minio, err = components.NewMinIO(ctx, "minio", args); err != nil {
				return err
			}
			ready = append(ready, dp.minio.Ready...)
			if cfg.Postgres.Backup.OnMinIO() {
				pgDeps = dp.minio.Ready
			}
			ctx.Export("minioRootPassword", dp.minio.RootPassword)
			ctx.Export("minioRootUser", dp.minio.RootUser)
		}
		if dp.postgres, err = components.NewPostgres(ctx, "postgres", args, pulumi.DependsOn(pgDeps)); err != nil {
			return err
		}
		if dp.redis, err = components.NewRedis(ctx, "redis", args); err != nil {
			return err
		}
		ready = append(append(ready, dp.postgres.Ready...), dp.redis.Ready...)
		// A dependent as SynapseMain will be: it waits for the concrete
		// Ready resources, never for a component.
		if _, err := corev1.NewConfigMap(ctx, "consumer", &corev1.ConfigMapArgs{
			Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String("consumer"), Namespace: dp.ns.Name},
		}, pulumi.DependsOn(ready)); err != nil {
			return err
		}
		ctx.Export("postgresPassword", dp.postgres.Password)
		ctx.Export("redisPassword", dp.redis.Password)
		return nil
	}, mockstack.Options{Project: "synapse", Stack: strings.TrimSuffix(strings.TrimPrefix(stackFile, "Pulumi."), ".yaml")})
	require.NoError(t, err)
	return s, dp
}

// path walks nested maps and slices: keys are map keys, ints are indexes.
func path(t *testing.T, v any, keys ...any) any {
	t.Helper()
	for _, k := range keys {
		switch k := k.(type) {
		case string:
			m, ok := v.(map[string]any)
			require.Truef(t, ok, "at %q: not an object: %#v", k, v)
			v = m[k]
		case int:
			a, ok := v.([]any)
			require.Truef(t, ok && k < len(a), "at [%d]: not an array that long: %#v", k, v)
			v = a[k]
		}
	}
	return v
}

func str(t *testing.T, v any, keys ...any) string {
	t.Helper()
	s, _ := path(t, v, keys...).(string)
	return s
}

// podSpecs returns every pod template in the stack, by resource name.
func podSpecs(t *testing.T, s *mockstack.Stack) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, typ := range []string{tStatefulSet, tDeployment, tJob} {
		for _, r := range s.ByType(typ) {
			spec, ok := path(t, r.Inputs, "spec", "template", "spec").(map[string]any)
			require.True(t, ok, r.Name)
			out[r.Name] = spec
		}
	}
	return out
}

func stacks() []string { return []string{"Pulumi.dev.yaml", "Pulumi.prod.yaml"} }

func TestPostgresCluster(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		file      string
		instances int
		class     string
		podMon    bool
	}{
		{"Pulumi.dev.yaml", 1, "", false},
		{"Pulumi.prod.yaml", 3, "fast-ssd", true},
	} {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			s, dp := deploy(t, tc.file, nil)
			c := s.MustGet(t, tCluster, "postgres-cluster")
			assert.Equal(t, "postgresql.cnpg.io/v1", c.Inputs["apiVersion"])
			assert.Equal(t, "Cluster", c.Inputs["kind"])
			assert.Equal(t, plan.PostgresClusterName, str(t, c.Inputs, "metadata", "name"))
			assert.Equal(t, dp.cfg.Namespace, str(t, c.Inputs, "metadata", "namespace"))
			assert.Equal(t, "condition=Ready", str(t, c.Inputs, "metadata", "annotations", "pulumi.com/waitFor"))

			spec := c.Inputs["spec"]
			assert.Equal(t, float64(tc.instances), path(t, spec, "instances"))
			assert.Equal(t, dp.cfg.Postgres.Image, str(t, spec, "imageName"))
			assert.Equal(t, dp.cfg.Postgres.Storage.Size, str(t, spec, "storage", "size"))
			assert.Equal(t, tc.class, str(t, spec, "storage", "storageClass"))
			initdb := path(t, spec, "bootstrap", "initdb")
			assert.Equal(t, map[string]any{
				"database": plan.PostgresDatabase, "owner": plan.PostgresOwner,
				"secret":   map[string]any{"name": plan.PostgresSecretName},
				"encoding": "UTF8", "localeCollate": "C", "localeCType": "C",
			}, initdb)
			maxConn := str(t, spec, "postgresql", "parameters", "max_connections")
			assert.Equal(t, strconv.Itoa(dp.plan.MaxConnections()), maxConn)
			if tc.podMon {
				assert.Equal(t, true, path(t, spec, "monitoring", "enablePodMonitor"))
			} else {
				assert.Nil(t, path(t, spec, "monitoring"))
			}

			// The Secret the Cluster names is ordered before it.
			sec := s.MustGet(t, tSecret, "postgres-secret")
			assert.Contains(t, c.Dependencies, sec.URN)
			assert.Equal(t, dp.plan.Postgres(), dp.postgres.Service)
			assert.Equal(t, plan.PostgresSecretName, dp.postgres.SecretName)
			assert.Equal(t, []pulumi.Resource{dp.postgres.Cluster}, dp.postgres.Ready)
		})
	}
}

func TestOperatorChartBeforeCluster(t *testing.T) {
	t.Parallel()
	s, dp := deploy(t, "Pulumi.dev.yaml", nil)
	require.True(t, dp.cfg.Postgres.InstallOperator)
	chart := s.MustGet(t, tChart, "postgres-cnpg-operator")
	cluster := s.MustGet(t, tCluster, "postgres-cluster")
	assert.True(t, chart.Remote, "the Helm v4 Chart is a provider-side component")
	assert.Contains(t, cluster.Dependencies, chart.URN, "the Cluster waits for the chart itself")
	assert.True(t, s.DependsOnTransitively(cluster.URN, chart.URN))
	assert.False(t, s.DependsOnTransitively(chart.URN, cluster.URN))

	assert.Equal(t, "cloudnative-pg", chart.Inputs["chart"])
	assert.Equal(t, dp.cfg.Postgres.OperatorChartVersion, chart.Inputs["version"])
	assert.Equal(t, "https://cloudnative-pg.github.io/charts", str(t, chart.Inputs, "repositoryOpts", "repo"))
	assert.Equal(t, components.CNPGNamespace, chart.Inputs["namespace"])
	ns := s.MustGet(t, tNamespace, "postgres-cnpg-namespace")
	assert.Contains(t, chart.Dependencies, ns.URN)
	assert.Equal(t, "restricted", str(t, ns.Inputs, "metadata", "labels", "pod-security.kubernetes.io/enforce"))
	csc := path(t, chart.Inputs, "values", "containerSecurityContext")
	assert.Equal(t, false, path(t, csc, "allowPrivilegeEscalation"))
	assert.Equal(t, []any{"ALL"}, path(t, csc, "capabilities", "drop"))
	assert.Equal(t, "RuntimeDefault", str(t, chart.Inputs, "values", "podSecurityContext", "seccompProfile", "type"))
	assert.Equal(t, true, path(t, chart.Inputs, "values", "podSecurityContext", "runAsNonRoot"))

	// Without installOperator: no chart, no operator namespace.
	s, dp = deploy(t, "Pulumi.dev.yaml", func(raw map[string]string) {
		raw["postgres"] = `{"instances":1,"installOperator":false}`
	})
	assert.Empty(t, s.ByType(tChart))
	assert.Len(t, s.ByType(tNamespace), 1)
	assert.Nil(t, dp.postgres.Operator)
}

// postgres.operatorChart: a Helm repository, an OCI reference or a local
// chart (air-gapped clusters) reach the Helm v4 Chart as Helm reads them.
func TestOperatorChartSource(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, source, wantChart, wantRepo string
		wantVersion                       bool
	}{
		{"mirror repository", "https://charts.internal.example/cnpg", "cloudnative-pg", "https://charts.internal.example/cnpg", true},
		{"oci", "oci://registry.internal.example/charts/cloudnative-pg", "oci://registry.internal.example/charts/cloudnative-pg", "", true},
		{"local path", "./vendor/charts/cloudnative-pg-0.26.1.tgz", "./vendor/charts/cloudnative-pg-0.26.1.tgz", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, dp := deploy(t, "Pulumi.dev.yaml", func(raw map[string]string) {
				raw["postgres"] = `{"instances":1,"installOperator":true,"storage":{"size":"2Gi"},"operatorChart":"` + tc.source + `"}`
			})
			chart := s.MustGet(t, tChart, "postgres-cnpg-operator")
			assert.Equal(t, tc.wantChart, chart.Inputs["chart"])
			if tc.wantRepo == "" {
				assert.Nil(t, chart.Inputs["repositoryOpts"], "no repository for an OCI reference or a path")
			} else {
				assert.Equal(t, tc.wantRepo, str(t, chart.Inputs, "repositoryOpts", "repo"))
			}
			if tc.wantVersion {
				assert.Equal(t, dp.cfg.Postgres.OperatorChartVersion, chart.Inputs["version"])
			} else {
				assert.Nil(t, chart.Inputs["version"], "a local chart is its own version")
			}
			assert.Contains(t, s.MustGet(t, tCluster, "postgres-cluster").Dependencies, chart.URN)
		})
	}
}

func TestDataProtection(t *testing.T) {
	t.Parallel()
	for _, file := range stacks() {
		t.Run(file, func(t *testing.T) {
			t.Parallel()
			s, dp := deploy(t, file, nil)
			protected := map[string]bool{"postgres-cluster": true}
			if dp.cfg.MAS.Enabled {
				protected["postgres-mas-database"] = true // MAS's accounts
			}
			if dp.cfg.MinIO.Enabled {
				protected["minio-statefulset"] = true
			}
			on := dp.cfg.DataProtection
			assert.Equal(t, file == "Pulumi.prod.yaml", on)
			for _, r := range s.Resources {
				want := on && protected[r.Name]
				assert.Equalf(t, want, r.Protect, "%s %s: Protect", r.Type, r.Name)
				wantRetain := want || (on && r.Type == tNamespace && r.Name == "namespace-namespace")
				assert.Equalf(t, wantRetain, r.RetainOnDelete, "%s %s: RetainOnDelete", r.Type, r.Name)
			}
			if on {
				sts := s.MustGet(t, tStatefulSet, "minio-statefulset")
				pol := path(t, sts.Inputs, "spec", "persistentVolumeClaimRetentionPolicy")
				assert.Equal(t, map[string]any{"whenDeleted": "Retain", "whenScaled": "Retain"}, pol)
			}
		})
	}
}

func TestSecretsStayInSecrets(t *testing.T) {
	t.Parallel()
	for _, file := range stacks() {
		t.Run(file, func(t *testing.T) {
			t.Parallel()
			s, dp := deploy(t, file, nil)
			secrets := map[string]struct {
				typ  string
				keys []string
			}{
				"postgres-secret": {"kubernetes.io/basic-auth", []string{plan.PostgresSecretUser, plan.PostgresSecretPass}},
				"redis-secret":    {"", []string{plan.RedisSecretPass}},
			}
			type want = struct {
				typ  string
				keys []string
			}
			if dp.cfg.MAS.Enabled {
				// MAS's role, which CNPG's managed roles read.
				secrets["postgres-mas-secret"] = want{"kubernetes.io/basic-auth", []string{plan.PostgresSecretUser, plan.PostgresSecretPass}}
			}
			s3Keys := []string{plan.S3SecretAccessKeyID, plan.S3SecretSecretAccessKey}
			if dp.minio != nil {
				secrets["minio-secret"] = want{"", []string{plan.MinIOSecretUser, plan.MinIOSecretPass}}
				// One key pair per S3 client, each in its own Secret.
				secrets["minio-synapse-media-secret"] = want{"", s3Keys}
				if dp.cfg.Postgres.Backup.OnMinIO() {
					secrets["minio-postgres-backup-secret"] = want{"", s3Keys}
				}
			}
			require.Len(t, s.ByType(tSecret), len(secrets))
			for name, want := range secrets {
				sec := s.MustGet(t, tSecret, name)
				typ, _ := sec.Inputs["type"].(string)
				assert.Equal(t, want.typ, typ, name)
				data, _ := sec.Inputs["stringData"].(map[string]any)
				var keys []string
				for k := range data {
					keys = append(keys, k)
				}
				assert.ElementsMatch(t, want.keys, keys, name)
				assert.Contains(t, sec.SecretPaths, "stringData", name)
				assert.Nil(t, sec.Inputs["data"], name)
			}
			pg := s.MustGet(t, tSecret, "postgres-secret")
			assert.Equal(t, plan.PostgresOwner, str(t, pg.Inputs, "stringData", plan.PostgresSecretUser))
			assert.Equal(t, plan.PostgresSecretName, str(t, pg.Inputs, "metadata", "name"))

			for _, pw := range s.ByType(tPassword) {
				assert.Equal(t, false, pw.Inputs["special"], pw.Name)
				if strings.HasSuffix(pw.Name, "-password") {
					assert.Equal(t, float64(32), pw.Inputs["length"], pw.Name)
				}
			}
			require.NotEmpty(t, s.SecretValues())
			for _, r := range s.Resources {
				if r.Type == tSecret {
					continue
				}
				assert.Emptyf(t, s.Leaks(r.Inputs), "%s %s carries a generated secret", r.Type, r.Name)
			}
			for name, secret := range s.OutputSecrets {
				assert.Truef(t, secret, "output %s must be a secret", name)
			}
			assert.NotEmpty(t, s.Outputs["postgresPassword"])
		})
	}
}

// Every pod of the data plane passes the `restricted` Pod Security
// Standard and mounts no service account token.
func TestRestrictedPods(t *testing.T) {
	t.Parallel()
	for _, file := range stacks() {
		t.Run(file, func(t *testing.T) {
			t.Parallel()
			s, dp := deploy(t, file, nil)
			pods := podSpecs(t, s)
			want := 1 // Redis
			if dp.minio != nil {
				want += 2 // MinIO and its bucket Job
			}
			require.Len(t, pods, want)
			for name, pod := range pods {
				assert.Equal(t, false, pod["automountServiceAccountToken"], name)
				psc := pod["securityContext"]
				assert.Equal(t, true, path(t, psc, "runAsNonRoot"), name)
				assert.Equal(t, "RuntimeDefault", str(t, psc, "seccompProfile", "type"), name)
				assert.NotZero(t, path(t, psc, "runAsUser"), name)
				var containers []any
				for _, k := range []string{"initContainers", "containers"} {
					if c, ok := pod[k].([]any); ok {
						containers = append(containers, c...)
					}
				}
				require.NotEmpty(t, containers, name)
				for _, c := range containers {
					id := fmt.Sprintf("%s/%s", name, str(t, c, "name"))
					sc := path(t, c, "securityContext")
					assert.Equal(t, false, path(t, sc, "allowPrivilegeEscalation"), id)
					assert.Equal(t, true, path(t, sc, "readOnlyRootFilesystem"), id)
					assert.Equal(t, true, path(t, sc, "runAsNonRoot"), id)
					assert.Equal(t, []any{"ALL"}, path(t, sc, "capabilities", "drop"), id)
					assert.Nil(t, path(t, sc, "capabilities", "add"), id)
					assert.Equal(t, "RuntimeDefault", str(t, sc, "seccompProfile", "type"), id)
					assert.NotEmpty(t, path(t, c, "resources", "limits"), id)
				}
			}
			ns := s.MustGet(t, tNamespace, "namespace-namespace")
			labels := path(t, ns.Inputs, "metadata", "labels")
			for _, mode := range []string{"enforce", "audit", "warn"} {
				assert.Equal(t, "restricted", str(t, labels, "pod-security.kubernetes.io/"+mode))
			}
			assert.Equal(t, "latest", str(t, labels, "pod-security.kubernetes.io/enforce-version"))
			assert.Equal(t, dp.cfg.Namespace, str(t, ns.Inputs, "metadata", "name"))
		})
	}
}

func TestRedis(t *testing.T) {
	t.Parallel()
	s, dp := deploy(t, "Pulumi.dev.yaml", nil)
	sts := s.MustGet(t, tStatefulSet, "redis-statefulset")
	assert.Equal(t, plan.RedisName, str(t, sts.Inputs, "metadata", "name"))
	assert.Equal(t, float64(1), path(t, sts.Inputs, "spec", "replicas"), "Synapse takes one Redis endpoint")
	c := path(t, sts.Inputs, "spec", "template", "spec", "containers", 0)
	assert.Equal(t, dp.cfg.Redis.Image, str(t, c, "image"))

	var args []string
	for _, a := range path(t, c, "args").([]any) {
		args = append(args, a.(string))
	}
	joined := strings.Join(args, " ")
	assert.Contains(t, joined, "--requirepass $(REDIS_PASSWORD)", "the kubelet expands the password from env")
	assert.Contains(t, joined, `--save  --appendonly no`, "pub/sub needs no persistence")
	assert.Contains(t, joined, "--port 6379")

	env := map[string]any{}
	for _, e := range path(t, c, "env").([]any) {
		env[str(t, e, "name")] = e
	}
	for _, name := range []string{"REDIS_PASSWORD", "REDISCLI_AUTH"} {
		require.Contains(t, env, name)
		assert.Nil(t, path(t, env[name], "value"), name)
		assert.Equal(t, map[string]any{"name": plan.RedisSecretName, "key": plan.RedisSecretPass},
			path(t, env[name], "valueFrom", "secretKeyRef"), name)
	}
	probe := strings.Join(strings.Fields(fmt.Sprint(path(t, c, "readinessProbe", "exec", "command"))), " ")
	assert.Contains(t, probe, "redis-cli")
	assert.NotContains(t, probe, "-a ", "redis-cli takes the password from REDISCLI_AUTH")
	assert.NotContains(t, probe, "$(", "the kubelet would expand $(...) in probe commands")

	svc := s.MustGet(t, tService, "redis-service")
	assert.Equal(t, plan.RedisName, str(t, svc.Inputs, "metadata", "name"))
	assert.Equal(t, "ClusterIP", str(t, svc.Inputs, "spec", "type"))
	port := path(t, svc.Inputs, "spec", "ports", 0)
	assert.Equal(t, dp.plan.Redis().PortName, str(t, port, "name"))
	assert.Equal(t, float64(dp.plan.Redis().Port), path(t, port, "port"))
	assert.Equal(t, path(t, sts.Inputs, "spec", "selector", "matchLabels"), path(t, svc.Inputs, "spec", "selector"))
	assert.Equal(t, dp.plan.Redis(), dp.redis.Service)
	assert.Equal(t, plan.RedisSecretName, dp.redis.SecretName)
}

func TestMinIO(t *testing.T) {
	t.Parallel()
	t.Run("prod distributed", func(t *testing.T) {
		t.Parallel()
		s, dp := deploy(t, "Pulumi.prod.yaml", nil)
		require.NotNil(t, dp.minio)
		sts := s.MustGet(t, tStatefulSet, "minio-statefulset")
		assert.Equal(t, plan.MinIOName, str(t, sts.Inputs, "metadata", "name"))
		assert.Equal(t, float64(4), path(t, sts.Inputs, "spec", "replicas"))
		assert.Equal(t, "Parallel", str(t, sts.Inputs, "spec", "podManagementPolicy"))
		assert.Equal(t, plan.MinIOName+"-hl", str(t, sts.Inputs, "spec", "serviceName"))
		c := path(t, sts.Inputs, "spec", "template", "spec", "containers", 0)
		args := path(t, c, "args").([]any)
		assert.Equal(t, "server", args[0])
		assert.Equal(t, "http://synapse-minio-{0...3}.synapse-minio-hl.matrix.svc.cluster.local/data", args[len(args)-1])
		assert.Equal(t, "/minio/health/live", str(t, c, "livenessProbe", "httpGet", "path"))
		assert.Equal(t, "/minio/health/ready", str(t, c, "readinessProbe", "httpGet", "path"))
		vct := path(t, sts.Inputs, "spec", "volumeClaimTemplates", 0)
		assert.Equal(t, "500Gi", str(t, vct, "spec", "resources", "requests", "storage"))

		hl := s.MustGet(t, tService, "minio-headless")
		assert.Equal(t, "None", str(t, hl.Inputs, "spec", "clusterIP"))
		assert.Equal(t, true, path(t, hl.Inputs, "spec", "publishNotReadyAddresses"))
		api := s.MustGet(t, tService, "minio-service")
		assert.Equal(t, plan.MinIOName, str(t, api.Inputs, "metadata", "name"))
		assert.Equal(t, "s3", str(t, api.Inputs, "spec", "ports", 0, "name"))
		assert.Equal(t, float64(9000), path(t, api.Inputs, "spec", "ports", 0, "port"))

		job := s.MustGet(t, tJob, "minio-bucket-job")
		assert.Contains(t, job.Dependencies, sts.URN, "the bucket is created once MinIO is ready")
		assert.True(t, s.DependsOnTransitively(job.URN, sts.URN))
		jc := path(t, job.Inputs, "spec", "template", "spec", "containers", 0)
		assert.Equal(t, dp.cfg.MinIO.ClientImage, str(t, jc, "image"))
		assert.Equal(t, []any{"sh", "/setup/setup.sh"}, path(t, jc, "command"))
		env := map[string]any{}
		for _, e := range path(t, jc, "env").([]any) {
			env[str(t, e, "name")] = e
			if v, ok := e.(map[string]any)["value"].(string); ok {
				assert.NotContainsf(t, v, "MOCKSECRET", "%s holds a literal secret", str(t, e, "name"))
			}
		}
		assert.Equal(t, "http://$(MINIO_ROOT_USER):$(MINIO_ROOT_PASSWORD)@synapse-minio.matrix.svc.cluster.local:9000",
			str(t, env["MC_HOST_synapse"], "value"))
		assert.Equal(t, plan.MinIOSecretPass, str(t, env["MINIO_ROOT_PASSWORD"], "valueFrom", "secretKeyRef", "key"))
		// Each scoped user's keys come from its own Secret, by reference.
		for envName, ref := range map[string][2]string{
			"MEDIA_ACCESS_KEY_ID":      {plan.MediaS3SecretName, plan.S3SecretAccessKeyID},
			"MEDIA_SECRET_ACCESS_KEY":  {plan.MediaS3SecretName, plan.S3SecretSecretAccessKey},
			"BACKUP_ACCESS_KEY_ID":     {plan.PostgresBackupSecretName, plan.S3SecretAccessKeyID},
			"BACKUP_SECRET_ACCESS_KEY": {plan.PostgresBackupSecretName, plan.S3SecretSecretAccessKey},
		} {
			assert.Equal(t, ref[0], str(t, env[envName], "valueFrom", "secretKeyRef", "name"), envName)
			assert.Equal(t, ref[1], str(t, env[envName], "valueFrom", "secretKeyRef", "key"), envName)
		}
		// The script and policies, mounted from a ConfigMap named by its
		// content: both buckets, one user each, each policy on its bucket.
		cmName := str(t, job.Inputs, "spec", "template", "spec", "volumes", 1, "configMap", "name")
		var setup *mockstack.Resource
		for _, cm := range s.ByType(tConfigMap) {
			if str(t, cm.Inputs, "metadata", "name") == cmName {
				setup = &cm
			}
		}
		require.NotNil(t, setup, "the setup ConfigMap %s", cmName)
		assert.Contains(t, job.Dependencies, setup.URN)
		assert.Regexp(t, `^synapse-minio-bucket-[0-9a-f]{10,}$`, cmName)
		script := str(t, setup.Inputs, "data", "setup.sh")
		for _, want := range []string{
			"mc mb --ignore-existing 'synapse/synapse-media'",
			"mc mb --ignore-existing 'synapse/synapse-postgres-backups'",
			`mc admin user add 'synapse' "${MEDIA_ACCESS_KEY_ID}" "${MEDIA_SECRET_ACCESS_KEY}"`,
			`mc admin policy attach 'synapse' 'synapse-media' --user "${MEDIA_ACCESS_KEY_ID}"`,
			`mc admin policy attach 'synapse' 'postgres-backup' --user "${BACKUP_ACCESS_KEY_ID}"`,
		} {
			assert.Contains(t, script, want)
		}
		assert.NotContains(t, script, "MOCKSECRET")
		assert.Contains(t, str(t, setup.Inputs, "data", "synapse-media.json"), `"arn:aws:s3:::synapse-media/*"`)
		assert.NotContains(t, str(t, setup.Inputs, "data", "synapse-media.json"), "synapse-postgres-backups")
		assert.Contains(t, str(t, setup.Inputs, "data", "postgres-backup.json"), `"arn:aws:s3:::synapse-postgres-backups/*"`)
		// The Job's pods must not be endpoints of the S3 Service.
		assert.NotEqual(t, str(t, api.Inputs, "spec", "selector", components.LabelName),
			str(t, job.Inputs, "spec", "template", "metadata", "labels", components.LabelName))

		assert.Equal(t, []pulumi.Resource{dp.minio.StatefulSet, dp.minio.BucketJob}, dp.minio.Ready)
		assert.Equal(t, "synapse-media", dp.minio.Bucket)
		assert.Equal(t, dp.plan.MinIO(), dp.minio.Service)
	})
	t.Run("single drive", func(t *testing.T) {
		t.Parallel()
		s, dp := deploy(t, "Pulumi.dev.yaml", func(raw map[string]string) {
			raw["minio"] = `{"enabled":true,"storage":{"size":"5Gi"}}`
			raw["mediaImage"] = "registry.example.org/matrix/synapse-s3:v1.157.0"
		})
		require.NotNil(t, dp.minio)
		sts := s.MustGet(t, tStatefulSet, "minio-statefulset")
		assert.Equal(t, float64(1), path(t, sts.Inputs, "spec", "replicas"))
		args := path(t, sts.Inputs, "spec", "template", "spec", "containers", 0, "args").([]any)
		assert.Equal(t, "/data", args[len(args)-1])
		vct := path(t, sts.Inputs, "spec", "volumeClaimTemplates", 0)
		assert.Equal(t, "5Gi", str(t, vct, "spec", "resources", "requests", "storage"))
		assert.Nil(t, path(t, vct, "spec", "storageClassName"))
		assert.False(t, sts.Protect, "dev has no data protection")
	})
	t.Run("disabled", func(t *testing.T) {
		t.Parallel()
		s, _ := deploy(t, "Pulumi.dev.yaml", nil)
		assert.Empty(t, s.ByType(tMinIOC))
		_, err := mockstack.Run(func(ctx *pulumi.Context) error {
			cfg, err := config.Parse(map[string]string{"serverName": "example.org"})
			if err != nil {
				return err
			}
			_, err = components.NewMinIO(ctx, "minio", &components.MinIOArgs{
				Namespace: pulumi.String("matrix"), Config: cfg, Plan: plan.Build(cfg),
			})
			return err
		}, mockstack.Options{Project: "synapse", Stack: "dev"})
		assert.ErrorContains(t, err, "minio.enabled is false")
	})
}

// Dependents wait for the concrete Ready resources (the Cluster, Redis's
// StatefulSet and Service, MinIO's StatefulSet and bucket Job), which the
// SDK records as the dependent's own dependencies: never a component,
// whose children may not all be known yet (pulumi/pulumi#7833).
func TestReadyResourcesAreConcrete(t *testing.T) {
	t.Parallel()
	s, _ := deploy(t, "Pulumi.prod.yaml", nil)
	consumer := s.MustGet(t, tConfigMap, "consumer")
	for _, want := range [][2]string{
		{tCluster, "postgres-cluster"},
		{tStatefulSet, "redis-statefulset"},
		{tService, "redis-service"},
		{tStatefulSet, "minio-statefulset"},
		{tJob, "minio-bucket-job"},
	} {
		r := s.MustGet(t, want[0], want[1])
		assert.Contains(t, consumer.Dependencies, r.URN, want[1])
	}
	for _, urn := range consumer.Dependencies {
		r, ok := s.ByURN(urn)
		if assert.True(t, ok, urn) {
			assert.True(t, r.Custom || r.Remote, "dependency on a local component: %s", urn)
		}
	}
}

// Components are parented, their children are named after them and set
// explicit names in the stack's namespace.
func TestComponentStructure(t *testing.T) {
	t.Parallel()
	s, dp := deploy(t, "Pulumi.prod.yaml", nil)
	for _, c := range []struct{ typ, name string }{
		{tNamespaceC, "namespace"}, {tPostgresC, "postgres"}, {tRedisC, "redis"}, {tMinIOC, "minio"},
	} {
		comp := s.MustGet(t, c.typ, c.name)
		children := s.Children(comp.URN)
		require.NotEmpty(t, children, c.name)
		for _, ch := range children {
			assert.Truef(t, strings.HasPrefix(ch.Name, c.name+"-"), "%s: child %s is not prefixed", c.name, ch.Name)
			if !strings.HasPrefix(ch.Type, "kubernetes:") || ch.Type == tChart || ch.Type == tConfigFile {
				continue
			}
			if ch.Type == "kubernetes:batch/v1:Job" {
				// Auto-named on purpose: a replaced Job is created before
				// the old one is deleted.
				assert.Emptyf(t, str(t, ch.Inputs, "metadata", "name"), "%s: a Job is auto-named", ch.Name)
			} else {
				assert.NotEmptyf(t, str(t, ch.Inputs, "metadata", "name"), "%s: explicit metadata.name", ch.Name)
			}
			if ch.Type != tNamespace {
				assert.Equalf(t, dp.cfg.Namespace, str(t, ch.Inputs, "metadata", "namespace"), "%s", ch.Name)
				ns := s.MustGet(t, tNamespace, "namespace-namespace")
				assert.Containsf(t, ch.Dependencies, ns.URN, "%s waits for the namespace", ch.Name)
			}
		}
	}
}
