package components

import (
	"errors"
	"fmt"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apiextensions"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	helmv4 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v4"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	yamlv2 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/yaml/v2"
	"github.com/pulumi/pulumi-random/sdk/v4/go/random"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"synapse/config"
	"synapse/plan"
)

// CNPG operator installation. The operator is cluster-wide (CRDs, webhooks,
// a ClusterRole): install it from one stack per cluster only.
const (
	CNPGNamespace = config.CNPGOperatorNamespace
	cnpgRelease   = "cnpg"

	// AnnotationWaitFor makes pulumi-kubernetes await a custom resource
	// (custom resources are not awaited by default), so that dependents of
	// the Cluster start only once Postgres accepts connections.
	AnnotationWaitFor = "pulumi.com/waitFor"
)

// DataPlaneArgs are the inputs of every data-plane component.
type DataPlaneArgs struct {
	// Namespace is the namespace name as an output (Namespace.Name), so
	// that every object waits for the namespace.
	Namespace pulumi.StringInput
	Config    *config.Config
	Plan      *plan.Plan
	// BackupKeys are the keys of an external backup target
	// (postgres.backup.endpoint), from stack secrets; nil otherwise (on
	// the stack's MinIO, the MinIO component generates them). Postgres
	// only.
	BackupKeys *config.BackupKeys
}

func (a *DataPlaneArgs) check(component string) error {
	if a == nil || a.Namespace == nil || a.Config == nil || a.Plan == nil {
		return errors.New(component + ": Namespace, Config and Plan are required")
	}
	return nil
}

// PostgresArgs configure NewPostgres.
type PostgresArgs = DataPlaneArgs

// Postgres is the CloudNativePG cluster Synapse stores everything in.
type Postgres struct {
	pulumi.ResourceState

	// Service is the read-write Service the CNPG operator creates.
	Service plan.Service
	// SecretName is the owner's kubernetes.io/basic-auth Secret.
	SecretName string
	// Password is the owner's password (a secret output) for Synapse's
	// own Secret.
	Password pulumi.StringOutput
	Cluster  *apiextensions.CustomResource
	// Operator is the CNPG Helm chart, nil unless postgres.installOperator.
	Operator *helmv4.Chart
	// With postgres.backup: the Barman Cloud plugin (nil unless
	// postgres.backup.installPlugin), the ObjectStore and the
	// ScheduledBackup.
	BackupPlugin    *yamlv2.ConfigFile
	ObjectStore     *apiextensions.CustomResource
	ScheduledBackup *apiextensions.CustomResource
	// With mas.enabled: MAS's role's password (a secret output) and its
	// Database (awaited until CNPG has applied it).
	MASPassword pulumi.StringOutput
	MASDatabase *apiextensions.CustomResource
	// MASReady: MAS's database exists and its role may log in.
	MASReady []pulumi.Resource
	// Ready are the resources that mean "Postgres accepts connections":
	// DependsOn these, never on the component (pulumi/pulumi#7833).
	Ready []pulumi.Resource
}

