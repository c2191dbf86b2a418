// Package stack composes the whole deployment from the validated config and
// the plan, in the start-up order of DESIGN.md: namespace → data plane →
// main → stream writers and event persisters → worker pools → router.
// Every edge is a DependsOn on the concrete resources that mean "ready"
// (never on a component: pulumi/pulumi#7833).
package stack

import (
	"fmt"
	"sort"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"synapse/components"
	"synapse/config"
	"synapse/plan"
)

// Deploy is the Pulumi program.
func Deploy(ctx *pulumi.Context) error {
	// An invalid config registers nothing: a half-applied stack from a typo
	// is worse than an error at preview. Load judges every key, plain and
	// secret, and reports every problem at once.
	loaded, err := config.Load(ctx)
	if err != nil {
		return err
	}
	cfg := loaded.Config
	signingKey, haveKey := loaded.SigningKey, loaded.HaveSigningKey
	backupKeys, upstreamSecrets := loaded.BackupKeys, loaded.UpstreamSecrets
	p := plan.Build(cfg)

	ns, err := components.NewNamespace(ctx, "namespace", &components.NamespaceArgs{
		Name: cfg.Namespace, DataProtection: cfg.DataProtection,
	})
	if err != nil {
		return err
	}
	// Default-deny and the allowed flows exist before any pod does.
	if _, err := components.NewNetworkPolicies(ctx, "network-policies", &components.NetworkPoliciesArgs{
		Namespace: ns.Name, Config: cfg, Plan: p,
	}); err != nil {
		return err
	}

	endpoints := pulumi.StringMap{}
	// Matrix RTC needs nothing of Synapse's: it starts now, and HAProxy
	// (which advertises it in /.well-known/matrix/client) waits for it.
	rtcReady, err := deployRTC(ctx, ns.Name, cfg, p, endpoints)
	if err != nil {
		return err
	}

	// Data plane. MinIO first: with backups on MinIO, Postgres archives
	// WAL into a bucket (and as a user) that MinIO's setup Job creates.
	dp := &components.DataPlaneArgs{Namespace: ns.Name, Config: cfg, Plan: p, BackupKeys: backupKeys}
	var dataReady, pgDeps []pulumi.Resource
	var secretNames []string
	if cfg.MinIO.Enabled {
		minio, err := components.NewMinIO(ctx, "minio", dp)
		if err != nil {
			return err
		}
		dataReady = append(dataReady, minio.Ready...)
		endpoints["minio"] = endpoint(minio.Service)
		secretNames = append(secretNames, minio.SecretName)
		if cfg.Postgres.Backup.OnMinIO() {
			pgDeps = minio.Ready
		}
	}
	pg, err := components.NewPostgres(ctx, "postgres", dp, pulumi.DependsOn(pgDeps))
	if err != nil {
		return err
	}
	redis, err := components.NewRedis(ctx, "redis", dp)
	if err != nil {
		return err
	}
	dataReady = append(append(dataReady, pg.Ready...), redis.Ready...)
	endpoints["postgres"] = endpoint(pg.Service)
	endpoints["redis"] = endpoint(redis.Service)
	secretNames = append(secretNames, pg.SecretName, redis.SecretName)

	// MAS before main: Synapse asks MAS about every access token, and
	// MAS's syn2mas guard must pass before Synapse's config names MAS.
	mainDeps := append([]pulumi.Resource{}, dataReady...)
	var mas *components.MAS
	var masSecret pulumi.StringInput
	if cfg.MAS.Enabled {
		mas, err = components.NewMAS(ctx, plan.MASName, &components.MASArgs{
			Namespace: ns.Name, Config: cfg, Plan: p,
			DatabasePassword: pg.MASPassword, UpstreamSecrets: upstreamSecrets,
		}, pulumi.DependsOn(pg.MASReady))
		if err != nil {
			return err
		}
		mainDeps = append(mainDeps, mas.Ready...)
		masSecret = mas.SynapseSecret
		m, _ := p.MAS()
		endpoints[plan.MASName] = endpoint(plan.Service{Name: m.Name, Namespace: m.Namespace, Port: m.Port(plan.PortNameHTTP)})
	} else if !cfg.MAS.LeaveAcknowledged {
		// Without MAS, main's config no longer names it: the leave guard
		// must pass first (and MAS's objects are deleted only after a
		// successful update).
		guard, err := components.NewMASLeaveGuard(ctx, cfg, p, ns.Name, pulumi.DependsOn(dataReady))
		if err != nil {
			return err
		}
		mainDeps = append(mainDeps, guard)
	}

	// Main migrates the schema: it starts once the data plane is ready,
	// and everything else starts once it is.
	main, err := components.NewSynapseMain(ctx, plan.MainName, &components.SynapseMainArgs{
		Namespace: ns.Name, Config: cfg, Plan: p, RedisPassword: redis.Password,
		SigningKey: optionalSecret(signingKey, haveKey), MASSecret: masSecret,
	}, pulumi.DependsOn(mainDeps))
	if err != nil {
		return err
	}
	endpoints["synapse-main"] = endpoint(main.Service)

	// Scheduled maintenance works on the schema main has migrated.
	if cfg.Maintenance.StateCompression.Enabled {
		if _, err := components.NewMaintenance(ctx, "maintenance", &components.MaintenanceArgs{
			Namespace: ns.Name, Config: cfg, Plan: p,
		}, pulumi.DependsOn(main.Ready)); err != nil {
			return err
		}
	}

	workerArgs := func(proc plan.Process) *components.WorkerPoolArgs {
		return &components.WorkerPoolArgs{
			Namespace: ns.Name, Config: cfg, Plan: p, Process: proc,
			Files: main.Files, SecretChecksum: main.SecretChecksum,
		}
	}
	// Writers and event persisters next: the other pools send them work
	// (events to persist, typing, receipts…) as soon as they start.
	writersReady := append([]pulumi.Resource{}, main.Ready...)
	for _, proc := range p.Processes {
		if proc.Role == plan.RoleMain || !components.IsStreamWriter(proc) {
			continue
		}
		w, err := components.NewStreamWriter(ctx, proc.Name, workerArgs(proc), pulumi.DependsOn(main.Ready))
		if err != nil {
			return err
		}
		writersReady = append(writersReady, w.Ready...)
	}
	poolsReady := append([]pulumi.Resource{}, writersReady...)
	for _, proc := range p.Processes {
		if proc.Role == plan.RoleMain || components.IsStreamWriter(proc) {
			continue
		}
		pool, err := components.NewWorkerPool(ctx, proc.Name, workerArgs(proc), pulumi.DependsOn(writersReady))
		if err != nil {
			return err
		}
		poolsReady = append(poolsReady, pool.Ready...)
		if proc.ServesHTTP {
			endpoints[proc.Name] = endpoint(pool.Service)
		}
	}

	if err := deployRouter(ctx, ns.Name, cfg, p, append(poolsReady, rtcReady...), endpoints); err != nil {
		return err
	}

	// The first admin, once main (and MAS) run: MAS asks Synapse whether
	// the name is free and provisions the account there.
	if cfg.Admin.Username != "" {
		if _, err := components.NewFirstAdmin(ctx, components.FirstAdminName, &components.FirstAdminArgs{
			Namespace: ns.Name, Config: cfg, Plan: p, MAS: mas, SynapseSecretName: main.SecretName,
		}, pulumi.DependsOn(main.Ready)); err != nil {
			return err
		}
		ctx.Export("firstAdmin", signInOutput(cfg))
	}

	// Element Web is static files and a config.json: it needs nothing
	// running (the browser reaches the homeserver through the Ingress), so
	// it waits for nothing.
	if cfg.ElementWeb.Enabled {
		if _, err := components.NewElementWeb(ctx, components.ElementWebName, &components.ElementWebArgs{
			Namespace: ns.Name, Config: cfg,
		}); err != nil {
			return err
		}
		endpoints[components.ElementWebName] = endpoint(plan.Service{
			Name: components.ElementWebName, Namespace: cfg.Namespace, Port: components.ElementWebServicePort,
		})
	}

	// Element Admin is a single-page app: the browser signs the admin in
	// through MAS and calls MAS and Synapse itself, so it waits for nothing.
	// Validation allows admin.enabled only with mas.enabled.
	if cfg.Admin.Console {
		if _, err := components.NewElementAdmin(ctx, components.ElementAdminName, &components.ElementAdminArgs{
			Namespace: ns.Name, Config: cfg,
		}); err != nil {
			return err
		}
		endpoints[components.ElementAdminName] = endpoint(plan.Service{
			Name: components.ElementAdminName, Namespace: cfg.Namespace, Port: components.ElementAdminServicePort,
		})
	}

	if cfg.Monitoring.Enabled {
		// Alerts and the Grafana dashboard, on the metrics the
		// ServiceMonitors and the CNPG PodMonitor collect; the backup
		// alerts follow postgres.backup.enabled.
		if _, err := components.NewMonitoringRules(ctx, "monitoring", &components.MonitoringRulesArgs{
			Namespace: ns.Name, Config: cfg, Plan: p, Backups: cfg.Postgres.Backup.Enabled,
		}); err != nil {
			return err
		}
	}

	sort.Strings(secretNames)
	// The Synapse Secret's name carries a hash of its data: it goes last.
	exportedSecrets := append(pulumi.ToStringArray(secretNames), main.SecretName)
	ctx.Export("namespace", ns.Name)
	ctx.Export("publicUrl", pulumi.String(cfg.PublicBaseURL))
	ctx.Export("serverName", pulumi.String(cfg.ServerName))
	ctx.Export("endpoints", endpoints)
	// Names only: read values with kubectl, never from stack outputs.
	ctx.Export("secretNames", exportedSecrets)
	if cfg.MAS.Enabled && len(cfg.MAS.Upstream) > 0 {
		// MAS keys each provider, and its users' links, by this ID: write
		// it as id before renaming a provider whose ID is derived.
		ids := pulumi.StringMap{}
		for _, u := range cfg.MAS.Upstream {
			ids[u.Name] = pulumi.String(u.ID)
		}
		ctx.Export("masUpstreamProviderIds", ids)
	}
	return nil
}

