package components

import (
	"errors"
	"fmt"
	"slices"

	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	batchv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/batch/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"synapse/config"
	"synapse/objectstore"
	"synapse/plan"
	"synapse/synapseconfig"
)

// MinIOArgs configure NewMinIO.
type MinIOArgs = DataPlaneArgs

// MinIO is the S3 media store: a MinIO StatefulSet with a volume per
// replica, its Services, and a Job that creates the media bucket.
type MinIO struct {
	pulumi.ResourceState

	// Service is the S3 API (ClusterIP).
	Service plan.Service
	// SecretName holds the root credentials under plan.MinIOSecretUser and
	// plan.MinIOSecretPass.
	SecretName string
	Bucket     string
	// RootUser and RootPassword are secret outputs, for Synapse's S3
	// storage provider config.
	RootUser     pulumi.StringOutput
	RootPassword pulumi.StringOutput
	StatefulSet  *appsv1.StatefulSet
	BucketJob    *batchv1.Job
	// Ready: the StatefulSet (every pod ready) and the bucket Job
	// (completed). DependsOn these, never on the component
	// (pulumi/pulumi#7833).
	Ready []pulumi.Resource
}

// Names derived from plan.MinIOName.
const (
	minioHeadlessSuffix = "-hl"
	minioBucketSuffix   = "-bucket"
	minioDataVolume     = "data"
	minioDataPath       = "/data"
	minioTmpPath        = "/tmp"
	// mcAlias is the mc alias the bucket Job defines through MC_HOST_<alias>.
	mcAlias = "synapse"
	// The setup Job's script and policies are mounted here.
	minioSetupDir    = "/setup"
	minioSetupScript = "setup.sh"
)

