package components

import (
	"fmt"

	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"synapse/config"
	"synapse/plan"
	"synapse/synapseconfig"
)

// RTCAuthorizationType is the token of the MatrixRTC authorization
// service component.
const RTCAuthorizationType = "synapse:index:RTCAuthorization"

// RTCAuthorizationUID: lk-jwt-service's image has no user of its own
// (FROM scratch); ess-helm runs it as 10033.
const RTCAuthorizationUID = 10033

// RTCAuthorizationArgs configure the authorization service.
type RTCAuthorizationArgs struct {
	Namespace pulumi.StringInput
	Config    *config.Config
	Plan      *plan.Plan
	// SecretName and SecretChecksum are LiveKit's (the service signs
	// LiveKit tokens with LiveKit's API secret).
	SecretName     pulumi.StringInput
	SecretChecksum pulumi.StringInput
}

// RTCAuthorization is element-hq/lk-jwt-service: it checks a Matrix
// OpenID token against the user's homeserver and answers with a LiveKit
// token for the call's room (creating the room for this server's users).
// It keeps no data: one replica, replaced surge-first.
type RTCAuthorization struct {
	pulumi.ResourceState

	Deployment *appsv1.Deployment
	Service    plan.Service
	// Ready: the Deployment and its Service. DependsOn these, never on the
	// component (pulumi/pulumi#7833).
	Ready []pulumi.Resource
}

// RTCAuthorizationSelector selects the service's pods.
func RTCAuthorizationSelector() pulumi.StringMap {
	return Labels(plan.RTCAuthorizationName, ComponentRTCAuth)
}

// NewRTCAuthorization creates the authorization service (only with
// rtc.enabled; give it DependsOn LiveKit's Ready: it creates rooms there).
func NewRTCAuthorization(ctx *pulumi.Context, name string, args *RTCAuthorizationArgs, opts ...pulumi.ResourceOption) (*RTCAuthorization, error) {
	if args == nil || args.Config == nil || args.Plan == nil || args.Namespace == nil || args.SecretName == nil || args.SecretChecksum == nil {
		return nil, fmt.Errorf("components: RTCAuthorization %s: Namespace, Config, Plan and LiveKit's Secret are required", name)
	}
	if !args.Config.RTC.Enabled {
		return nil, fmt.Errorf("components: RTCAuthorization %s: rtc.enabled is false; do not create the component", name)
	}
	c := &RTCAuthorization{Service: args.Plan.RTCAuthorization()}
	if err := ctx.RegisterComponentResource(RTCAuthorizationType, name, c, opts...); err != nil {
		return nil, err
	}
	meta := &metav1.ObjectMetaArgs{
		Name: pulumi.String(plan.RTCAuthorizationName), Namespace: args.Namespace,
		Labels: MetaLabels(plan.RTCAuthorizationName, ComponentRTCAuth),
	}
	var err error
	c.Deployment, err = appsv1.NewDeployment(ctx, name+"-deployment", &appsv1.DeploymentArgs{
		Metadata: meta,
		Spec:     rtcAuthorizationDeploymentSpec(args),
	}, pulumi.Parent(c))
	if err != nil {
		return nil, err
	}
	svc, err := corev1.NewService(ctx, name+"-service", &corev1.ServiceArgs{
		Metadata: meta,
		Spec: &corev1.ServiceSpecArgs{
			Type:     pulumi.String("ClusterIP"),
			Selector: RTCAuthorizationSelector(),
			Ports: corev1.ServicePortArray{corev1.ServicePortArgs{
				Name: pulumi.String(c.Service.PortName), Port: pulumi.Int(c.Service.Port),
				TargetPort: pulumi.String(c.Service.PortName), Protocol: pulumi.String("TCP"),
			}},
		},
	}, pulumi.Parent(c))
	if err != nil {
		return nil, err
	}
	c.Ready = []pulumi.Resource{c.Deployment, svc}
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{"service": pulumi.String(c.Service.Name)}); err != nil {
		return nil, err
	}
	return c, nil
}

