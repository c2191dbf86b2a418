package components

import (
	"fmt"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"synapse/config"
	"synapse/plan"
	"synapse/synapseconfig"
)

// ComponentSynapse is the app.kubernetes.io/component of every Synapse
// process; app.kubernetes.io/name is the process's own name. Policies that
// mean "any Synapse process" select on it.
const ComponentSynapse = "synapse"

// AnnotationSecretChecksum on a Synapse pod template is a sha256 of the
// Synapse Secret's data: rotating a generated secret (or the Redis password)
// restarts every process, which is the only way they re-read it. A hash of
// 256-bit random values reveals nothing about them, so it is not a secret.
const AnnotationSecretChecksum = "checksum/secrets"

// Names inside the Synapse pod template. Probes and Services refer to ports
// by the plan's names, never by number.
const (
	synapseContainer = "synapse"
	initContainer    = "worker-config"
	volConfig        = "config"
	volSecrets       = "secrets"
	volWorker        = "worker"
	volTmp           = "tmp"
	volMedia         = "media"
	envPodName       = "POD_NAME" // read by synapseconfig.InitScript
	// MediaCacheContainer bounds a media worker's local store (S3 only).
	MediaCacheContainer = "media-cache"
)

// Probe timings. A first start of main migrates the schema (minutes on a big
// database), so its startup probe allows 10 minutes; workers wait only for
// their caches and the replication connection.
const (
	probePeriod              = 10
	mainStartupFailures      = 60 // × 10 s
	workerStartupFailures    = 30 // × 10 s
	readinessFailures        = 3
	livenessPeriod           = 30
	livenessFailures         = 5 // a busy synchrotron must not be killed for one slow /health
	probeTimeout             = 5
	mediaClaimAccessMode     = "ReadWriteOnce"
	tmpSizeLimit             = "1Gi" // uploads are spooled here; bounded so a pod cannot fill the node's disk
	synapseSecretDefaultMode = 0o440 // root:<fsGroup>, readable by the Synapse group only
)

// SynapseSelector is the selector of one Synapse process pool: its pods and
// only its pods (names are unique per process in the plan).
func SynapseSelector(proc plan.Process) pulumi.StringMap {
	return Labels(proc.Name, ComponentSynapse)
}

// synapsePodArgs is everything the single Synapse pod builder reads.
type synapsePodArgs struct {
	Config *config.Config
	Plan   *plan.Plan
	Proc   plan.Process
	Files  synapseconfig.Files
	// SecretChecksum is SynapseMain.SecretChecksum: the hash of the Synapse
	// Secret's data, which also names it.
	SecretChecksum pulumi.StringInput
}

// synapsePod is the pod template of a process and, for the pool that keeps
// media on disk, the claim template of its media volume.
type synapsePod struct {
	Template             *corev1.PodTemplateSpecArgs
	VolumeClaimTemplates corev1.PersistentVolumeClaimTypeArray
}

