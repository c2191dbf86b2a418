package components

import (
	"fmt"

	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"synapse/config"
	"synapse/plan"
)

// ElementAdminType is the token of the Element Admin component.
const ElementAdminType = "synapse:index:ElementAdmin"

// Names of Element Admin's objects and its port.
const (
	ElementAdminName        = plan.ElementAdminName
	ComponentElementAdmin   = "admin-client"
	ElementAdminPortName    = "http"
	ElementAdminServicePort = plan.WebAppServicePort
)

// Facts of the element-admin image (github.com/element-hq/element-admin,
// Dockerfile and docker/): it is ghcr.io/nginx/nginx-unprivileged, whose
// nginx runs as its own user, uid/gid 101, and listens on 8080 (EXPOSE
// 8080). The files it serves are world-readable, so uid 101 is enough;
// ess-helm picks 10104 only to give each of its components a uid of its own.
// Its one setting is the SERVER_NAME env, which the entrypoint's
// replace-config.sh bakes into /tmp/index.runtime.html; configure-listen.sh
// writes /tmp/listen.conf, and nginx-unprivileged keeps its pid file and
// temp directories in /tmp. So /tmp is the only writable path on a
// read-only root (as ess-helm mounts it: a small memory-backed emptyDir).
// GET /health answers 200 (docker/default.conf); ess-helm probes it.
const (
	ElementAdminUID        = 101
	ElementAdminHealthPath = plan.ElementAdminHealthPath
	elementAdminPort       = 8080
	elementAdminTmpLimit   = "10Mi"
)

// ElementAdminArgs configure Element Admin.
type ElementAdminArgs struct {
	Namespace pulumi.StringInput
	Config    *config.Config
}

// ElementAdmin is the admin console: a single-page app served by the
// image's nginx, a Service and, with ingress.enabled, an Ingress on
// admin.host. The browser signs the administrator in through MAS (dynamic
// client registration, urn:mas:admin and urn:synapse:admin:* scopes) and
// calls MAS and Synapse itself: these pods make no connection.
type ElementAdmin struct {
	pulumi.ResourceState

	Deployment *appsv1.Deployment
	Service    *corev1.Service
	Ingress    *networkingv1.Ingress
}

// ElementAdminSelector selects Element Admin's pods.
func ElementAdminSelector() pulumi.StringMap {
	return Labels(ElementAdminName, ComponentElementAdmin)
}

// NewElementAdmin creates Element Admin (call it only with admin.enabled,
// which config validation allows only with mas.enabled).
func NewElementAdmin(ctx *pulumi.Context, name string, args *ElementAdminArgs, opts ...pulumi.ResourceOption) (*ElementAdmin, error) {
	if args == nil || args.Config == nil || args.Namespace == nil {
		return nil, fmt.Errorf("components: ElementAdmin %s: Namespace and Config are required", name)
	}
	cfg := args.Config
	if !cfg.Admin.Console || !cfg.MAS.Enabled {
		return nil, fmt.Errorf("components: ElementAdmin %s: needs admin.enabled and mas.enabled; do not create the component", name)
	}
	c := &ElementAdmin{}
	if err := ctx.RegisterComponentResource(ElementAdminType, name, c, opts...); err != nil {
		return nil, err
	}
	meta := func() *metav1.ObjectMetaArgs {
		return &metav1.ObjectMetaArgs{Name: pulumi.String(ElementAdminName), Namespace: args.Namespace,
			Labels: MetaLabels(ElementAdminName, ComponentElementAdmin)}
	}
	replicas := plan.ElementAdminReplicas(cfg)
	var err error
	c.Deployment, err = appsv1.NewDeployment(ctx, name+"-deployment", &appsv1.DeploymentArgs{
		Metadata: meta(),
		Spec:     elementAdminDeploymentSpec(cfg, replicas),
	}, pulumi.Parent(c))
	if err != nil {
		return nil, err
	}
	c.Service, c.Ingress, err = newWebFront(ctx, name, c, webFront{
		Namespace: args.Namespace, Config: cfg, Name: ElementAdminName, Component: ComponentElementAdmin,
		PortName: ElementAdminPortName, ServicePort: ElementAdminServicePort, Replicas: replicas,
		Host: cfg.Admin.Host, TLSSecret: cfg.Admin.TLSSecretName, Deployment: c.Deployment,
	})
	if err != nil {
		return nil, err
	}
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{"host": pulumi.String(cfg.Admin.Host)}); err != nil {
		return nil, err
	}
	return c, nil
}

// elementAdminDeploymentSpec runs the image's nginx as uid 101 on a
// read-only root with /tmp on an emptyDir, a surge-only rolling update.
// No config file, so no checksum annotation: SERVER_NAME is part of the
// pod template, and changing it rolls the pods by itself.
func elementAdminDeploymentSpec(cfg *config.Config, replicas int) *appsv1.DeploymentSpecArgs {
	selector := ElementAdminSelector()
	readiness, liveness := httpProbes(ElementAdminHealthPath, ElementAdminPortName)
	return &appsv1.DeploymentSpecArgs{
		Replicas: pulumi.Int(replicas),
		Selector: &metav1.LabelSelectorArgs{MatchLabels: selector},
		Strategy: surgeOnlyRollout(),
		Template: &corev1.PodTemplateSpecArgs{
			Metadata: &metav1.ObjectMetaArgs{Labels: MetaLabels(ElementAdminName, ComponentElementAdmin)},
			Spec: &corev1.PodSpecArgs{
				AutomountServiceAccountToken: pulumi.Bool(false),
				EnableServiceLinks:           pulumi.Bool(false),
				SecurityContext:              PodSecurity(ElementAdminUID),
				Containers: corev1.ContainerArray{corev1.ContainerArgs{
					Name:  pulumi.String(ElementAdminName),
					Image: pulumi.String(cfg.Admin.Image),
					// The Matrix server name the console signs in to (the
					// browser finds the homeserver and MAS from it).
					Env: corev1.EnvVarArray{corev1.EnvVarArgs{
						Name: pulumi.String("SERVER_NAME"), Value: pulumi.String(cfg.ServerName),
					}},
					Ports: corev1.ContainerPortArray{corev1.ContainerPortArgs{
						Name: pulumi.String(ElementAdminPortName), ContainerPort: pulumi.Int(elementAdminPort), Protocol: pulumi.String("TCP"),
					}},
					VolumeMounts: corev1.VolumeMountArray{corev1.VolumeMountArgs{
						Name: pulumi.String("tmp"), MountPath: pulumi.String("/tmp"),
					}},
					ReadinessProbe:  readiness,
					LivenessProbe:   liveness,
					Resources:       resources(elementAdminResources),
					SecurityContext: ContainerSecurity(),
				}},
				Volumes: corev1.VolumeArray{corev1.VolumeArgs{
					Name: pulumi.String("tmp"),
					// Memory-backed (counted in the container's memory
					// limit) and small: two generated files and a pid file.
					EmptyDir: &corev1.EmptyDirVolumeSourceArgs{Medium: pulumi.String("Memory"), SizeLimit: quantity(elementAdminTmpLimit)},
				}},
				Affinity: preferSpreadOverNodes(selector),
			},
		},
	}
}

// elementAdminResources: nginx serving a single-page app (ess-helm requests
// 50m/50Mi and limits memory to 200Mi). The CPU limit is there because a
// namespace ResourceQuota may require one on every container.
var elementAdminResources = config.Resources{
	Requests: config.ResourceList{CPU: "50m", Memory: "50Mi"},
	Limits:   config.ResourceList{CPU: "500m", Memory: "200Mi"},
}
