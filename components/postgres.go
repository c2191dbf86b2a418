package components

import (
	"errors"
	"strconv"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apiextensions"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	helmv4 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v4"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
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
		"bootstrap": map[string]any{"initdb": map[string]any{
			"database": plan.PostgresDatabase,
			"owner":    plan.PostgresOwner,
			"secret":   map[string]any{"name": plan.PostgresSecretName},
			// Synapse refuses a database without UTF8 encoding and C
			// collation and ctype (docs/postgres.md).
			"encoding":      "UTF8",
			"localeCollate": "C",
			"localeCType":   "C",
		}},
		"postgresql": map[string]any{"parameters": map[string]any{
			// Every Synapse process at its maximum replicas times cp_max,
			// plus headroom: the plan owns the formula.
			"max_connections": strconv.Itoa(args.Plan.MaxConnections()),
		}},
	}
	if args.Config.Monitoring.Enabled {
		spec["monitoring"] = map[string]any{"enablePodMonitor": true}
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

	if err := ctx.RegisterResourceOutputs(comp, pulumi.Map{
		"service":    pulumi.String(comp.Service.Name),
		"secretName": pulumi.String(comp.SecretName),
		"password":   comp.Password,
	}); err != nil {
		return nil, err
	}
	return comp, nil
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
