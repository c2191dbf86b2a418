package components_test

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"synapse/config"
	"synapse/plan"
)

// Postgres gets the tier's resources (memory request = limit) and memory
// settings that fit them; max_connections stays the plan's.
func TestPostgresSized(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		file, tier                  string
		cpuReq, cpuLim, mem, shared string
	}{
		{"Pulumi.dev.yaml", "laptop", "100m", "1", "1Gi", "256MB"},
		{"Pulumi.prod.yaml", "large", "4", "8", "16Gi", "4096MB"},
	} {
		t.Run(tc.tier, func(t *testing.T) {
			t.Parallel()
			s, dp := deploy(t, tc.file, nil)
			spec := s.MustGet(t, tCluster, "postgres-cluster").Inputs["spec"]
			assert.Equal(t, map[string]any{
				"requests": map[string]any{"cpu": tc.cpuReq, "memory": tc.mem},
				"limits":   map[string]any{"cpu": tc.cpuLim, "memory": tc.mem},
			}, path(t, spec, "resources"))
			params := path(t, spec, "postgresql", "parameters")
			assert.Equal(t, tc.shared, str(t, params, "shared_buffers"))
			assert.Equal(t, strconv.Itoa(dp.plan.MaxConnections()), str(t, params, "max_connections"))
			assert.LessOrEqual(t, dp.plan.MaxConnections(), dp.cfg.Postgres.ConnectionLimit())
		})
	}
}

