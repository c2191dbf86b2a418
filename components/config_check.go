package components

import (
	"fmt"

	batchv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/batch/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"synapse/config"
	"synapse/plan"
	"synapse/synapseconfig"
)

// ConfigCheckJobName labels the Job that runs Synapse's own config check
// (its name is generated: see newConfigCheckJob).
const ConfigCheckJobName = "synapse-config-check"

// componentConfigCheck labels the check's pods. They are not labelled as
// Synapse processes: they serve nothing, connect to nothing, and no Service
// or NetworkPolicy peer selects them.
const componentConfigCheck = "config-check"

// configCheckArgs is what the check reads.
type configCheckArgs struct {
	Namespace      pulumi.StringInput
	Config         *config.Config
	Plan           *plan.Plan
	Files          synapseconfig.Files
	SecretChecksum pulumi.StringInput
	DependsOn      []pulumi.Resource
}

// newConfigCheckJob runs `python -m synapse.config` on the rendered files of
// every process, with the image that process runs (the media image loads
// the S3 provider module while parsing), before main is created or updated:
// a config Synapse refuses fails `pulumi up` here and never reaches a
// running process (ess-helm does the same). One init container per process
// (run one after another, so the pod asks for one check's resources), and a
// last container that only reports success.
//
// The pod template carries a checksum of every file and of the Secret, so
// any change replaces the Job (a Job's template is immutable) and
// pulumi-kubernetes awaits its completion again. The Job is auto-named
// (ConfigCheckJobName plus a random suffix, nothing refers to it by name),
// so that replace is create-before-delete whatever changed.
func newConfigCheckJob(ctx *pulumi.Context, name string, a configCheckArgs, parent pulumi.Resource) (*batchv1.Job, error) {
	mounts, volumes := sharedSynapseVolumes(a.Files, a.SecretChecksum)
	volumes = append(volumes, corev1.VolumeArgs{Name: pulumi.String(volMedia), EmptyDir: &corev1.EmptyDirVolumeSourceArgs{}})
	check := func(proc plan.Process) corev1.ContainerArgs {
		return corev1.ContainerArgs{
			Name:            pulumi.String("check-" + string(proc.Role)),
			Image:           pulumi.String(proc.Image),
			Command:         pulumi.ToStringArray([]string{"python"}),
			Args:            pulumi.ToStringArray(synapseconfig.CheckArgs(proc)),
			VolumeMounts:    mounts,
			Resources:       checkResources(),
			SecurityContext: ContainerSecurity(),
		}
	}
	var inits corev1.ContainerArray
	for _, proc := range a.Plan.Processes {
		inits = append(inits, check(proc))
	}
	main := a.Plan.Main()
	annotations := pulumi.StringMap{AnnotationChecksum: pulumi.String(synapseconfig.ChecksumAll(a.Files))}
	if a.SecretChecksum != nil {
		annotations[AnnotationSecretChecksum] = a.SecretChecksum
	}
	job, err := batchv1.NewJob(ctx, name+"-config-check", &batchv1.JobArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Namespace: a.Namespace,
			Labels:    MetaLabels(ConfigCheckJobName, componentConfigCheck),
		},
		Spec: &batchv1.JobSpecArgs{
			// A config error is deterministic: retrying only delays the verdict.
			BackoffLimit:          pulumi.Int(0),
			ActiveDeadlineSeconds: pulumi.Int(600),
			Template: &corev1.PodTemplateSpecArgs{
				Metadata: &metav1.ObjectMetaArgs{
					Labels:      Labels(ConfigCheckJobName, componentConfigCheck),
					Annotations: annotations,
				},
				Spec: &corev1.PodSpecArgs{
					RestartPolicy:                pulumi.String("Never"),
					AutomountServiceAccountToken: pulumi.Bool(false),
					EnableServiceLinks:           pulumi.Bool(false),
					SecurityContext:              PodSecurity(SynapseUID),
					InitContainers:               inits,
					Containers: corev1.ContainerArray{corev1.ContainerArgs{
						Name:            pulumi.String("done"),
						Image:           pulumi.String(main.Image),
						Command:         pulumi.ToStringArray([]string{"python", "-c", fmt.Sprintf("print('Synapse accepts the config of all %d processes')", len(a.Plan.Processes))}),
						Resources:       checkResources(),
						SecurityContext: ContainerSecurity(),
					}},
					Volumes: volumes,
				},
			},
		},
	}, pulumi.Parent(parent), pulumi.DependsOn(a.DependsOn))
	if err != nil {
		return nil, fmt.Errorf("components: config check job: %w", err)
	}
	return job, nil
}

// checkResources: loading Synapse's config imports most of Synapse.
func checkResources() *corev1.ResourceRequirementsArgs {
	return resources(config.Resources{
		Requests: config.ResourceList{CPU: "50m", Memory: "128Mi"},
		Limits:   config.ResourceList{CPU: "1000m", Memory: "512Mi"},
	})
}