// NewPostgres creates the owner's credentials, optionally the CNPG
// operator, and the CNPG Cluster.
func NewPostgres(ctx *pulumi.Context, name string, args *PostgresArgs, opts ...pulumi.ResourceOption) (*Postgres, error) {
	if err := args.check("Postgres"); err != nil {
		return nil, err
	}
	comp := &Postgres{Service: args.Plan.Postgres(), SecretName: plan.PostgresSecretName}
	if err := ctx.RegisterComponentResource("synapse:index:Postgres", name, comp, opts...); err != nil {
		return nil, err
	}
	cfg := args.Config.Postgres
	labels := MetaLabels(plan.PostgresClusterName, "database")

	secret, password, _, err := dpCredentialsSecret(ctx, comp, name, dpCredentials{
		Secret:    plan.PostgresSecretName,
		Type:      "kubernetes.io/basic-auth", // the type CNPG requires for bootstrap.initdb.secret
		Namespace: args.Namespace,
		Labels:    labels,
		Plain:     map[string]string{plan.PostgresSecretUser: plan.PostgresOwner},
		Generated: plan.PostgresSecretPass,
	})
	if err != nil {
		return nil, err
	}
	comp.Password = password

	// The Cluster names its Secret by a plain string, which Pulumi cannot
	// see as a dependency: order it explicitly.
	clusterDeps := []pulumi.Resource{secret}
	if cfg.InstallOperator {
		chart, err := cnpgOperator(ctx, comp, name, cfg)
		if err != nil {
			return nil, err
		}
		comp.Operator = chart
		// The Cluster's CRD and the operator's admission webhook come from
		// the chart, which Pulumi awaits until the operator is ready.
		clusterDeps = append(clusterDeps, chart)
	}

	storage := map[string]any{"size": canonicalQuantity(cfg.Storage.Size)}
	if cfg.Storage.StorageClass != "" {
		storage["storageClass"] = cfg.Storage.StorageClass
	}
	spec := map[string]any{
		"instances": cfg.Instances,
		"imageName": cfg.Image,
		"storage":   storage,
		"bootstrap": bootstrap(cfg),
		// Guaranteed memory, bounded CPU: the tier's, or postgres.resources.
		"resources": map[string]any{
			"requests": map[string]any{"cpu": canonicalQuantity(cfg.Resources.Requests.CPU), "memory": canonicalQuantity(cfg.Resources.Requests.Memory)},
			"limits":   map[string]any{"cpu": canonicalQuantity(cfg.Resources.Limits.CPU), "memory": canonicalQuantity(cfg.Resources.Limits.Memory)},
		},
		// Every Synapse process at its maximum replicas times cp_max, plus
		// headroom (the plan owns the formula; config refused any config
		// whose count the memory limit cannot pay for), and memory settings
		// that fit the limit.
		"postgresql": map[string]any{"parameters": stringMap(plan.PostgresParameters(
			cfg.MemoryLimitBytes(), args.Plan.MaxConnections()))},
	}
	if cfg.Backup.Enabled {
		// WAL archiving and base backups through the Barman Cloud plugin,
		// into this Cluster's own folder (serverName) of the object store.
		spec["plugins"] = []any{barmanPlugin(cfg.Backup.ServerName, true)}
		if cfg.Restore != nil {
			spec["externalClusters"] = []any{map[string]any{
				"name":   plan.RestoreSourceName,
				"plugin": barmanPlugin(cfg.Restore.FromServerName, false),
			}}
		}
	}
	if args.Config.Monitoring.Enabled {
		spec["monitoring"] = map[string]any{"enablePodMonitor": true}
	}
	if args.Config.MAS.Enabled {
		// MAS's own role, managed by CNPG from a Secret (reloaded on
		// change); its database is a Database resource below. Removing
		// the role from this list leaves it in place: turning MAS off
		// loses no data.
		masSecret, masPassword, _, err := dpCredentialsSecret(ctx, comp, name+"-mas", dpCredentials{
			Secret:    plan.MASDatabaseSecretName,
			Type:      "kubernetes.io/basic-auth",
			Namespace: args.Namespace,
			Labels:    withReload(labels),
			Plain:     map[string]string{plan.PostgresSecretUser: plan.MASRole},
			Generated: plan.PostgresSecretPass,
		})
		if err != nil {
			return nil, err
		}
		comp.MASPassword = masPassword
		clusterDeps = append(clusterDeps, masSecret)
		spec["managed"] = map[string]any{"roles": []any{map[string]any{
			"name": plan.MASRole, "ensure": "present", "login": true,
			"passwordSecret": map[string]any{"name": plan.MASDatabaseSecretName},
		}}}
	}
	if cfg.Backup.Enabled {
		deps, err := postgresBackupTarget(ctx, comp, name, args, comp.Operator)
		if err != nil {
			return nil, err
		}
		clusterDeps = append(clusterDeps, deps...)
	}

	clusterOpts := []pulumi.ResourceOption{pulumi.Parent(comp), pulumi.DependsOn(clusterDeps)}
	if args.Config.DataProtection {
		// On the Cluster only: Protect is inherited by children, so on the
		// component it would also pin the Secret and the operator. CNPG's
		// PVCs belong to the Cluster; retaining it keeps them.
		clusterOpts = append(clusterOpts, pulumi.Protect(true), pulumi.RetainOnDelete(true))
	}
	cluster, err := apiextensions.NewCustomResource(ctx, name+"-cluster", &apiextensions.CustomResourceArgs{
		ApiVersion: pulumi.String("postgresql.cnpg.io/v1"),
		Kind:       pulumi.String("Cluster"),
		Metadata: &metav1.ObjectMetaArgs{
			Name:        pulumi.String(plan.PostgresClusterName),
			Namespace:   args.Namespace,
			Labels:      labels,
			Annotations: pulumi.StringMap{AnnotationWaitFor: pulumi.String("condition=Ready")},
		},
		OtherFields: kubernetes.UntypedArgs{"spec": spec},
	}, clusterOpts...)
	if err != nil {
		return nil, err
	}
	comp.Cluster = cluster
	comp.Ready = []pulumi.Resource{cluster}
	if args.Config.MAS.Enabled {
		if comp.MASDatabase, err = masDatabase(ctx, comp, name, args, cluster); err != nil {
			return nil, err
		}
		comp.MASReady = []pulumi.Resource{cluster, comp.MASDatabase}
	}
	if cfg.Backup.Enabled {
		if comp.ScheduledBackup, err = scheduledBackup(ctx, comp, name, args, cluster); err != nil {
			return nil, err
		}
	}

	if err := ctx.RegisterResourceOutputs(comp, pulumi.Map{
		"service":    pulumi.String(comp.Service.Name),
		"secretName": pulumi.String(comp.SecretName),
		"password":   comp.Password,
	}); err != nil {
		return nil, err
	}
	return comp, nil
}