// buildSynapsePod is the one builder of the Synapse pod spec: main, every
// worker pool and every stream writer run the template it returns.
func buildSynapsePod(a synapsePodArgs) (synapsePod, error) {
	proc := a.Proc
	if len(proc.Ports) == 0 || !proc.HasPort(plan.PortNameHTTP) {
		// The probes need an HTTP listener that serves /health (the
		// metrics listener does not).
		return synapsePod{}, fmt.Errorf("components: process %s has no %q port for its health probes", proc.Name, plan.PortNameHTTP)
	}
	isMain := proc.Role == plan.RoleMain
	keepsMedia := proc.Role == plan.RoleMediaRepository
	if keepsMedia && proc.Kind != plan.StatefulSet {
		return synapsePod{}, fmt.Errorf("components: process %s keeps media on a volume claim template and must be a StatefulSet, not a %s", proc.Name, proc.Kind)
	}
	if _, ok := a.Files[synapseconfig.SharedFile]; !ok {
		return synapsePod{}, fmt.Errorf("components: the rendered Synapse files have no %s", synapseconfig.SharedFile)
	}

	ro := pulumi.Bool(true)
	mounts, volumes := sharedSynapseVolumes(a.Files, a.SecretChecksum)
	var claims corev1.PersistentVolumeClaimTypeArray
	if keepsMedia {
		// One claim per pod: the whole store without S3 (one replica, the
		// config enforces it), a local cache in front of S3 with it.
		claims = corev1.PersistentVolumeClaimTypeArray{mediaClaim(a.Config.MediaStorage)}
	} else {
		volumes = append(volumes, corev1.VolumeArgs{Name: pulumi.String(volMedia), EmptyDir: &corev1.EmptyDirVolumeSourceArgs{}})
	}

	var initContainers corev1.ContainerArray
	if !isMain {
		// Worker names must be unique per process: the init container
		// writes the pool's worker file with the pod's own name.
		mounts = append(mounts, corev1.VolumeMountArgs{Name: pulumi.String(volWorker), MountPath: pulumi.String(synapseconfig.WorkerDir), ReadOnly: ro})
		volumes = append(volumes, corev1.VolumeArgs{Name: pulumi.String(volWorker), EmptyDir: &corev1.EmptyDirVolumeSourceArgs{}})
		initContainers = corev1.ContainerArray{corev1.ContainerArgs{
			Name:    pulumi.String(initContainer),
			Image:   pulumi.String(proc.Image), // has sh and sed, and is already pulled for the main container
			Command: pulumi.ToStringArray(synapseconfig.InitScript(proc)),
			Env: corev1.EnvVarArray{corev1.EnvVarArgs{
				Name: pulumi.String(envPodName),
				ValueFrom: &corev1.EnvVarSourceArgs{FieldRef: &corev1.ObjectFieldSelectorArgs{
					FieldPath: pulumi.String("metadata.name"),
				}},
			}},
			VolumeMounts: corev1.VolumeMountArray{
				corev1.VolumeMountArgs{Name: pulumi.String(volConfig), MountPath: pulumi.String(synapseconfig.ConfigDir), ReadOnly: ro},
				corev1.VolumeMountArgs{Name: pulumi.String(volWorker), MountPath: pulumi.String(synapseconfig.WorkerDir)},
			},
			Resources:       initResources(),
			SecurityContext: ContainerSecurity(),
		}}
	}

	startupFailures := workerStartupFailures
	if isMain {
		startupFailures = mainStartupFailures
	}
	annotations := pulumi.StringMap{AnnotationChecksum: pulumi.String(synapseconfig.Checksum(a.Files, proc))}
	if a.SecretChecksum != nil {
		annotations[AnnotationSecretChecksum] = a.SecretChecksum
	}

	containers := corev1.ContainerArray{corev1.ContainerArgs{
		Name:  pulumi.String(synapseContainer),
		Image: pulumi.String(proc.Image),
		// synapseconfig.Args starts with "-m <app>": the image's
		// /start.py entrypoint would generate its own config.
		Command:         pulumi.ToStringArray([]string{"python"}),
		Args:            pulumi.ToStringArray(synapseconfig.Args(proc)),
		Ports:           containerPorts(proc),
		Env:             synapseEnv(a.Config, proc),
		VolumeMounts:    mounts,
		Resources:       resources(proc.Resources),
		StartupProbe:    healthProbe(probePeriod, startupFailures),
		ReadinessProbe:  healthProbe(probePeriod, readinessFailures),
		LivenessProbe:   healthProbe(livenessPeriod, livenessFailures),
		SecurityContext: ContainerSecurity(),
	}}
	if keepsMedia && a.Config.MinIO.Enabled && a.Config.MediaCache.Enabled {
		// With S3 the local store is a cache; without it, it is the only
		// copy of the media and nothing may ever evict from it.
		containers = append(containers, mediaCacheContainer(a.Config, proc))
	}

	tmpl := &corev1.PodTemplateSpecArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Labels:      MetaLabels(proc.Name, ComponentSynapse),
			Annotations: annotations,
		},
		Spec: &corev1.PodSpecArgs{
			// Synapse talks to no Kubernetes API; a token would only be
			// something to steal.
			AutomountServiceAccountToken: pulumi.Bool(false),
			// Dozens of Services would otherwise become env variables of
			// every process.
			EnableServiceLinks:        pulumi.Bool(false),
			SecurityContext:           PodSecurity(SynapseUID),
			InitContainers:            initContainers,
			Containers:                containers,
			Volumes:                   volumes,
			Affinity:                  affinity(proc),
			TopologySpreadConstraints: zoneSpread(proc),
		},
	}
	return synapsePod{Template: tmpl, VolumeClaimTemplates: claims}, nil
}

