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
	"synapse/synapseconfig"
)

// ElementWebType is the token of the Element Web component.
const ElementWebType = "synapse:index:ElementWeb"

// Names of Element Web's objects and its port.
const (
	ElementWebName = plan.ElementWebName
	// ElementWebConfigMapName is the base of the config.json ConfigMap's
	// name (contentName adds a hash of its data).
	ElementWebConfigMapName = ElementWebName + "-config"
	ComponentElementWeb     = "web-client"
	ElementWebPortName      = "http"
	ElementWebServicePort   = plan.WebAppServicePort
)

// Facts of the element-web image (github.com/element-hq/element-web,
// Dockerfile): it is nginx:alpine-slim with `USER nginx`, and the nginx
// images create that user as uid/gid 101 (nginxinc/docker-nginx). The
// listen port is the ELEMENT_WEB_PORT env (element-web#28840), 80 by
// default, which a non-root process may not bind on every runtime
// (element-web#29020): 8080 here. With a read-only root filesystem
// (element-web#29004) nginx needs, writable:
//   - /etc/nginx/conf.d: the entrypoint's 20-envsubst-on-templates.sh
//     renders /etc/nginx/templates/default.conf.template there;
//   - /tmp: the pid file (the Dockerfile moves it to /tmp/nginx.pid) and
//     /tmp/element-web-config, where 18-load-element-modules.sh copies
//     /app/config*.json;
//   - /var/cache/nginx: nginx's client body and proxy temp directories.
//
// The access and error logs are the image's symlinks to stdout/stderr.
const (
	ElementWebUID         = 101
	elementWebPort        = 8080
	elementWebConfigMount = "/app/" + synapseconfig.ElementWebConfigFile
	// elementWebProbePath is what the image's own HEALTHCHECK fetches.
	elementWebProbePath = plan.ElementWebHealthPath
)

// elementWebWritable are the emptyDirs (volume name → mount path).
var elementWebWritable = [][2]string{
	{"nginx-conf", "/etc/nginx/conf.d"},
	{"tmp", "/tmp"},
	{"nginx-cache", "/var/cache/nginx"},
}

// ElementWebArgs configure Element Web.
type ElementWebArgs struct {
	Namespace pulumi.StringInput
	Config    *config.Config
}

// ElementWeb is the Element Web client: static files served by the
// image's nginx, with config.json from the config (ConfigMap named by its
// content), a Service and, with ingress.enabled, an Ingress on
// elementWeb.host. The browser talks to the homeserver itself (at
// publicBaseUrl): these pods make no connection.
type ElementWeb struct {
	pulumi.ResourceState

	ConfigJSON    string
	ConfigMapName string
	Deployment    *appsv1.Deployment
	Service       *corev1.Service
	Ingress       *networkingv1.Ingress
}

// ElementWebSelector selects Element Web's pods.
func ElementWebSelector() pulumi.StringMap { return Labels(ElementWebName, ComponentElementWeb) }

// ElementWebChecksum hashes the ConfigMap's data (its name and the pod
// template's checksum).
func ElementWebChecksum(data map[string]string) string { return synapseconfig.ChecksumAll(data) }

// NewElementWeb creates Element Web (call it only with elementWeb.enabled).
func NewElementWeb(ctx *pulumi.Context, name string, args *ElementWebArgs, opts ...pulumi.ResourceOption) (*ElementWeb, error) {
	if args == nil || args.Config == nil || args.Namespace == nil {
		return nil, fmt.Errorf("components: ElementWeb %s: Namespace and Config are required", name)
	}
	ec := args.Config.ElementWeb
	if !ec.Enabled {
		return nil, fmt.Errorf("components: ElementWeb %s: elementWeb.enabled is false; do not create the component", name)
	}
	text, err := synapseconfig.ElementWebConfig(args.Config)
	if err != nil {
		return nil, err
	}
	data := map[string]string{synapseconfig.ElementWebConfigFile: text}
	sum := ElementWebChecksum(data)
	c := &ElementWeb{ConfigJSON: text, ConfigMapName: contentName(ElementWebConfigMapName, sum)}
	if err := ctx.RegisterComponentResource(ElementWebType, name, c, opts...); err != nil {
		return nil, err
	}
	meta := func(n string) *metav1.ObjectMetaArgs {
		return &metav1.ObjectMetaArgs{Name: pulumi.String(n), Namespace: args.Namespace, Labels: MetaLabels(ElementWebName, ComponentElementWeb)}
	}
	cm, err := corev1.NewConfigMap(ctx, name+"-config", &corev1.ConfigMapArgs{
		Metadata: meta(c.ConfigMapName),
		Data:     pulumi.ToStringMap(data),
	}, pulumi.Parent(c))
	if err != nil {
		return nil, err
	}
	c.Deployment, err = appsv1.NewDeployment(ctx, name+"-deployment", &appsv1.DeploymentArgs{
		Metadata: meta(ElementWebName),
		Spec:     elementWebDeploymentSpec(ec, c.ConfigMapName, sum),
	}, pulumi.Parent(c), pulumi.DependsOn([]pulumi.Resource{cm}))
	if err != nil {
		return nil, err
	}
	c.Service, c.Ingress, err = newWebFront(ctx, name, c, webFront{
		Namespace: args.Namespace, Config: args.Config, Name: ElementWebName, Component: ComponentElementWeb,
		PortName: ElementWebPortName, ServicePort: ElementWebServicePort, Replicas: ec.Replicas,
		Host: ec.Host, TLSSecret: ec.TLSSecretName, Deployment: c.Deployment,
	})
	if err != nil {
		return nil, err
	}
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{
		"host":      pulumi.String(ec.Host),
		"configMap": pulumi.String(c.ConfigMapName),
	}); err != nil {
		return nil, err
	}
	return c, nil
}