// NewMinIO creates MinIO (call it only when config.MinIO.Enabled).
func NewMinIO(ctx *pulumi.Context, name string, args *MinIOArgs, opts ...pulumi.ResourceOption) (*MinIO, error) {
	if err := args.check("MinIO"); err != nil {
		return nil, err
	}
	cfg := args.Config.MinIO
	if !cfg.Enabled {
		return nil, errors.New("MinIO: minio.enabled is false; do not create the component")
	}
	svc := args.Plan.MinIO()
	comp := &MinIO{Service: svc, SecretName: plan.MinIOSecretName, Bucket: cfg.Bucket}
	if err := ctx.RegisterComponentResource("synapse:index:MinIO", name, comp, opts...); err != nil {
		return nil, err
	}
	const component = "object-storage"
	meta := MetaLabels(plan.MinIOName, component)
	selector := Labels(plan.MinIOName, component)
	headless := plan.MinIOName + minioHeadlessSuffix

	secret, password, generated, err := dpCredentialsSecret(ctx, comp, name, dpCredentials{
		Secret:        plan.MinIOSecretName,
		Namespace:     args.Namespace,
		Labels:        meta,
		Generated:     plan.MinIOSecretPass,
		GeneratedUser: plan.MinIOSecretUser,
	})
	if err != nil {
		return nil, err
	}
	comp.RootPassword = password
	comp.RootUser = generated[plan.MinIOSecretUser]

	port := corev1.ServicePortArray{corev1.ServicePortArgs{
		Name:       pulumi.String(svc.PortName),
		Port:       pulumi.Int(svc.Port),
		TargetPort: pulumi.String(svc.PortName),
	}}
	// The headless Service gives each pod the stable DNS name distributed
	// MinIO lists its drives by. Peers must resolve each other before any
	// is ready (a node waits for quorum), hence publishNotReadyAddresses.
	hl, err := corev1.NewService(ctx, name+"-headless", &corev1.ServiceArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(headless), Namespace: args.Namespace, Labels: meta},
		Spec: &corev1.ServiceSpecArgs{
			ClusterIP:                pulumi.String("None"),
			PublishNotReadyAddresses: pulumi.Bool(true),
			Selector:                 selector,
			Ports:                    port,
		},
	}, pulumi.Parent(comp))
	if err != nil {
		return nil, err
	}
	api, err := corev1.NewService(ctx, name+"-service", &corev1.ServiceArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(svc.Name), Namespace: args.Namespace, Labels: meta},
		Spec: &corev1.ServiceSpecArgs{
			Type:     pulumi.String("ClusterIP"),
			Selector: selector,
			Ports:    port,
		},
	}, pulumi.Parent(comp))
	if err != nil {
		return nil, err
	}

	// One drive per pod. 1 replica: a single drive. 4 or more: distributed
	// erasure-coded MinIO over every pod's drive (config validates 1 or
	// 4..16).
	drives := minioDataPath
	if cfg.Replicas > 1 {
		drives = fmt.Sprintf("http://%s-{0...%d}.%s.%s.svc.cluster.local%s",
			plan.MinIOName, cfg.Replicas-1, headless, args.Plan.Namespace, minioDataPath)
	}
	tmpVol, tmpMount := dpEmptyDir("tmp", minioTmpPath)
	pvc := corev1.PersistentVolumeClaimSpecArgs{
		AccessModes: pulumi.StringArray{pulumi.String("ReadWriteOnce")},
		Resources: &corev1.VolumeResourceRequirementsArgs{
			Requests: pulumi.StringMap{"storage": quantity(cfg.Storage.Size)},
		},
	}
	if cfg.Storage.StorageClass != "" {
		pvc.StorageClassName = pulumi.String(cfg.Storage.StorageClass)
	}
	var affinity *corev1.AffinityArgs
	if cfg.Replicas > 1 {
		// Spread the drives over nodes, so that losing a node loses as
		// few erasure-set members as possible.
		affinity = preferSpreadOverNodes(selector)
	}
	healthProbe := func(path string, delay int) *corev1.ProbeArgs {
		return &corev1.ProbeArgs{
			HttpGet:             &corev1.HTTPGetActionArgs{Path: pulumi.String(path), Port: pulumi.String(svc.PortName)},
			InitialDelaySeconds: pulumi.Int(delay),
			PeriodSeconds:       pulumi.Int(10),
			TimeoutSeconds:      pulumi.Int(5),
		}
	}

	stsOpts := []pulumi.ResourceOption{pulumi.Parent(comp), pulumi.DependsOn([]pulumi.Resource{secret, hl})}
	if args.Config.DataProtection {
		// The media lives in the PVCs of volumeClaimTemplates. They are not
		// Pulumi resources: the StatefulSet controller creates them, and
		// with whenDeleted=Retain they survive the StatefulSet. Protect
		// blocks a delete or replace of the StatefulSet (a changed
		// volumeClaimTemplate forces one) and RetainOnDelete leaves it in
		// the cluster if the stack lets go of it. Not on the component:
		// Protect would be inherited by the Services and the Job.
		stsOpts = append(stsOpts, pulumi.Protect(true), pulumi.RetainOnDelete(true))
	}
	sts, err := appsv1.NewStatefulSet(ctx, name+"-statefulset", &appsv1.StatefulSetArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(plan.MinIOName), Namespace: args.Namespace, Labels: meta},
		Spec: &appsv1.StatefulSetSpecArgs{
			Replicas:    pulumi.Int(cfg.Replicas),
			ServiceName: pulumi.String(headless),
			// Distributed MinIO pods wait for each other's drives: ordered
			// start-up would wait forever for pod 0 to become ready.
			PodManagementPolicy: pulumi.String("Parallel"),
			Selector:            &metav1.LabelSelectorArgs{MatchLabels: selector},
			PersistentVolumeClaimRetentionPolicy: &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicyArgs{
				WhenDeleted: pulumi.String("Retain"),
				WhenScaled:  pulumi.String("Retain"),
			},
			VolumeClaimTemplates: corev1.PersistentVolumeClaimTypeArray{corev1.PersistentVolumeClaimTypeArgs{
				Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(minioDataVolume), Labels: selector},
				Spec:     pvc,
			}},
			Template: &corev1.PodTemplateSpecArgs{
				Metadata: &metav1.ObjectMetaArgs{Labels: meta},
				Spec: &corev1.PodSpecArgs{
					AutomountServiceAccountToken: pulumi.Bool(false), // MinIO never talks to the API server
					EnableServiceLinks:           pulumi.Bool(false),
					SecurityContext:              PodSecurity(MinIOUID), // fsGroup makes the PVC writable
					Affinity:                     affinity,
					Containers: corev1.ContainerArray{corev1.ContainerArgs{
						Name:  pulumi.String("minio"),
						Image: pulumi.String(cfg.Image),
						// MinIO keeps its config in the drives (.minio.sys);
						// the only other write is the certs directory, put
						// on the /tmp emptyDir under a read-only root.
						Command: pulumi.StringArray{pulumi.String("minio")},
						Args: pulumi.StringArray{
							pulumi.String("server"),
							pulumi.String("--certs-dir"), pulumi.String(minioTmpPath + "/certs"),
							pulumi.String("--address"), pulumi.Sprintf(":%d", svc.Port),
							pulumi.String(drives),
						},
						Env: corev1.EnvVarArray{
							dpSecretEnv("MINIO_ROOT_USER", plan.MinIOSecretName, plan.MinIOSecretUser),
							dpSecretEnv("MINIO_ROOT_PASSWORD", plan.MinIOSecretName, plan.MinIOSecretPass),
							corev1.EnvVarArgs{Name: pulumi.String("HOME"), Value: pulumi.String(minioTmpPath)},
							// No web console: only Synapse and the bucket Job
							// use MinIO, through the S3 API.
							corev1.EnvVarArgs{Name: pulumi.String("MINIO_BROWSER"), Value: pulumi.String("off")},
						},
						Ports: corev1.ContainerPortArray{corev1.ContainerPortArgs{
							Name:          pulumi.String(svc.PortName),
							ContainerPort: pulumi.Int(svc.Port),
						}},
						LivenessProbe:   healthProbe("/minio/health/live", 10),
						ReadinessProbe:  healthProbe("/minio/health/ready", 5),
						Resources:       dpResources("250m", "512Mi", "2000m", "2Gi"),
						SecurityContext: ContainerSecurity(),
						VolumeMounts: corev1.VolumeMountArray{
							corev1.VolumeMountArgs{Name: pulumi.String(minioDataVolume), MountPath: pulumi.String(minioDataPath)},
							tmpMount,
						},
					}},
					Volumes: corev1.VolumeArray{tmpVol},
				},
			},
		},
	}, stsOpts...)
	if err != nil {
		return nil, err
	}
	comp.StatefulSet = sts

	// One user per S3 client, keys generated into the Secret it reads.
	setup := objectstore.Setup{Alias: mcAlias, PolicyDir: minioSetupDir}
	var grantEnv corev1.EnvVarArray
	deps := []pulumi.Resource{sts, api, secret}
	for _, g := range minioGrants(args.Config) {
		keys, _, _, err := dpCredentialsSecret(ctx, comp, name+"-"+g.User, dpCredentials{
			Secret:        g.secret,
			Namespace:     args.Namespace,
			Labels:        meta,
			Generated:     plan.S3SecretSecretAccessKey,
			GeneratedUser: plan.S3SecretAccessKeyID,
		})
		if err != nil {
			return nil, err
		}
		deps = append(deps, keys)
		setup.Grants = append(setup.Grants, g.Grant)
		if !slices.Contains(setup.Buckets, g.Bucket) {
			setup.Buckets = append(setup.Buckets, g.Bucket)
		}
		grantEnv = append(grantEnv,
			dpSecretEnv(g.AccessKeyEnv, g.secret, plan.S3SecretAccessKeyID),
			dpSecretEnv(g.SecretKeyEnv, g.secret, plan.S3SecretSecretAccessKey))
	}
	job, err := minioSetupJob(ctx, comp, name, args, svc, setup, grantEnv, deps)
	if err != nil {
		return nil, err
	}
	comp.BucketJob = job
	comp.Ready = []pulumi.Resource{sts, job}

	if err := ctx.RegisterResourceOutputs(comp, pulumi.Map{
		"service":      pulumi.String(svc.Name),
		"secretName":   pulumi.String(comp.SecretName),
		"bucket":       pulumi.String(comp.Bucket),
		"rootUser":     comp.RootUser,
		"rootPassword": comp.RootPassword,
	}); err != nil {
		return nil, err
	}
	return comp, nil
}

