package components

import (
	"fmt"

	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	batchv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/batch/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	"github.com/pulumi/pulumi-random/sdk/v4/go/random"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"synapse/config"
	"synapse/masconfig"
	"synapse/plan"
	"synapse/synapseconfig"
)

// MASType is the token of the Matrix Authentication Service component.
const MASType = "synapse:index:MatrixAuthenticationService"

// Names of MAS's objects.
const (
	ComponentMAS     = "auth"
	MASSecretName    = plan.MASName + "-secrets"
	MASConfigMapName = plan.MASName + "-config" // + content hash
	// MASConfigCheckName labels the Job that runs `mas-cli config check`.
	MASConfigCheckName = plan.MASName + "-config-check"
	// MASUID is the distroless image's "nonroot" user.
	MASUID = 65532
)

// masSecretDefaultMode: owner and group read (the pod's fsGroup), as for
// Synapse's Secret.
const masSecretDefaultMode = 0o440

// MASArgs configure MAS.
type MASArgs struct {
	Namespace pulumi.StringInput
	Config    *config.Config
	Plan      *plan.Plan
	// DatabasePassword is MAS's Postgres role's password (the Postgres
	// component's MASPassword).
	DatabasePassword pulumi.StringInput
	// UpstreamSecrets are the upstream providers' client secrets by
	// provider name (config.Load, synapse:masUpstreamClientSecrets).
	UpstreamSecrets map[string]pulumi.StringOutput
}

// MAS is the Matrix Authentication Service: a Deployment (its Postgres
// schema migrated by an init container, as ess-helm does), a Service, an
// Ingress on mas.host, its config in a content-named ConfigMap, its keys
// and the secret it shares with Synapse in a Secret, and a Job running
// MAS's own config check before any pod sees a new config.
type MAS struct {
	pulumi.ResourceState

	ConfigYAML string
	// pod is what MAS's pods share (config, Secret, checksums): the first
	// admin Job runs mas-cli with it.
	pod masPod
	// SynapseSecret is the secret Synapse and MAS share: Synapse's
	// matrix_authentication_service.secret_path file.
	SynapseSecret  pulumi.StringOutput
	SecretChecksum pulumi.StringOutput
	ConfigCheck    *batchv1.Job
	Deployment     *appsv1.Deployment
	Service        *corev1.Service
	Ingress        *networkingv1.Ingress
	// Ready: MAS answers (Synapse introspects every token there).
	Ready []pulumi.Resource
}

// MASSelector selects MAS's pods.
func MASSelector() pulumi.StringMap { return Labels(plan.MASName, ComponentMAS) }

