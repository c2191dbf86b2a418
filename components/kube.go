// Package components holds the Pulumi ComponentResources of the stack, one
// per file. Every name, port and replica count comes from the plan.
package components

import (
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Label keys shared by every workload, Service selector and NetworkPolicy.
const (
	LabelName      = "app.kubernetes.io/name"
	LabelComponent = "app.kubernetes.io/component"
	LabelPartOf    = "app.kubernetes.io/part-of"
	LabelManagedBy = "app.kubernetes.io/managed-by"
	PartOf         = "matrix-synapse"

	// AnnotationChecksum on a pod template rolls the pods when what they
	// read changes (a ConfigMap with a fixed name is updated in place).
	AnnotationChecksum = "checksum/config"
)

// Labels are the selector labels of one workload (name = its component).
func Labels(name, component string) pulumi.StringMap {
	return pulumi.StringMap{
		LabelName:      pulumi.String(name),
		LabelComponent: pulumi.String(component),
		LabelPartOf:    pulumi.String(PartOf),
	}
}

// MetaLabels are Labels plus the labels that must not be in selectors.
func MetaLabels(name, component string) pulumi.StringMap {
	l := Labels(name, component)
	l[LabelManagedBy] = pulumi.String("pulumi")
	return l
}

// PodSecurity is the pod-level half of the `restricted` Pod Security
// Standard: non-root with a fixed uid/gid and the runtime's seccomp profile.
func PodSecurity(uid int) *corev1.PodSecurityContextArgs {
	return &corev1.PodSecurityContextArgs{
		RunAsNonRoot:   pulumi.Bool(true),
		RunAsUser:      pulumi.Int(uid),
		RunAsGroup:     pulumi.Int(uid),
		FsGroup:        pulumi.Int(uid),
		SeccompProfile: &corev1.SeccompProfileArgs{Type: pulumi.String("RuntimeDefault")},
	}
}

// ContainerSecurity is the container-level half of `restricted`, with a
// read-only root filesystem (writes go to emptyDirs).
func ContainerSecurity() *corev1.SecurityContextArgs {
	return &corev1.SecurityContextArgs{
		AllowPrivilegeEscalation: pulumi.Bool(false),
		ReadOnlyRootFilesystem:   pulumi.Bool(true),
		RunAsNonRoot:             pulumi.Bool(true),
		Capabilities:             &corev1.CapabilitiesArgs{Drop: pulumi.StringArray{pulumi.String("ALL")}},
		SeccompProfile:           &corev1.SeccompProfileArgs{Type: pulumi.String("RuntimeDefault")},
	}
}

// UIDs of the images' own users.
const (
	SynapseUID = 991 // the Synapse image's user (README: "Non-root user (991:991)")
	RedisUID   = 999 // official redis image
	MinIOUID   = 1000
	HAProxyUID = 99 // official haproxy image ("haproxy" user)
)