// minioSetupJob creates the buckets (the media bucket; with backups on
// MinIO, the backup bucket) and one user per S3 client, each limited by an
// IAM policy to its own bucket, with the `mc` script of the objectstore
// package (idempotent: `mc mb --ignore-existing`, policies and users
// created or updated). It is the only pod besides MinIO's that holds the
// root credentials. pulumi-kubernetes awaits the Job's completion, so
// Synapse and Postgres never start against a missing bucket or user. No
// ttlSecondsAfterFinished: a Job the cluster deletes by itself would be
// recreated by the next `up`.
func minioSetupJob(ctx *pulumi.Context, comp pulumi.Resource, name string, args *MinIOArgs, svc plan.Service,
	setup objectstore.Setup, env corev1.EnvVarArray, deps []pulumi.Resource) (*batchv1.Job, error) {
	jobName := plan.MinIOName + minioBucketSuffix
	// Not MinIO's selector labels: the S3 Service must not pick this pod.
	meta := MetaLabels(jobName, "object-storage")
	script, err := setup.Script()
	if err != nil {
		return nil, err
	}
	files, err := setup.Policies()
	if err != nil {
		return nil, err
	}
	files[minioSetupScript] = script
	// Named by its content: a changed setup creates a new ConfigMap
	// before the old one (and the Job that mounts it) goes.
	cm, err := corev1.NewConfigMap(ctx, name+"-setup", &corev1.ConfigMapArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Name:      pulumi.String(contentName(jobName, synapseconfig.ChecksumAll(files))),
			Namespace: args.Namespace,
			Labels:    meta,
		},
		Data: pulumi.ToStringMap(files),
	}, pulumi.Parent(comp))
	if err != nil {
		return nil, err
	}
	tmpVol, tmpMount := dpEmptyDir("tmp", minioTmpPath)
	env = append(corev1.EnvVarArray{
		dpSecretEnv("MINIO_ROOT_USER", plan.MinIOSecretName, plan.MinIOSecretUser),
		dpSecretEnv("MINIO_ROOT_PASSWORD", plan.MinIOSecretName, plan.MinIOSecretPass),
		// No `mc alias set` with the keys as arguments: the alias comes
		// from MC_HOST_<alias>, which the kubelet assembles from the
		// Secret-backed env vars above it. Generated keys are
		// alphanumeric, so they need no URL escaping.
		corev1.EnvVarArgs{
			Name: pulumi.String("MC_HOST_" + mcAlias),
			Value: pulumi.Sprintf("http://$(MINIO_ROOT_USER):$(MINIO_ROOT_PASSWORD)@%s:%d",
				svc.Host(), svc.Port),
		},
		// mc writes its config under $HOME/.mc: on the emptyDir, as the
		// root filesystem is read-only.
		corev1.EnvVarArgs{Name: pulumi.String("HOME"), Value: pulumi.String(minioTmpPath)},
		corev1.EnvVarArgs{Name: pulumi.String("MC_CONFIG_DIR"), Value: pulumi.String(minioTmpPath + "/.mc")},
	}, env...)
	return batchv1.NewJob(ctx, name+"-bucket-job", &batchv1.JobArgs{
		// Auto-named: a changed template replaces the Job (its template
		// is immutable), create-before-delete under a new name.
		Metadata: &metav1.ObjectMetaArgs{Namespace: args.Namespace, Labels: meta},
		Spec: &batchv1.JobSpecArgs{
			BackoffLimit: pulumi.Int(6),
			Template: &corev1.PodTemplateSpecArgs{
				Metadata: &metav1.ObjectMetaArgs{Labels: meta},
				Spec: &corev1.PodSpecArgs{
					RestartPolicy:                pulumi.String("OnFailure"),
					AutomountServiceAccountToken: pulumi.Bool(false),
					EnableServiceLinks:           pulumi.Bool(false),
					SecurityContext:              PodSecurity(MinIOUID),
					Containers: corev1.ContainerArray{corev1.ContainerArgs{
						Name:            pulumi.String("mc"),
						Image:           pulumi.String(args.Config.MinIO.ClientImage),
						Command:         pulumi.StringArray{pulumi.String("sh"), pulumi.String(minioSetupDir + "/" + minioSetupScript)},
						Env:             env,
						Resources:       dpResources("10m", "32Mi", "200m", "128Mi"),
						SecurityContext: ContainerSecurity(),
						VolumeMounts: corev1.VolumeMountArray{tmpMount, corev1.VolumeMountArgs{
							Name: pulumi.String("setup"), MountPath: pulumi.String(minioSetupDir), ReadOnly: pulumi.Bool(true),
						}},
					}},
					Volumes: corev1.VolumeArray{tmpVol, corev1.VolumeArgs{
						Name:      pulumi.String("setup"),
						ConfigMap: &corev1.ConfigMapVolumeSourceArgs{Name: cm.Metadata.Name().Elem()},
					}},
				},
			},
		},
	}, pulumi.Parent(comp), pulumi.DependsOn(append(deps, cm)))
}