// NewMAS creates MAS (call it only with mas.enabled).
func NewMAS(ctx *pulumi.Context, name string, args *MASArgs, opts ...pulumi.ResourceOption) (*MAS, error) {
	if args == nil || args.Config == nil || args.Plan == nil || args.Namespace == nil || args.DatabasePassword == nil {
		return nil, fmt.Errorf("components: MAS %s: Namespace, Config, Plan and DatabasePassword are required", name)
	}
	c := args.Config
	proc, ok := args.Plan.MAS()
	if !ok {
		return nil, fmt.Errorf("components: MAS %s: mas.enabled is false; do not create the component", name)
	}
	text, err := masconfig.Render(c, args.Plan)
	if err != nil {
		return nil, err
	}
	files := map[string]string{masconfig.ConfigFile: text}
	sum := synapseconfig.ChecksumAll(files)
	comp := &MAS{ConfigYAML: text}
	if err := ctx.RegisterComponentResource(MASType, name, comp, opts...); err != nil {
		return nil, err
	}
	meta := func(n string) *metav1.ObjectMetaArgs {
		return &metav1.ObjectMetaArgs{Name: pulumi.String(n), Namespace: args.Namespace, Labels: MetaLabels(plan.MASName, ComponentMAS)}
	}

	secrets, err := masSecrets(ctx, name, c, args, comp)
	if err != nil {
		return nil, err
	}
	comp.SecretChecksum = secretChecksum(secrets)
	// Named by content, like Synapse's: a rotated value is a new Secret,
	// created before the pods that mount it are replaced.
	secretName := comp.SecretChecksum.ApplyT(func(sum string) string { return contentName(MASSecretName, sum) }).(pulumi.StringOutput)
	secret, err := corev1.NewSecret(ctx, name+"-secrets", &corev1.SecretArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: secretName, Namespace: args.Namespace,
			Labels: MetaLabels(plan.MASName, ComponentMAS)},
		StringData: secrets,
	}, pulumi.Parent(comp))
	if err != nil {
		return nil, err
	}
	cmName := contentName(MASConfigMapName, sum)
	cm, err := corev1.NewConfigMap(ctx, name+"-config", &corev1.ConfigMapArgs{
		Metadata: meta(cmName),
		Data:     pulumi.ToStringMap(files),
	}, pulumi.Parent(comp))
	if err != nil {
		return nil, err
	}
	checksums := pulumi.StringMap{AnnotationChecksum: pulumi.String(sum), AnnotationSecretChecksum: comp.SecretChecksum}
	pod := masPod{image: c.MAS.Image, configMap: cmName, secret: secretName, checksums: checksums}
	comp.pod = pod

	checkDeps := []pulumi.Resource{cm, secret}
	if !c.MAS.ExistingUsersMigrated {
		guard, err := newSyn2masGuard(ctx, name, c, args.Plan, args.Namespace, comp)
		if err != nil {
			return nil, err
		}
		checkDeps = append(checkDeps, guard)
	}
	comp.ConfigCheck, err = batchv1.NewJob(ctx, name+"-config-check", &batchv1.JobArgs{
		Metadata: &metav1.ObjectMetaArgs{Namespace: args.Namespace, Labels: MetaLabels(MASConfigCheckName, componentConfigCheck)},
		Spec: &batchv1.JobSpecArgs{
			BackoffLimit:          pulumi.Int(0), // a config error is deterministic
			ActiveDeadlineSeconds: pulumi.Int(300),
			Template:              pod.template(Labels(MASConfigCheckName, componentConfigCheck), "Never", nil, pod.container("config-check", "config", "check")),
		},
	}, pulumi.Parent(comp), pulumi.DependsOn(checkDeps))
	if err != nil {
		return nil, err
	}

	// Migrations run once per rollout, in the first container of each
	// pod; the server then refuses to start on a schema it does not know
	// (--no-migrate) rather than racing another replica's migration.
	server := pod.container(plan.MASName, "server", "--no-migrate")
	server.Ports = containerPorts(proc)
	server.ReadinessProbe, server.LivenessProbe = httpProbes(plan.HealthPath, plan.PortNameMASInt)
	selector := MASSelector()
	comp.Deployment, err = appsv1.NewDeployment(ctx, name+"-deployment", &appsv1.DeploymentArgs{
		Metadata: meta(plan.MASName),
		Spec: &appsv1.DeploymentSpecArgs{
			Replicas: pulumi.Int(proc.Replicas),
			Selector: &metav1.LabelSelectorArgs{MatchLabels: selector},
			Strategy: surgeOnlyRollout(),
			Template: pod.template(selector, "Always", preferSpreadOverNodes(selector), server,
				pod.container("migrate", "database", "migrate")),
		},
	}, pulumi.Parent(comp), pulumi.DependsOn([]pulumi.Resource{comp.ConfigCheck}))
	if err != nil {
		return nil, err
	}
	comp.Service, err = corev1.NewService(ctx, name+"-service", &corev1.ServiceArgs{
		Metadata: meta(plan.MASName),
		Spec: &corev1.ServiceSpecArgs{
			Type:     pulumi.String("ClusterIP"),
			Selector: selector,
			Ports:    servicePorts(proc.Ports),
		},
	}, pulumi.Parent(comp))
	if err != nil {
		return nil, err
	}
	if c.Monitoring.Enabled {
		// MAS's Prometheus metrics, on its internal listener (which the
		// NetworkPolicy opens to the monitoring namespace only).
		if _, err := newMonitor(ctx, name+"-servicemonitor", args.Namespace, plan.MASName, ComponentMAS, MASSelector(),
			plan.PortNameMASInt, plan.MASMetricsPath, comp, comp.Service); err != nil {
			return nil, err
		}
	}
	if proc.Replicas > 1 {
		if _, err := newPDB(ctx, name+"-pdb", meta(plan.MASName),
			&metav1.LabelSelectorArgs{MatchLabels: selector}, comp); err != nil {
			return nil, err
		}
	}
	comp.Ready = []pulumi.Resource{comp.Deployment, comp.Service}
	if c.Ingress.Enabled {
		comp.Ingress, err = newOwnHostIngress(ctx, name, comp, args.Namespace, c, plan.MASName, ComponentMAS,
			c.MAS.Host, c.MAS.TLSSecretName, plan.PortNameMASWeb, comp.Ready)
		if err != nil {
			return nil, err
		}
	}
	if err := ctx.RegisterResourceOutputs(comp, pulumi.Map{
		"host":      pulumi.String(c.MAS.Host),
		"issuer":    pulumi.String(c.MAS.PublicBaseURL),
		"configMap": pulumi.String(cmName),
		"secret":    secretName,
	}); err != nil {
		return nil, err
	}
	return comp, nil
}