// masDatabase is MAS's database, owned by its role. CNPG keeps the
// database when the resource goes (databaseReclaimPolicy retain), and with
// data protection Pulumi refuses to delete the resource at all.
func masDatabase(ctx *pulumi.Context, comp pulumi.Resource, name string, args *PostgresArgs, cluster pulumi.Resource) (*apiextensions.CustomResource, error) {
	opts := []pulumi.ResourceOption{pulumi.Parent(comp), pulumi.DependsOn([]pulumi.Resource{cluster})}
	if args.Config.DataProtection {
		opts = append(opts, pulumi.Protect(true), pulumi.RetainOnDelete(true))
	}
	return apiextensions.NewCustomResource(ctx, name+"-mas-database", &apiextensions.CustomResourceArgs{
		ApiVersion: pulumi.String("postgresql.cnpg.io/v1"),
		Kind:       pulumi.String("Database"),
		Metadata: &metav1.ObjectMetaArgs{
			Name:      pulumi.String(plan.PostgresClusterName + "-" + plan.MASDatabase),
			Namespace: args.Namespace,
			Labels:    MetaLabels(plan.PostgresClusterName, "database"),
			// CNPG sets status.applied once the database exists.
			Annotations: pulumi.StringMap{AnnotationWaitFor: pulumi.String("jsonpath={.status.applied}=true")},
		},
		OtherFields: kubernetes.UntypedArgs{"spec": map[string]any{
			"name":                  plan.MASDatabase,
			"owner":                 plan.MASRole,
			"cluster":               map[string]any{"name": plan.PostgresClusterName},
			"ensure":                "present",
			"databaseReclaimPolicy": "retain",
		}},
	}, opts...)
}

// withReload adds CNPG's reload label: the operator watches Secrets that
// carry it and applies a changed password to the role.
func withReload(labels pulumi.StringMap) pulumi.StringMap {
	out := pulumi.StringMap{"cnpg.io/reload": pulumi.String("true")}
	for k, v := range labels {
		out[k] = v
	}
	return out
}

// bootstrap is how a new Cluster gets its data: an empty database
// (initdb), or with postgres.restore a recovery from the object store's
// backups of another Cluster, up to restore.targetTime when set. Either way
// the owner and its password are ours (the recovered owner's password is
// reset to the Secret's). CNPG reads bootstrap only when it creates the
// Cluster: on a running Cluster, a change here does nothing (README,
// "Restore").
func bootstrap(cfg config.Postgres) map[string]any {
	owner := map[string]any{
		"database": plan.PostgresDatabase,
		"owner":    plan.PostgresOwner,
		"secret":   map[string]any{"name": plan.PostgresSecretName},
	}
	if r := cfg.Restore; r != nil {
		owner["source"] = plan.RestoreSourceName
		if r.TargetTime != "" {
			owner["recoveryTarget"] = map[string]any{"targetTime": r.TargetTime}
		}
		return map[string]any{"recovery": owner}
	}
	// Synapse refuses a database without UTF8 encoding and C collation
	// and ctype (docs/postgres.md).
	owner["encoding"] = "UTF8"
	owner["localeCollate"] = "C"
	owner["localeCType"] = "C"
	return map[string]any{"initdb": owner}
}