// elementWebDeploymentSpec runs the image's nginx as uid 101 on a
// read-only root, config.json mounted over the image's, a surge-only
// rolling update.
func elementWebDeploymentSpec(ec config.ElementWeb, configMapName, sum string) *appsv1.DeploymentSpecArgs {
	selector := ElementWebSelector()
	readiness, liveness := httpProbes(elementWebProbePath, ElementWebPortName)
	volumes := corev1.VolumeArray{corev1.VolumeArgs{
		Name:      pulumi.String("config"),
		ConfigMap: &corev1.ConfigMapVolumeSourceArgs{Name: pulumi.String(configMapName)},
	}}
	mounts := corev1.VolumeMountArray{corev1.VolumeMountArgs{
		Name: pulumi.String("config"), MountPath: pulumi.String(elementWebConfigMount),
		SubPath: pulumi.String(synapseconfig.ElementWebConfigFile), ReadOnly: pulumi.Bool(true),
	}}
	for _, w := range elementWebWritable {
		volumes = append(volumes, corev1.VolumeArgs{Name: pulumi.String(w[0]), EmptyDir: &corev1.EmptyDirVolumeSourceArgs{}})
		mounts = append(mounts, corev1.VolumeMountArgs{Name: pulumi.String(w[0]), MountPath: pulumi.String(w[1])})
	}
	return &appsv1.DeploymentSpecArgs{
		Replicas: pulumi.Int(ec.Replicas),
		Selector: &metav1.LabelSelectorArgs{MatchLabels: selector},
		Strategy: surgeOnlyRollout(),
		Template: &corev1.PodTemplateSpecArgs{
			Metadata: &metav1.ObjectMetaArgs{
				Labels:      MetaLabels(ElementWebName, ComponentElementWeb),
				Annotations: pulumi.StringMap{AnnotationChecksum: pulumi.String(sum)},
			},
			Spec: &corev1.PodSpecArgs{
				AutomountServiceAccountToken: pulumi.Bool(false),
				EnableServiceLinks:           pulumi.Bool(false),
				SecurityContext:              PodSecurity(ElementWebUID),
				Containers: corev1.ContainerArray{corev1.ContainerArgs{
					Name:  pulumi.String(ElementWebName),
					Image: pulumi.String(ec.Image),
					Env: corev1.EnvVarArray{corev1.EnvVarArgs{
						Name: pulumi.String("ELEMENT_WEB_PORT"), Value: pulumi.String(fmt.Sprint(elementWebPort)),
					}},
					Ports: corev1.ContainerPortArray{corev1.ContainerPortArgs{
						Name: pulumi.String(ElementWebPortName), ContainerPort: pulumi.Int(elementWebPort), Protocol: pulumi.String("TCP"),
					}},
					VolumeMounts:    mounts,
					ReadinessProbe:  readiness,
					LivenessProbe:   liveness,
					Resources:       resources(elementWebResources),
					SecurityContext: ContainerSecurity(),
				}},
				Volumes:  volumes,
				Affinity: preferSpreadOverNodes(selector),
			},
		},
	}
}

// elementWebResources: nginx serving static files (ess-helm requests
// 50m/50Mi and limits memory to 200Mi).
var elementWebResources = config.Resources{
	Requests: config.ResourceList{CPU: "50m", Memory: "64Mi"},
	Limits:   config.ResourceList{CPU: "500m", Memory: "256Mi"},
}