// MASGuardName labels the syn2mas guard Job.
const MASGuardName = plan.MASName + "-syn2mas-guard"

// PostgresUID is the CloudNativePG operand image's postgres user.
const PostgresUID = 26

// newSyn2masGuard runs masconfig.GuardScript against Synapse's database
// (as its owner) before MAS's config check, so before MAS or Synapse's
// MAS-enabled config exist: a Synapse that has accounts of its own fails
// `pulumi up` here instead of locking them out. The Job keeps its verdict:
// it runs again only when it is recreated (MAS turned off and on).
func newSyn2masGuard(ctx *pulumi.Context, name string, c *config.Config, p *plan.Plan, ns pulumi.StringInput, parent pulumi.Resource) (*batchv1.Job, error) {
	return newAccountsGuard(ctx, name+"-syn2mas-guard", MASGuardName, masconfig.GuardScript, c, p, ns, pulumi.Parent(parent))
}

// MASLeaveGuardName labels the MAS leave guard Job.
const MASLeaveGuardName = plan.MASName + "-leave-guard"

// NewMASLeaveGuard runs masconfig.LeaveGuardScript when MAS is off (and
// the user has not acknowledged leaving it): Synapse main, whose config
// then no longer names MAS, waits for it, so a server whose accounts MAS
// holds fails `pulumi up` here, before MAS is removed, instead of locking
// everyone out. Created when MAS goes off, it runs once, like the syn2mas
// guard.
func NewMASLeaveGuard(ctx *pulumi.Context, c *config.Config, p *plan.Plan, ns pulumi.StringInput, opts ...pulumi.ResourceOption) (*batchv1.Job, error) {
	return newAccountsGuard(ctx, MASLeaveGuardName, MASLeaveGuardName, masconfig.LeaveGuardScript, c, p, ns, opts...)
}

