package tests

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"synapse/components"
	"synapse/config"
	"synapse/internal/mockstack"
	"synapse/plan"
	"synapse/stack"
)

const tDatabase = "kubernetes:postgresql.cnpg.io/v1:Database"

// TestMASStartupOrder: Postgres (the Cluster and MAS's Database) → the
// syn2mas guard → MAS's config check → MAS → Synapse main → the first
// admin; nothing of MAS without mas.enabled.
func TestMASStartupOrder(t *testing.T) {
	t.Parallel()
	for _, tc := range []stackCase{
		{name: "prod", file: "prod"},
		{name: "dev-mas", file: "dev", overrides: map[string]string{"mas": `{"enabled":true}`}},
		{name: "prod-migrated", file: "prod", overrides: map[string]string{"mas": `{"existingUsersMigrated":true,"tlsSecretName":"auth-example-org-tls"}`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, p, cfg := deployConfig(t, tc)
			cluster := byMetaName(t, s, tCluster, plan.PostgresClusterName)
			db := s.MustGet(t, tDatabase, "postgres-mas-database")
			check := s.MustGet(t, tJob, "mas-config-check")
			mas := byMetaName(t, s, tDeployment, plan.MASName)
			main := byMetaName(t, s, tStatefulSet, plan.MainName)
			admin := s.MustGet(t, tJob, "matrix-first-admin-job")
			edges := [][2]string{
				{db.URN, cluster.URN}, {check.URN, db.URN}, {mas.URN, check.URN},
				{main.URN, mas.URN}, {admin.URN, main.URN}, {admin.URN, mas.URN},
			}
			guard, hasGuard := s.Get(tJob, "mas-syn2mas-guard")
			assert.Equal(t, !cfg.MAS.ExistingUsersMigrated, hasGuard, "the guard runs unless existing users were migrated")
			if hasGuard {
				edges = append(edges, [2]string{guard.URN, cluster.URN}, [2]string{check.URN, guard.URN})
			}
			for _, e := range edges {
				a, _ := s.ByURN(e[0])
				b, _ := s.ByURN(e[1])
				assert.True(t, s.DependsOnTransitively(e[0], e[1]), "%s must wait for %s", a.Name, b.Name)
			}
			// MAS's pods: migrate first, then the server that refuses an
			// unmigrated schema, on the plan's ports, config and Secret
			// mounted read-only.
			spec := dig(mas.Inputs, "spec", "template", "spec")
			inits := digList(spec, "initContainers")
			require.Len(t, inits, 1)
			assert.Equal(t, []any{"database", "migrate", "--config", "/config/config.yaml"}, dig(inits[0], "args"))
			server := digList(spec, "containers")[0]
			assert.Equal(t, []any{"server", "--no-migrate", "--config", "/config/config.yaml"}, dig(server, "args"))
			proc, _ := p.MAS()
			for _, port := range digList(server, "ports") {
				assert.Equal(t, float64(proc.Port(digString(port, "name"))), dig(port, "containerPort"))
			}
			assert.Equal(t, float64(cfg.MAS.Replicas), dig(mas.Inputs, "spec", "replicas"))
		})
	}
}

// TestMASLeaveGuard: with MAS off, main waits for the leave guard (which
// reads Synapse's database as its owner), unless leaving is acknowledged.
func TestMASLeaveGuard(t *testing.T) {
	t.Parallel()
	s, _ := deploy(t, stackCase{name: "prod-nomas", file: "prod", overrides: map[string]string{"mas": `{"enabled":false}`}})
	guard := s.MustGet(t, tJob, components.MASLeaveGuardName)
	c := digList(guard.Inputs, "spec", "template", "spec", "containers")[0]
	assert.Contains(t, strings.Join(toStrings(digList(c, "command")), " "), "MAS leave guard")
	main := byMetaName(t, s, tStatefulSet, plan.MainName)
	assert.True(t, s.DependsOnTransitively(main.URN, guard.URN), "main waits for the leave guard")
	assert.True(t, s.DependsOnTransitively(guard.URN, byMetaName(t, s, tCluster, plan.PostgresClusterName).URN), "the guard waits for Postgres")

	s, _ = deploy(t, stackCase{name: "prod-nomas-ack", file: "prod", overrides: map[string]string{"mas": `{"enabled":false,"leaveAcknowledged":true}`}})
	_, ok := s.Get(tJob, components.MASLeaveGuardName)
	assert.False(t, ok, "mas.leaveAcknowledged: no leave guard")
	// With MAS on there is none either (the syn2mas guard is MAS's).
	s, _ = deploy(t, stackCase{name: "prod", file: "prod"})
	_, ok = s.Get(tJob, components.MASLeaveGuardName)
	assert.False(t, ok, "MAS on: no leave guard")
}