// sharedSynapseVolumes are what every Synapse container reads or writes:
// the ConfigMap, the Secret, /tmp and a media_store_path. The media volume
// itself is left to the caller (a claim for the media pool, an emptyDir
// elsewhere).
func sharedSynapseVolumes(files synapseconfig.Files, secretChecksum pulumi.StringInput) (corev1.VolumeMountArray, corev1.VolumeArray) {
	ro := pulumi.Bool(true)
	mounts := corev1.VolumeMountArray{
		corev1.VolumeMountArgs{Name: pulumi.String(volConfig), MountPath: pulumi.String(synapseconfig.ConfigDir), ReadOnly: ro},
		corev1.VolumeMountArgs{Name: pulumi.String(volSecrets), MountPath: pulumi.String(synapseconfig.SecretsDir), ReadOnly: ro},
		corev1.VolumeMountArgs{Name: pulumi.String(volTmp), MountPath: pulumi.String(synapseconfig.TmpDir)},
		// Every process gets a writable media_store_path: Synapse checks the
		// shared homeserver.yaml's path at start-up even where it serves no
		// media. Only the media pool keeps what it writes there.
		corev1.VolumeMountArgs{Name: pulumi.String(volMedia), MountPath: pulumi.String(synapseconfig.MediaDir)},
	}
	volumes := corev1.VolumeArray{
		corev1.VolumeArgs{Name: pulumi.String(volConfig), ConfigMap: &corev1.ConfigMapVolumeSourceArgs{
			Name: pulumi.String(synapseConfigMapName(files)),
		}},
		corev1.VolumeArgs{Name: pulumi.String(volSecrets), Secret: &corev1.SecretVolumeSourceArgs{
			SecretName:  synapseSecretName(secretChecksum),
			DefaultMode: pulumi.Int(synapseSecretDefaultMode),
		}},
		corev1.VolumeArgs{Name: pulumi.String(volTmp), EmptyDir: &corev1.EmptyDirVolumeSourceArgs{SizeLimit: quantity(tmpSizeLimit)}},
	}
	return mounts, volumes
}

func containerPorts(proc plan.Process) corev1.ContainerPortArray {
	out := make(corev1.ContainerPortArray, 0, len(proc.Ports))
	for _, p := range proc.Ports {
		out = append(out, corev1.ContainerPortArgs{
			Name: pulumi.String(p.Name), ContainerPort: pulumi.Int(p.Port), Protocol: pulumi.String("TCP"),
		})
	}
	return out
}

// synapseEnv passes the data plane credentials by reference only: no
// secret value is ever an env `value` in a pod spec.
func synapseEnv(c *config.Config, proc plan.Process) corev1.EnvVarArray {
	env := corev1.EnvVarArray{secretEnv(synapseconfig.EnvPostgresPassword, plan.PostgresSecretName, plan.PostgresSecretPass)}
	if c.MinIO.Enabled && proc.Role == plan.RoleMediaRepository {
		env = append(env,
			// The media user's keys, limited to the media bucket; never
			// MinIO's root credentials.
			secretEnv(synapseconfig.EnvS3AccessKey, plan.MediaS3SecretName, plan.S3SecretAccessKeyID),
			secretEnv(synapseconfig.EnvS3SecretKey, plan.MediaS3SecretName, plan.S3SecretSecretAccessKey))
	}
	return env
}

// mediaCacheContainer keeps the media worker's own volume a bounded cache
// of S3 (synapseconfig.MediaCacheScript): it runs in the pod because the
// volume is the pod's ReadWriteOnce claim, which no CronJob could mount.
// It reads homeserver.yaml for the S3 provider (and evicts nothing when
// there is none) and needs no database and no Kubernetes API.
func mediaCacheContainer(c *config.Config, proc plan.Process) corev1.ContainerArgs {
	ro := pulumi.Bool(true)
	return corev1.ContainerArgs{
		Name:    pulumi.String(MediaCacheContainer),
		Image:   pulumi.String(proc.Image), // the media image: Python, PyYAML and boto3
		Command: pulumi.ToStringArray([]string{"python"}),
		Args:    pulumi.ToStringArray(synapseconfig.MediaCacheArgs(c.MediaCache)),
		Env:     mediaCacheEnv(c, proc),
		VolumeMounts: corev1.VolumeMountArray{
			corev1.VolumeMountArgs{Name: pulumi.String(volConfig), MountPath: pulumi.String(synapseconfig.ConfigDir), ReadOnly: ro},
			corev1.VolumeMountArgs{Name: pulumi.String(volMedia), MountPath: pulumi.String(synapseconfig.MediaDir)},
		},
		// A directory walk every ten minutes, and boto3.
		Resources: resources(config.Resources{
			Requests: config.ResourceList{CPU: "10m", Memory: "64Mi"},
			Limits:   config.ResourceList{CPU: "200m", Memory: "256Mi"},
		}),
		SecurityContext: ContainerSecurity(),
	}
}

// mediaCacheEnv is the media worker's environment without the database
// password: the S3 credentials, the same references the provider reads.
func mediaCacheEnv(c *config.Config, proc plan.Process) corev1.EnvVarArray {
	var out corev1.EnvVarArray
	for _, e := range synapseEnv(c, proc) {
		if v, ok := e.(corev1.EnvVarArgs); ok && v.Name == pulumi.String(synapseconfig.EnvPostgresPassword) {
			continue
		}
		out = append(out, e)
	}
	return out
}