// signInOutput says who the first admin is, how to read their password
// (never the password itself) and where to sign in.
func signInOutput(cfg *config.Config) pulumi.StringMap {
	where := cfg.PublicBaseURL
	if cfg.ElementWeb.Enabled {
		where = siblingURL(cfg, cfg.ElementWeb.Host)
	} else if cfg.MAS.Enabled {
		where = cfg.MAS.AccountURL()
	}
	out := pulumi.StringMap{
		"username": pulumi.String(fmt.Sprintf("@%s:%s", cfg.Admin.Username, cfg.ServerName)),
		"password": pulumi.String(fmt.Sprintf("kubectl -n %s get secret %s -o jsonpath='{.data.password}' | base64 -d",
			cfg.Namespace, components.FirstAdminSecretName)),
		"signInAt": pulumi.String(where),
	}
	if cfg.Admin.Console {
		out["adminConsole"] = pulumi.String(siblingURL(cfg, cfg.Admin.Host))
	}
	return out
}

// siblingURL is a host of its own, with publicBaseUrl's scheme and port.
func siblingURL(cfg *config.Config, host string) string {
	return config.SiblingURL(cfg.PublicBaseURL, host)
}

// endpoint is a Service's in-cluster "host:port".
func endpoint(s plan.Service) pulumi.StringInput {
	return pulumi.String(fmt.Sprintf("%s:%d", s.Host(), s.Port))
}

// deployRouter runs HAProxy once every pool is ready (it resolves their
// pods at start-up), then the Ingress in front of it.
func deployRouter(ctx *pulumi.Context, ns pulumi.StringInput, cfg *config.Config, p *plan.Plan,
	poolsReady []pulumi.Resource, endpoints pulumi.StringMap) error {
	r, err := components.NewHAProxyRouter(ctx, plan.HAProxyName, &components.HAProxyRouterArgs{
		Namespace: ns, Config: cfg, Plan: p,
	}, pulumi.DependsOn(poolsReady))
	if err != nil {
		return err
	}
	endpoints["haproxy"] = endpoint(r.Service)
	if !cfg.Ingress.Enabled {
		return nil
	}
	_, err = components.NewIngress(ctx, "ingress", &components.IngressArgs{
		Namespace: ns, Config: cfg, Plan: p,
	}, pulumi.DependsOn(r.Ready))
	return err
}

// optionalSecret is v as an input when set, nil otherwise (a zero
// StringOutput is not a usable input).
func optionalSecret(v pulumi.StringOutput, set bool) pulumi.StringInput {
	if !set {
		return nil
	}
	return v
}