// barmanPlugin is the Barman Cloud plugin's entry in a Cluster's plugins
// (archiver: WAL goes to serverName's folder) or in an externalClusters
// entry (a restore source reading serverName's folder).
func barmanPlugin(serverName string, archiver bool) map[string]any {
	p := map[string]any{
		"name": plan.BarmanCloudPlugin,
		"parameters": map[string]any{
			"barmanObjectName": plan.PostgresObjectStoreName,
			"serverName":       serverName,
		},
	}
	if archiver {
		p["isWALArchiver"] = true
	}
	return p
}

// postgresBackupTarget creates what the Cluster's backups need before the
// Cluster exists: the Barman Cloud plugin (next to the operator, which it
// needs), the target's keys for an external endpoint (on MinIO, the MinIO
// component made them), and the ObjectStore. It returns what the Cluster
// must wait for.
func postgresBackupTarget(ctx *pulumi.Context, comp *Postgres, name string, args *PostgresArgs, operator *helmv4.Chart) ([]pulumi.Resource, error) {
	b := args.Config.Postgres.Backup
	var deps []pulumi.Resource
	storeOpts := []pulumi.ResourceOption{pulumi.Parent(comp)}
	if b.InstallPlugin {
		pluginOpts := []pulumi.ResourceOption{pulumi.Parent(comp)}
		if operator != nil {
			// The plugin registers with the operator, in its namespace.
			pluginOpts = append(pluginOpts, pulumi.DependsOn([]pulumi.Resource{operator}))
		}
		plugin, err := yamlv2.NewConfigFile(ctx, name+"-barman-cloud-plugin", &yamlv2.ConfigFileArgs{
			File: pulumi.String(b.PluginManifest),
		}, pluginOpts...)
		if err != nil {
			return nil, err
		}
		comp.BackupPlugin = plugin
		deps = append(deps, plugin)
		// The ObjectStore CRD comes with the plugin.
		storeOpts = append(storeOpts, pulumi.DependsOn([]pulumi.Resource{plugin}))
	}
	if b.Endpoint != "" {
		if args.BackupKeys == nil {
			return nil, errors.New("Postgres: postgres.backup.endpoint needs BackupKeys (from the stack secrets)")
		}
		data := pulumi.StringMap{
			plan.S3SecretAccessKeyID:     args.BackupKeys.AccessKeyID,
			plan.S3SecretSecretAccessKey: args.BackupKeys.SecretAccessKey,
		}
		if b.Region != "" {
			data[plan.S3SecretRegion] = pulumi.String(b.Region)
		}
		secret, err := corev1.NewSecret(ctx, name+"-backup-secret", &corev1.SecretArgs{
			Metadata: &metav1.ObjectMetaArgs{
				Name:      pulumi.String(plan.PostgresBackupSecretName),
				Namespace: args.Namespace,
				Labels:    MetaLabels(plan.PostgresClusterName, "database"),
			},
			StringData: data,
		}, pulumi.Parent(comp))
		if err != nil {
			return nil, err
		}
		storeOpts = append(storeOpts, pulumi.DependsOn([]pulumi.Resource{secret}))
	}
	store, err := apiextensions.NewCustomResource(ctx, name+"-object-store", &apiextensions.CustomResourceArgs{
		ApiVersion: pulumi.String("barmancloud.cnpg.io/v1"),
		Kind:       pulumi.String("ObjectStore"),
		Metadata: &metav1.ObjectMetaArgs{
			Name:      pulumi.String(plan.PostgresObjectStoreName),
			Namespace: args.Namespace,
			Labels:    MetaLabels(plan.PostgresClusterName, "database"),
		},
		OtherFields: kubernetes.UntypedArgs{"spec": objectStoreSpec(b, args.Plan)},
	}, storeOpts...)
	if err != nil {
		return nil, err
	}
	comp.ObjectStore = store
	return append(deps, store), nil
}