func secretEnv(name, secret, key string) corev1.EnvVarArgs {
	return corev1.EnvVarArgs{Name: pulumi.String(name), ValueFrom: &corev1.EnvVarSourceArgs{
		SecretKeyRef: &corev1.SecretKeySelectorArgs{Name: pulumi.String(secret), Key: pulumi.String(key)},
	}}
}

// healthProbe: GET /health on the "http" listener, which every process has
// (its resources may be just "health"); the metrics listener serves no
// /health.
func healthProbe(period, failures int) *corev1.ProbeArgs {
	return &corev1.ProbeArgs{
		HttpGet: &corev1.HTTPGetActionArgs{
			Path: pulumi.String(plan.HealthPath),
			Port: pulumi.String(plan.PortNameHTTP),
		},
		PeriodSeconds:    pulumi.Int(period),
		TimeoutSeconds:   pulumi.Int(probeTimeout),
		FailureThreshold: pulumi.Int(failures),
	}
}

func resources(r config.Resources) *corev1.ResourceRequirementsArgs {
	return &corev1.ResourceRequirementsArgs{
		Requests: pulumi.StringMap{"cpu": quantity(r.Requests.CPU), "memory": quantity(r.Requests.Memory)},
		Limits:   pulumi.StringMap{"cpu": quantity(r.Limits.CPU), "memory": quantity(r.Limits.Memory)},
	}
}

// initResources: one sed call. Set so that a namespace ResourceQuota (which
// requires them on every container) does not reject the pod.
func initResources() *corev1.ResourceRequirementsArgs {
	return resources(config.Resources{
		Requests: config.ResourceList{CPU: "10m", Memory: "16Mi"},
		Limits:   config.ResourceList{CPU: "100m", Memory: "64Mi"},
	})
}

func mediaClaim(s config.Storage) corev1.PersistentVolumeClaimTypeArgs {
	spec := &corev1.PersistentVolumeClaimSpecArgs{
		AccessModes: pulumi.ToStringArray([]string{mediaClaimAccessMode}),
		Resources: &corev1.VolumeResourceRequirementsArgs{
			Requests: pulumi.StringMap{"storage": quantity(s.Size)},
		},
	}
	if s.StorageClass != "" {
		spec.StorageClassName = pulumi.String(s.StorageClass)
	}
	return corev1.PersistentVolumeClaimTypeArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(volMedia)},
		Spec:     spec,
	}
}

const (
	hostnameKey = "kubernetes.io/hostname"
	zoneKey     = "topology.kubernetes.io/zone"
)

// requiredAntiAffinity says whether a pool's pods must each run on a node of
// their own.
//
// The seed asks for strong anti-affinity on synchrotrons: one node failing
// should take out as few sync streams as possible. A required rule caps the
// pool at one pod per node, and we do not know the cluster's node count, so
// it is only used where the operator fixed the count (no HPA): a Pending
// pod then fails `pulumi up` (it awaits the StatefulSet), which is loud and
// fixable. An HPA would silently create pods that can never schedule, so
// autoscaled pools (and every other pool) get the preferred rule and a zone
// spread instead. Dev (the laptop tier) runs one synchrotron, so the
// required rule holds on its single node.
func requiredAntiAffinity(proc plan.Process) bool {
	return proc.Role == plan.RoleSynchrotron && proc.Autoscale == nil
}

func affinity(proc plan.Process) *corev1.AffinityArgs {
	if requiredAntiAffinity(proc) {
		return &corev1.AffinityArgs{PodAntiAffinity: &corev1.PodAntiAffinityArgs{
			RequiredDuringSchedulingIgnoredDuringExecution: corev1.PodAffinityTermArray{nodeTerm(SynapseSelector(proc))},
		}}
	}
	return preferSpreadOverNodes(SynapseSelector(proc))
}

// zoneSpread spreads pools of more than one pod over zones when the nodes
// have zones, and never blocks scheduling (ScheduleAnyway): single-zone and
// single-node clusters are normal.
func zoneSpread(proc plan.Process) corev1.TopologySpreadConstraintArray {
	if proc.MaxReplicas() < 2 {
		return nil
	}
	return corev1.TopologySpreadConstraintArray{corev1.TopologySpreadConstraintArgs{
		MaxSkew:           pulumi.Int(1),
		TopologyKey:       pulumi.String(zoneKey),
		WhenUnsatisfiable: pulumi.String("ScheduleAnyway"),
		LabelSelector:     &metav1.LabelSelectorArgs{MatchLabels: SynapseSelector(proc)},
	}}
}