// newAccountsGuard is a Job that runs a guard script with psql against
// Synapse's database, as its owner, in the Postgres image.
func newAccountsGuard(ctx *pulumi.Context, resourceName, labelName, script string, c *config.Config, p *plan.Plan, ns pulumi.StringInput, opts ...pulumi.ResourceOption) (*batchv1.Job, error) {
	pg := p.Postgres()
	labels := Labels(labelName, componentConfigCheck)
	return batchv1.NewJob(ctx, resourceName, &batchv1.JobArgs{
		Metadata: &metav1.ObjectMetaArgs{Namespace: ns, Labels: MetaLabels(labelName, componentConfigCheck)},
		Spec: &batchv1.JobSpecArgs{
			BackoffLimit:          pulumi.Int(2), // a connection hiccup is not a verdict
			ActiveDeadlineSeconds: pulumi.Int(600),
			Template: &corev1.PodTemplateSpecArgs{
				Metadata: &metav1.ObjectMetaArgs{Labels: labels},
				Spec: &corev1.PodSpecArgs{
					RestartPolicy:                pulumi.String("Never"),
					AutomountServiceAccountToken: pulumi.Bool(false),
					EnableServiceLinks:           pulumi.Bool(false),
					SecurityContext:              PodSecurity(PostgresUID),
					Containers: corev1.ContainerArray{corev1.ContainerArgs{
						Name:    pulumi.String("guard"),
						Image:   pulumi.String(c.Postgres.Image),
						Command: pulumi.ToStringArray([]string{"/bin/sh", "-c", script}),
						Env: corev1.EnvVarArray{
							corev1.EnvVarArgs{Name: pulumi.String("PGHOST"), Value: pulumi.String(pg.Host())},
							corev1.EnvVarArgs{Name: pulumi.String("PGPORT"), Value: pulumi.String(fmt.Sprint(pg.Port))},
							corev1.EnvVarArgs{Name: pulumi.String("PGDATABASE"), Value: pulumi.String(plan.PostgresDatabase)},
							corev1.EnvVarArgs{Name: pulumi.String("PGUSER"), Value: pulumi.String(plan.PostgresOwner)},
							secretEnv("PGPASSWORD", plan.PostgresSecretName, plan.PostgresSecretPass),
						},
						Resources:       initResources(),
						SecurityContext: ContainerSecurity(),
					}},
				},
			},
		},
	}, opts...)
}

// masSecrets is every file of masconfig.SecretFiles. The keys are derived
// from RandomPasswords kept in state (stable across updates; with data
// protection, protected: a lost encryption key loses the upstream
// providers' tokens, a lost signing key signs everyone out).
func masSecrets(ctx *pulumi.Context, name string, c *config.Config, args *MASArgs, comp *MAS) (pulumi.StringMap, error) {
	seed := func(suffix string, protect bool) (pulumi.StringOutput, error) {
		pw, err := random.NewRandomPassword(ctx, name+"-"+suffix, &random.RandomPasswordArgs{
			Length: pulumi.Int(generatedSecretLength), Special: pulumi.Bool(false),
		}, pulumi.Parent(comp), pulumi.Protect(protect))
		if err != nil {
			return pulumi.StringOutput{}, err
		}
		return pulumi.ToSecret(pw.Result).(pulumi.StringOutput), nil
	}
	derive := func(suffix string, f func(string) (string, error)) (pulumi.StringOutput, error) {
		s, err := seed(suffix, c.DataProtection)
		if err != nil {
			return pulumi.StringOutput{}, err
		}
		return pulumi.ToSecret(s.ApplyT(func(v string) (string, error) { return f(v) })).(pulumi.StringOutput), nil
	}
	out := pulumi.StringMap{masconfig.SecretDatabase: args.DatabasePassword}
	var err error
	if out[masconfig.SecretEncryption], err = derive("encryption-seed", func(s string) (string, error) { return masconfig.EncryptionKey(s), nil }); err != nil {
		return nil, err
	}
	if out[masconfig.SecretRSAKey], err = derive("rsa-seed", masconfig.RSAKey); err != nil {
		return nil, err
	}
	if out[masconfig.SecretECKey], err = derive("p256-seed", masconfig.ECKey); err != nil {
		return nil, err
	}
	if comp.SynapseSecret, err = seed("synapse-secret", false); err != nil {
		return nil, err
	}
	out[masconfig.SecretSynapse] = comp.SynapseSecret
	for _, p := range c.MAS.Upstream {
		s, ok := args.UpstreamSecrets[p.Name]
		if !ok {
			return nil, fmt.Errorf("components: MAS %s: no client secret for upstream provider %s", name, p.Name)
		}
		out[masconfig.UpstreamSecretPrefix+p.Name] = s
	}
	for _, k := range masconfig.SecretFiles(c) {
		if _, ok := out[k]; !ok {
			return nil, fmt.Errorf("components: MAS %s: no value for secret file %s", name, k)
		}
	}
	return out, nil
}