// objectStoreSpec is the ObjectStore's spec: where (s3://bucket/path/,
// each Cluster in its serverName folder below), with which keys, how long
// backups are kept (a recovery window: the plugin deletes what is older
// than the last backup before it), compressed.
func objectStoreSpec(b config.Backup, p *plan.Plan) map[string]any {
	endpoint := b.Endpoint
	if endpoint == "" {
		m := p.MinIO()
		endpoint = fmt.Sprintf("http://%s:%d", m.Host(), m.Port)
	}
	dest := "s3://" + b.Bucket + "/"
	if b.Path != "" {
		dest += b.Path + "/"
	}
	keyRef := func(key string) map[string]any {
		return map[string]any{"name": plan.PostgresBackupSecretName, "key": key}
	}
	creds := map[string]any{
		"accessKeyId":     keyRef(plan.S3SecretAccessKeyID),
		"secretAccessKey": keyRef(plan.S3SecretSecretAccessKey),
	}
	if b.Region != "" {
		creds["region"] = keyRef(plan.S3SecretRegion)
	}
	return map[string]any{
		"retentionPolicy": b.Retention,
		"configuration": map[string]any{
			"destinationPath": dest,
			"endpointURL":     endpoint,
			"s3Credentials":   creds,
			"wal":             map[string]any{"compression": "gzip"},
			"data":            map[string]any{"compression": "gzip"},
		},
	}
}

// scheduledBackup takes a base backup on postgres.backup.schedule (and one
// right away, so that a new Cluster is recoverable from its first day),
// through the plugin. The backups belong to the ScheduledBackup.
func scheduledBackup(ctx *pulumi.Context, comp pulumi.Resource, name string, args *PostgresArgs, cluster pulumi.Resource) (*apiextensions.CustomResource, error) {
	return apiextensions.NewCustomResource(ctx, name+"-scheduled-backup", &apiextensions.CustomResourceArgs{
		ApiVersion: pulumi.String("postgresql.cnpg.io/v1"),
		Kind:       pulumi.String("ScheduledBackup"),
		Metadata: &metav1.ObjectMetaArgs{
			Name:      pulumi.String(plan.PostgresScheduledBackupName),
			Namespace: args.Namespace,
			Labels:    MetaLabels(plan.PostgresClusterName, "database"),
		},
		OtherFields: kubernetes.UntypedArgs{"spec": map[string]any{
			"schedule":             args.Config.Postgres.Backup.Schedule,
			"immediate":            true,
			"backupOwnerReference": "self",
			"cluster":              map[string]any{"name": plan.PostgresClusterName},
			"method":               "plugin",
			"pluginConfiguration":  map[string]any{"name": plan.BarmanCloudPlugin},
		}},
	}, pulumi.Parent(comp), pulumi.DependsOn([]pulumi.Resource{cluster}))
}

// stringMap is m as the map[string]any an untyped spec holds.
func stringMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// cnpgOperator installs the CloudNativePG operator with the Helm v4 Chart
// (a v3 Release that installs CRDs in the same run trips
// pulumi-kubernetes#3176 before 4.32) into its own restricted namespace.
//
// The chart comes from postgres.operatorChart: a Helm repository (the
// default, CNPG's own), an oci:// reference, or a local chart for
// air-gapped clusters (its own version; operatorChartVersion is ignored).
func cnpgOperator(ctx *pulumi.Context, comp pulumi.Resource, name string, cfg config.Postgres) (*helmv4.Chart, error) {
	labels := RestrictedNamespaceLabels()
	labels[LabelManagedBy] = pulumi.String("pulumi")
	ns, err := corev1.NewNamespace(ctx, name+"-cnpg-namespace", &corev1.NamespaceArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(CNPGNamespace), Labels: labels},
	}, pulumi.Parent(comp))
	if err != nil {
		return nil, err
	}
	chart, repo := cfg.OperatorChartSource()
	args := &helmv4.ChartArgs{
		Chart:     pulumi.String(chart),
		Name:      pulumi.String(cnpgRelease),
		Namespace: ns.Metadata.Name().Elem(),
		// The chart's defaults already pass `restricted`; they are pinned
		// here so that a chart upgrade that loosens them cannot get the
		// operator pods rejected by the namespace's Pod Security labels.
		Values: pulumi.Map{
			"podSecurityContext": pulumi.Map{
				"runAsNonRoot":   pulumi.Bool(true),
				"seccompProfile": pulumi.Map{"type": pulumi.String("RuntimeDefault")},
			},
			"containerSecurityContext": pulumi.Map{
				"allowPrivilegeEscalation": pulumi.Bool(false),
				"readOnlyRootFilesystem":   pulumi.Bool(true),
				"runAsNonRoot":             pulumi.Bool(true),
				"runAsUser":                pulumi.Int(10001),
				"runAsGroup":               pulumi.Int(10001),
				"seccompProfile":           pulumi.Map{"type": pulumi.String("RuntimeDefault")},
				"capabilities":             pulumi.Map{"drop": pulumi.StringArray{pulumi.String("ALL")}},
			},
		},
	}
	if repo != "" {
		args.RepositoryOpts = &helmv4.RepositoryOptsArgs{Repo: pulumi.String(repo)}
	}
	if !cfg.OperatorChartIsLocal() {
		args.Version = pulumi.String(cfg.OperatorChartVersion)
	}
	return helmv4.NewChart(ctx, name+"-cnpg-operator", args, pulumi.Parent(comp))
}