func TestNoMASWithoutMAS(t *testing.T) {
	t.Parallel()
	s, _ := deploy(t, stackCase{name: "prod-nomas", file: "prod", overrides: map[string]string{"mas": `{"enabled":false}`}})
	for _, r := range s.Resources {
		if r.Name == components.MASLeaveGuardName {
			continue // Synapse's, not MAS's (TestMASLeaveGuard)
		}
		assert.False(t, strings.HasPrefix(r.Name, "mas-") || r.Name == "mas" || r.Type == tDatabase, "%s %s exists with mas.enabled=false", r.Type, r.Name)
	}
	// The first admin is then Synapse's, by shared-secret registration.
	job := s.MustGet(t, tJob, "matrix-first-admin-job")
	c := digList(job.Inputs, "spec", "template", "spec", "containers")[0]
	assert.Contains(t, strings.Join(toStrings(digList(c, "command")), " "), "register_new_matrix_user --exists-ok --admin")
}

// TestFirstAdminSecret: the password is generated into its own Secret,
// reaches the Job only by reference, and the stack output says how to read
// it without holding it.
func TestFirstAdminSecret(t *testing.T) {
	t.Parallel()
	s, _ := deploy(t, stackCase{name: "prod", file: "prod"})
	sec := byMetaName(t, s, tSecret, components.FirstAdminSecretName)
	assert.Contains(t, sec.SecretPaths, "stringData")
	assert.Equal(t, "admin", digString(sec.Inputs, "stringData", "username"))
	job := s.MustGet(t, tJob, "matrix-first-admin-job")
	c := digList(job.Inputs, "spec", "template", "spec", "containers")[0]
	assert.Equal(t, "ghcr.io/element-hq/matrix-authentication-service:1.24.0-debug", digString(c, "image"))
	for _, e := range digList(c, "env") {
		if digString(e, "name") == "ADMIN_PASSWORD" {
			assert.Empty(t, digString(e, "value"))
			assert.Equal(t, components.FirstAdminSecretName, digString(e, "valueFrom", "secretKeyRef", "name"))
		}
	}
}

// TestFirstAdminImageAndAbsence: a digest-pinned MAS runs the first-admin
// Job on the debug image given with it; with password sign-in off there
// is no first admin (no Job, no Secret, no output), as nobody could sign
// in with its password.
func TestFirstAdminImageAndAbsence(t *testing.T) {
	t.Parallel()
	digest := func(c string) string { return "@sha256:" + strings.Repeat(c, 64) }
	s, _ := deploy(t, stackCase{name: "prod-mas-digest", file: "prod", overrides: map[string]string{
		"mas": `{"tlsSecretName":"auth-example-org-tls","image":"registry.example.org/mas` + digest("a") + `","debugImage":"registry.example.org/mas` + digest("b") + `"}`}})
	job := s.MustGet(t, tJob, "matrix-first-admin-job")
	c := digList(job.Inputs, "spec", "template", "spec", "containers")[0]
	assert.Equal(t, "registry.example.org/mas"+digest("b"), digString(c, "image"))

	raw := rawConfig(t, stackCase{file: "prod", overrides: map[string]string{
		"mas":                        `{"tlsSecretName":"auth-example-org-tls","upstreamProviders":[{"name":"keycloak","issuer":"https://kc.example.org/realms/matrix","clientId":"mas"}]}`,
		config.MASUpstreamSecretsKey: `{"keycloak":"client-secret"}`,
	}})
	s, err := mockstack.Run(stack.Deploy, mockstack.Options{Project: config.Namespace, Stack: "prod", Config: mockConfig(raw),
		SecretConfigKeys: []string{config.Namespace + ":" + config.MASUpstreamSecretsKey}})
	require.NoError(t, err)
	byMetaName(t, s, tDeployment, "mas") // MAS runs: it provisions upstream accounts
	for _, r := range s.Resources {
		assert.NotContains(t, metaName(r), "first-admin", "%s %s with password sign-in off", r.Type, r.Name)
		assert.NotEqual(t, components.FirstAdminSecretName, metaName(r), "%s %s with password sign-in off", r.Type, r.Name)
	}
	assert.NotContains(t, s.Outputs, "firstAdmin")
	// The provider's ID, which a rename of a derived one would change.
	assert.Equal(t, map[string]any{"keycloak": config.ProviderULID("keycloak")}, s.Outputs["masUpstreamProviderIds"])
}