// rtcAuthorizationDeploymentSpec: the environment of
// synapseconfig.RTCAuthorizationEnv, the API secret from LiveKit's Secret
// as a file (LIVEKIT_SECRET_FROM_FILE), /healthz for the probes.
func rtcAuthorizationDeploymentSpec(args *RTCAuthorizationArgs) *appsv1.DeploymentSpecArgs {
	svc := args.Plan.RTCAuthorization()
	var env corev1.EnvVarArray
	for _, e := range synapseconfig.RTCAuthorizationEnv(args.Config, args.Plan) {
		env = append(env, corev1.EnvVarArgs{Name: pulumi.String(e.Name), Value: pulumi.String(e.Value)})
	}
	readiness, liveness := httpProbes("/healthz", svc.PortName)
	selector := RTCAuthorizationSelector()
	return &appsv1.DeploymentSpecArgs{
		Replicas: pulumi.Int(1),
		Selector: &metav1.LabelSelectorArgs{MatchLabels: selector},
		Strategy: surgeOnlyRollout(),
		Template: &corev1.PodTemplateSpecArgs{
			Metadata: &metav1.ObjectMetaArgs{
				Labels:      MetaLabels(plan.RTCAuthorizationName, ComponentRTCAuth),
				Annotations: pulumi.StringMap{AnnotationSecretChecksum: args.SecretChecksum},
			},
			Spec: &corev1.PodSpecArgs{
				AutomountServiceAccountToken: pulumi.Bool(false),
				EnableServiceLinks:           pulumi.Bool(false),
				SecurityContext:              PodSecurity(RTCAuthorizationUID),
				Containers: corev1.ContainerArray{corev1.ContainerArgs{
					Name:  pulumi.String(plan.RTCAuthorizationName),
					Image: pulumi.String(args.Config.RTC.Authorization.Image),
					Env:   env,
					Ports: corev1.ContainerPortArray{corev1.ContainerPortArgs{
						Name: pulumi.String(svc.PortName), ContainerPort: pulumi.Int(svc.Port), Protocol: pulumi.String("TCP"),
					}},
					VolumeMounts: corev1.VolumeMountArray{
						corev1.VolumeMountArgs{Name: pulumi.String("secrets"), MountPath: pulumi.String(synapseconfig.RTCSecretsDir), ReadOnly: pulumi.Bool(true)},
						corev1.VolumeMountArgs{Name: pulumi.String("tmp"), MountPath: pulumi.String("/tmp")},
					},
					ReadinessProbe:  readiness,
					LivenessProbe:   liveness,
					Resources:       resources(rtcAuthorizationResources),
					SecurityContext: ContainerSecurity(),
				}},
				Volumes: corev1.VolumeArray{
					corev1.VolumeArgs{Name: pulumi.String("secrets"), Secret: &corev1.SecretVolumeSourceArgs{
						SecretName: args.SecretName, DefaultMode: pulumi.Int(0o440),
						// Only its own form of the secret.
						Items: corev1.KeyToPathArray{corev1.KeyToPathArgs{
							Key: pulumi.String(synapseconfig.LiveKitAPISecretFile), Path: pulumi.String(synapseconfig.LiveKitAPISecretFile),
						}},
					}},
					corev1.VolumeArgs{Name: pulumi.String("tmp"), EmptyDir: &corev1.EmptyDirVolumeSourceArgs{}},
				},
				Affinity: preferSpreadOverNodes(selector),
			},
		},
	}
}

// rtcAuthorizationResources: a small HTTP service (ess-helm requests
// 50m/50Mi, limits memory to 200Mi).
var rtcAuthorizationResources = config.Resources{
	Requests: config.ResourceList{CPU: "50m", Memory: "64Mi"},
	Limits:   config.ResourceList{CPU: "500m", Memory: "256Mi"},
}