// minioGrants are the scoped users MinIO gets: Synapse's media workers on
// the media bucket, and with backups on MinIO, Postgres on the backup
// bucket. Each Secret (named in the plan) holds the user's generated keys
// under plan.S3SecretAccessKeyID and plan.S3SecretSecretAccessKey.
func minioGrants(c *config.Config) []minioGrant {
	grants := []minioGrant{{
		secret: plan.MediaS3SecretName, envPrefix: "MEDIA",
		Grant: objectstore.Grant{User: plan.MinIOMediaUser, Bucket: c.MinIO.Bucket},
	}}
	if c.Postgres.Backup.OnMinIO() {
		grants = append(grants, minioGrant{
			secret: plan.PostgresBackupSecretName, envPrefix: "BACKUP",
			Grant: objectstore.Grant{User: plan.MinIOBackupUser, Bucket: c.Postgres.Backup.Bucket},
		})
	}
	for i := range grants {
		grants[i].AccessKeyEnv = grants[i].envPrefix + "_ACCESS_KEY_ID"
		grants[i].SecretKeyEnv = grants[i].envPrefix + "_SECRET_ACCESS_KEY"
	}
	return grants
}

type minioGrant struct {
	objectstore.Grant
	secret    string // the Secret with the user's keys
	envPrefix string
}