// masPod is what every MAS pod (server, config check) shares: the image,
// config and Secret mounts, the checksums that roll it.
type masPod struct {
	image, configMap string
	secret           pulumi.StringOutput
	checksums        pulumi.StringMap
}

// container runs mas-cli with args and the config file.
func (m masPod) container(name string, args ...string) corev1.ContainerArgs {
	ro := pulumi.Bool(true)
	return corev1.ContainerArgs{
		Name:  pulumi.String(name),
		Image: pulumi.String(m.image),
		Args:  pulumi.ToStringArray(append(args, "--config", masconfig.ConfigDir+"/"+masconfig.ConfigFile)),
		VolumeMounts: corev1.VolumeMountArray{
			corev1.VolumeMountArgs{Name: pulumi.String(volConfig), MountPath: pulumi.String(masconfig.ConfigDir), ReadOnly: ro},
			corev1.VolumeMountArgs{Name: pulumi.String(volSecrets), MountPath: pulumi.String(masconfig.SecretsDir), ReadOnly: ro},
			corev1.VolumeMountArgs{Name: pulumi.String(volTmp), MountPath: pulumi.String(synapseconfig.TmpDir)},
		},
		Resources:       resources(masResources),
		SecurityContext: ContainerSecurity(),
	}
}

// template is a MAS pod: main, after inits.
func (m masPod) template(labels pulumi.StringMap, restart string, affinity *corev1.AffinityArgs, main corev1.ContainerArgs, inits ...corev1.ContainerArgs) *corev1.PodTemplateSpecArgs {
	l := pulumi.StringMap{LabelManagedBy: pulumi.String("pulumi")}
	for k, v := range labels {
		l[k] = v
	}
	spec := &corev1.PodSpecArgs{
		AutomountServiceAccountToken: pulumi.Bool(false),
		EnableServiceLinks:           pulumi.Bool(false),
		RestartPolicy:                pulumi.String(restart),
		SecurityContext:              PodSecurity(MASUID),
		Containers:                   corev1.ContainerArray{main},
		Volumes: corev1.VolumeArray{
			corev1.VolumeArgs{Name: pulumi.String(volConfig), ConfigMap: &corev1.ConfigMapVolumeSourceArgs{Name: pulumi.String(m.configMap)}},
			corev1.VolumeArgs{Name: pulumi.String(volSecrets), Secret: &corev1.SecretVolumeSourceArgs{
				SecretName: m.secret, DefaultMode: pulumi.Int(masSecretDefaultMode),
			}},
			corev1.VolumeArgs{Name: pulumi.String(volTmp), EmptyDir: &corev1.EmptyDirVolumeSourceArgs{SizeLimit: quantity(tmpSizeLimit)}},
		},
		Affinity:       affinity,
		InitContainers: corev1.ContainerArray{},
	}
	for _, i := range inits {
		spec.InitContainers = append(spec.InitContainers.(corev1.ContainerArray), i)
	}
	return &corev1.PodTemplateSpecArgs{
		Metadata: &metav1.ObjectMetaArgs{Labels: l, Annotations: m.checksums},
		Spec:     spec,
	}
}

// masResources: ess-helm requests 50m/50Mi and limits memory to 350Mi;
// password hashing (argon2id, 19 MiB per hash) is the peak, so a little
// more room per concurrent sign-in.
var masResources = config.Resources{
	Requests: config.ResourceList{CPU: "100m", Memory: "128Mi"},
	Limits:   config.ResourceList{CPU: "1", Memory: "512Mi"},
}