// dpCredentials describe a Secret holding one generated password.
type dpCredentials struct {
	Secret    string // metadata.name
	Type      string // "" = Opaque
	Namespace pulumi.StringInput
	Labels    pulumi.StringMap
	Plain     map[string]string // fixed keys (e.g. a user name)
	Generated string            // key of the generated password
	// GeneratedUser, if set, is the key of a generated user name (MinIO's
	// root user): 20 random lower-case alphanumerics.
	GeneratedUser string
}

// dpCredentialsSecret creates a random password (32 alphanumerics: no
// quoting problems in URLs, env expansion or config files) and the Secret
// that holds it. The password never appears in any other object: pods read
// it through secretKeyRef. It returns the Secret, the password and every
// generated value by Secret key, all as secret outputs.
func dpCredentialsSecret(ctx *pulumi.Context, comp pulumi.Resource, name string, c dpCredentials) (*corev1.Secret, pulumi.StringOutput, map[string]pulumi.StringOutput, error) {
	pw, err := random.NewRandomPassword(ctx, name+"-password", &random.RandomPasswordArgs{
		Length:  pulumi.Int(32),
		Special: pulumi.Bool(false),
	}, pulumi.Parent(comp))
	if err != nil {
		return nil, pulumi.StringOutput{}, nil, err
	}
	password := pulumi.ToSecret(pw.Result).(pulumi.StringOutput)
	data := pulumi.StringMap{c.Generated: password}
	generated := map[string]pulumi.StringOutput{c.Generated: password}
	for k, v := range c.Plain {
		data[k] = pulumi.String(v)
	}
	if k := c.GeneratedUser; k != "" {
		user, err := random.NewRandomPassword(ctx, name+"-user", &random.RandomPasswordArgs{
			Length:  pulumi.Int(20),
			Special: pulumi.Bool(false),
			Upper:   pulumi.Bool(false),
		}, pulumi.Parent(comp))
		if err != nil {
			return nil, pulumi.StringOutput{}, nil, err
		}
		generated[k] = pulumi.ToSecret(user.Result).(pulumi.StringOutput)
		data[k] = generated[k]
	}
	args := &corev1.SecretArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Name:      pulumi.String(c.Secret),
			Namespace: c.Namespace,
			Labels:    c.Labels,
		},
		StringData: data,
	}
	if c.Type != "" {
		args.Type = pulumi.String(c.Type)
	}
	secret, err := corev1.NewSecret(ctx, name+"-secret", args, pulumi.Parent(comp))
	if err != nil {
		return nil, pulumi.StringOutput{}, nil, err
	}
	return secret, password, generated, nil
}

// dpSecretEnv is an env var read from a key of a Secret.
func dpSecretEnv(env, secret, key string) corev1.EnvVarInput {
	return corev1.EnvVarArgs{
		Name: pulumi.String(env),
		ValueFrom: &corev1.EnvVarSourceArgs{SecretKeyRef: &corev1.SecretKeySelectorArgs{
			Name: pulumi.String(secret),
			Key:  pulumi.String(key),
		}},
	}
}

// dpEmptyDir is an emptyDir volume and its mount, for the writes a
// read-only root filesystem would refuse.
func dpEmptyDir(volume, path string) (corev1.VolumeInput, corev1.VolumeMountInput) {
	return corev1.VolumeArgs{Name: pulumi.String(volume), EmptyDir: &corev1.EmptyDirVolumeSourceArgs{}},
		corev1.VolumeMountArgs{Name: pulumi.String(volume), MountPath: pulumi.String(path)}
}

// dpResources builds requests and limits.
func dpResources(reqCPU, reqMem, limCPU, limMem string) *corev1.ResourceRequirementsArgs {
	return &corev1.ResourceRequirementsArgs{
		Requests: pulumi.StringMap{"cpu": quantity(reqCPU), "memory": quantity(reqMem)},
		Limits:   pulumi.StringMap{"cpu": quantity(limCPU), "memory": quantity(limMem)},
	}
}