// prod archives WAL and takes scheduled base backups through the Barman
// Cloud plugin, into its own folder of the backup bucket on MinIO, with
// the backup user's keys; dev has none of it.
func TestPostgresBackups(t *testing.T) {
	t.Parallel()
	t.Run("prod on MinIO", func(t *testing.T) {
		t.Parallel()
		s, dp := deploy(t, "Pulumi.prod.yaml", nil)
		require.True(t, dp.cfg.Postgres.Backup.OnMinIO())
		cluster := s.MustGet(t, tCluster, "postgres-cluster")
		store := s.MustGet(t, tObjectStore, "postgres-object-store")
		plugin := s.MustGet(t, tConfigFile, "postgres-barman-cloud-plugin")
		sched := s.MustGet(t, tSchedBackup, "postgres-scheduled-backup")
		operator := s.MustGet(t, tChart, "postgres-cnpg-operator")

		assert.Equal(t, config.DefaultPluginManifest, plugin.Inputs["file"])
		assert.Contains(t, plugin.Dependencies, operator.URN, "the plugin registers with the operator")
		assert.Contains(t, store.Dependencies, plugin.URN, "the ObjectStore CRD comes with the plugin")
		assert.Contains(t, cluster.Dependencies, store.URN)
		assert.Contains(t, cluster.Dependencies, plugin.URN)
		assert.Contains(t, sched.Dependencies, cluster.URN)
		// Postgres waits for MinIO's setup Job: bucket and user exist first.
		job := s.MustGet(t, tJob, "minio-bucket-job")
		assert.True(t, s.DependsOnTransitively(cluster.URN, job.URN))

		assert.Equal(t, plan.PostgresObjectStoreName, str(t, store.Inputs, "metadata", "name"))
		assert.Equal(t, map[string]any{
			"retentionPolicy": "30d",
			"configuration": map[string]any{
				"destinationPath": "s3://synapse-postgres-backups/",
				"endpointURL":     "http://synapse-minio.matrix.svc.cluster.local:9000",
				"s3Credentials": map[string]any{
					"accessKeyId":     map[string]any{"name": plan.PostgresBackupSecretName, "key": plan.S3SecretAccessKeyID},
					"secretAccessKey": map[string]any{"name": plan.PostgresBackupSecretName, "key": plan.S3SecretSecretAccessKey},
				},
				"wal":  map[string]any{"compression": "gzip"},
				"data": map[string]any{"compression": "gzip"},
			},
		}, store.Inputs["spec"])

		assert.Equal(t, []any{map[string]any{
			"name":          plan.BarmanCloudPlugin,
			"isWALArchiver": true,
			"parameters":    map[string]any{"barmanObjectName": plan.PostgresObjectStoreName, "serverName": "synapse-postgres"},
		}}, path(t, cluster.Inputs, "spec", "plugins"))
		assert.Nil(t, path(t, cluster.Inputs, "spec", "externalClusters"))
		assert.NotNil(t, path(t, cluster.Inputs, "spec", "bootstrap", "initdb"), "no restore: a new database")

		assert.Equal(t, map[string]any{
			"schedule": "0 0 3 * * *", "immediate": true, "backupOwnerReference": "self",
			"cluster": map[string]any{"name": plan.PostgresClusterName},
			"method":  "plugin", "pluginConfiguration": map[string]any{"name": plan.BarmanCloudPlugin},
		}, sched.Inputs["spec"])
	})
	t.Run("dev has none", func(t *testing.T) {
		t.Parallel()
		s, _ := deploy(t, "Pulumi.dev.yaml", nil)
		assert.Empty(t, s.ByType(tObjectStore))
		assert.Empty(t, s.ByType(tSchedBackup))
		assert.Empty(t, s.ByType(tConfigFile))
		assert.Nil(t, path(t, s.MustGet(t, tCluster, "postgres-cluster").Inputs, "spec", "plugins"))
	})
	t.Run("external endpoint", func(t *testing.T) {
		t.Parallel()
		s, dp := deploy(t, "Pulumi.prod.yaml", func(raw map[string]string) {
			raw["postgres"] = `{"instances":3,"backup":{"enabled":true,"endpoint":"https://s3.eu-west-1.amazonaws.com",` +
				`"bucket":"example-org-backups","path":"matrix/prod","region":"eu-west-1","installPlugin":false}}`
		})
		require.False(t, dp.cfg.Postgres.Backup.OnMinIO())
		assert.Empty(t, s.ByType(tConfigFile), "installPlugin=false: the plugin is the cluster administrator's")
		store := s.MustGet(t, tObjectStore, "postgres-object-store")
		conf := path(t, store.Inputs, "spec", "configuration")
		assert.Equal(t, "s3://example-org-backups/matrix/prod/", str(t, conf, "destinationPath"))
		assert.Equal(t, "https://s3.eu-west-1.amazonaws.com", str(t, conf, "endpointURL"))
		assert.Equal(t, map[string]any{"name": plan.PostgresBackupSecretName, "key": plan.S3SecretRegion},
			path(t, conf, "s3Credentials", "region"))
		// The keys come from the stack secrets, into a Secret of their own
		// (a secret output), and MinIO gets no backup user.
		sec := s.MustGet(t, tSecret, "postgres-backup-secret")
		assert.Equal(t, plan.PostgresBackupSecretName, str(t, sec.Inputs, "metadata", "name"))
		assert.Equal(t, "EXTERNALKEYID", str(t, sec.Inputs, "stringData", plan.S3SecretAccessKeyID))
		assert.Equal(t, "eu-west-1", str(t, sec.Inputs, "stringData", plan.S3SecretRegion))
		assert.Contains(t, sec.SecretPaths, "stringData")
		assert.Contains(t, store.Dependencies, sec.URN)
		for _, r := range s.ByType(tSecret) {
			assert.NotEqual(t, "minio-postgres-backup-secret", r.Name)
		}
	})
	t.Run("restore", func(t *testing.T) {
		t.Parallel()
		s, _ := deploy(t, "Pulumi.prod.yaml", func(raw map[string]string) {
			raw["postgres"] = `{"instances":3,"backup":{"enabled":true,"serverName":"synapse-postgres-2"},` +
				`"restore":{"fromServerName":"synapse-postgres","targetTime":"2026-11-30T08:00:00Z"}}`
		})
		spec := s.MustGet(t, tCluster, "postgres-cluster").Inputs["spec"]
		assert.Nil(t, path(t, spec, "bootstrap", "initdb"), "a restore is not a new database")
		assert.Equal(t, map[string]any{
			"source":         plan.RestoreSourceName,
			"database":       plan.PostgresDatabase,
			"owner":          plan.PostgresOwner,
			"secret":         map[string]any{"name": plan.PostgresSecretName},
			"recoveryTarget": map[string]any{"targetTime": "2026-11-30T08:00:00Z"},
		}, path(t, spec, "bootstrap", "recovery"))
		// It reads the old folder and archives into its new one.
		assert.Equal(t, []any{map[string]any{
			"name": plan.RestoreSourceName,
			"plugin": map[string]any{
				"name":       plan.BarmanCloudPlugin,
				"parameters": map[string]any{"barmanObjectName": plan.PostgresObjectStoreName, "serverName": "synapse-postgres"},
			},
		}}, path(t, spec, "externalClusters"))
		assert.Equal(t, "synapse-postgres-2", str(t, spec, "plugins", 0, "parameters", "serverName"))
	})
}
