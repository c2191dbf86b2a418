// Package components holds the Pulumi ComponentResources of the stack, one
// per file. Every name, port and replica count comes from the plan.
package components

import (
	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	policyv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/policy/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Label keys shared by every workload, Service selector and NetworkPolicy.
const (
	LabelName      = "app.kubernetes.io/name"
	LabelComponent = "app.kubernetes.io/component"
	LabelPartOf    = "app.kubernetes.io/part-of"
	LabelManagedBy = "app.kubernetes.io/managed-by"
	PartOf         = "matrix-synapse"

	// AnnotationChecksum on a pod template is a hash of what the pods
	// read: reviewable in a preview, and it rolls them when that changes.
	AnnotationChecksum = "checksum/config"
)

// quantity is a Kubernetes quantity in the canonical form the API server
// stores and returns ("1", not "1000m"; "1Gi", not "1024Mi"):
// pulumi-kubernetes diffs against that form, so any other spelling shows
// as a false diff in every preview with unknown values.
func quantity(q string) pulumi.String { return pulumi.String(canonicalQuantity(q)) }

// canonicalQuantity is quantity as a plain string. The config package has
// validated every quantity; one that does not parse is passed through for
// the API server to refuse.
func canonicalQuantity(q string) string {
	v, err := resource.ParseQuantity(q)
	if err != nil {
		return q
	}
	return v.String()
}

// contentHashLength is how much of a content hash goes into a name: 40
// bits, collisions between two versions of one object are not a concern.
const contentHashLength = 10

// contentName names an object by its content: base + "-" + the start of
// checksum (hex). pulumi-kubernetes replaces a ConfigMap or Secret whose
// data changes (it treats them as immutable), and with a fixed name that
// replace deletes the old object first: a pod restarting in that window
// cannot mount it. A new name makes the replace create-before-delete, and
// the pod templates that name it roll onto the new object.
func contentName(base, checksum string) string {
	if len(checksum) > contentHashLength {
		checksum = checksum[:contentHashLength]
	}
	return base + "-" + checksum
}

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

// newPDB lets at most one of the selected pods be evicted at a time.
// maxUnavailable holds for any replica count (an HPA's included), where
// minAvailable would have to follow it; a crash-looping pod never blocks a
// node drain.
func newPDB(ctx *pulumi.Context, resourceName string, meta *metav1.ObjectMetaArgs, selector *metav1.LabelSelectorArgs,
	parent pulumi.Resource) (*policyv1.PodDisruptionBudget, error) {
	return policyv1.NewPodDisruptionBudget(ctx, resourceName, &policyv1.PodDisruptionBudgetArgs{
		Metadata: meta,
		Spec: &policyv1.PodDisruptionBudgetSpecArgs{
			MaxUnavailable:             pulumi.Int(1),
			Selector:                   selector,
			UnhealthyPodEvictionPolicy: pulumi.String("AlwaysAllow"),
		},
	}, pulumi.Parent(parent))
}

// nodeTerm is the pods of selector, on one node.
func nodeTerm(selector pulumi.StringMap) corev1.PodAffinityTermArgs {
	return corev1.PodAffinityTermArgs{
		TopologyKey:   pulumi.String(hostnameKey),
		LabelSelector: &metav1.LabelSelectorArgs{MatchLabels: selector},
	}
}

// preferSpreadOverNodes asks the scheduler to put the pods of selector on
// different nodes where it can (never blocking: a single-node cluster is
// normal), so that one node failing takes out as few of them as possible.
func preferSpreadOverNodes(selector pulumi.StringMap) *corev1.AffinityArgs {
	return &corev1.AffinityArgs{PodAntiAffinity: &corev1.PodAntiAffinityArgs{
		PreferredDuringSchedulingIgnoredDuringExecution: corev1.WeightedPodAffinityTermArray{
			corev1.WeightedPodAffinityTermArgs{Weight: pulumi.Int(100), PodAffinityTerm: nodeTerm(selector)},
		},
	}}
}

// surgeOnlyRollout replaces a Deployment's pods one at a time, each old
// pod going only once its successor is ready: never a replica down.
func surgeOnlyRollout() *appsv1.DeploymentStrategyArgs {
	return &appsv1.DeploymentStrategyArgs{
		Type: pulumi.String("RollingUpdate"),
		RollingUpdate: &appsv1.RollingUpdateDeploymentArgs{
			MaxSurge: pulumi.Int(1), MaxUnavailable: pulumi.Int(0),
		},
	}
}
