package components

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"

	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"synapse/config"
	"synapse/plan"
	"synapse/router"
	"synapse/synapseconfig"
)

// HAProxyRouterType is the token of the router component.
const HAProxyRouterType = "synapse:index:HAProxyRouter"

// ComponentRouter is the app.kubernetes.io/component of the HAProxy pods.
const ComponentRouter = "router"

// haproxyTerminationGrace outlasts HAProxy's hard-stop-after, so that the
// kubelet never kills a replica that is still draining /sync connections.
const haproxyTerminationGrace = router.HardStopAfterSeconds + 5

// HAProxyRouterArgs configure the router.
type HAProxyRouterArgs struct {
	Namespace pulumi.StringInput
	Config    *config.Config
	Plan      *plan.Plan
}

// HAProxyRouter is HAProxy in front of every Synapse process: its config
// (rendered from the plan by package router), a Deployment, a Service and a
// PodDisruptionBudget.
type HAProxyRouter struct {
	pulumi.ResourceState

	// Files are the rendered haproxy.cfg and map files.
	Files     *router.Files
	ConfigMap *corev1.ConfigMap
	// ConfigMapName carries a hash of haproxy.cfg and the maps
	// (contentName): a change rolls the replicas onto a new ConfigMap.
	ConfigMapName string
	Deployment    *appsv1.Deployment
	// Service is the client Service the Ingress sends to.
	Service plan.Service
	Ready   []pulumi.Resource
}

// HAProxySelector selects the router's pods.
func HAProxySelector() pulumi.StringMap { return Labels(plan.HAProxyName, ComponentRouter) }

// NewHAProxyRouter renders the HAProxy config and runs it. Give it
// DependsOn every pool's Ready: HAProxy resolves pods at start-up.
func NewHAProxyRouter(ctx *pulumi.Context, name string, args *HAProxyRouterArgs, opts ...pulumi.ResourceOption) (*HAProxyRouter, error) {
	if args == nil || args.Config == nil || args.Plan == nil || args.Namespace == nil {
		return nil, fmt.Errorf("components: HAProxyRouter %s: Namespace, Config and Plan are required", name)
	}
	files, data, err := renderRouterFiles(args.Config, args.Plan)
	if err != nil {
		return nil, err
	}
	svc := args.Plan.HAProxy()
	c := &HAProxyRouter{Files: files, Service: svc, ConfigMapName: contentName(plan.HAProxyConfigMapName, RouterChecksum(files))}
	if err := ctx.RegisterComponentResource(HAProxyRouterType, name, c, opts...); err != nil {
		return nil, err
	}
	meta := func(n string) *metav1.ObjectMetaArgs {
		return &metav1.ObjectMetaArgs{Name: pulumi.String(n), Namespace: args.Namespace, Labels: MetaLabels(plan.HAProxyName, ComponentRouter)}
	}

	c.ConfigMap, err = corev1.NewConfigMap(ctx, name+"-config", &corev1.ConfigMapArgs{
		Metadata: meta(c.ConfigMapName),
		Data:     data,
	}, pulumi.Parent(c))
	if err != nil {
		return nil, err
	}
	c.Deployment, err = appsv1.NewDeployment(ctx, name+"-deployment", &appsv1.DeploymentArgs{
		Metadata: meta(plan.HAProxyName),
		Spec:     haproxyDeploymentSpec(args.Config, files, c.ConfigMapName),
	}, pulumi.Parent(c), pulumi.DependsOn([]pulumi.Resource{c.ConfigMap}))
	if err != nil {
		return nil, err
	}
	service, err := corev1.NewService(ctx, name+"-service", &corev1.ServiceArgs{
		Metadata: meta(svc.Name),
		Spec:     haproxyServiceSpec(args.Config, svc),
	}, pulumi.Parent(c))
	if err != nil {
		return nil, err
	}
	if args.Config.HAProxy.Replicas > 1 {
		if _, err := newPDB(ctx, name+"-pdb", meta(plan.HAProxyName),
			&metav1.LabelSelectorArgs{MatchLabels: HAProxySelector()}, c); err != nil {
			return nil, err
		}
	}
	if args.Config.Monitoring.Enabled {
		if _, err := newMonitor(ctx, name+"-servicemonitor", args.Namespace, plan.HAProxyName, ComponentRouter, HAProxySelector(),
			router.PortNameStats, router.MetricsURI, c, service); err != nil {
			return nil, err
		}
	}
	c.Ready = []pulumi.Resource{c.Deployment, service}
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{
		"service":   pulumi.String(svc.Name),
		"configMap": pulumi.String(c.ConfigMapName),
	}); err != nil {
		return nil, err
	}
	return c, nil
}

// renderRouterFiles renders haproxy.cfg and the map files from the plan,
// and the ConfigMap data that holds them side by side in one directory.
func renderRouterFiles(c *config.Config, p *plan.Plan) (*router.Files, pulumi.StringMap, error) {
	files, err := router.Render(p, router.Options{
		ConfigDir: router.DefaultConfigDir,
		WellKnown: synapseconfig.WellKnown(c),
	})
	if err != nil {
		return nil, nil, err
	}
	data := pulumi.StringMap{router.ConfigFileName: pulumi.String(files.Config)}
	for k, v := range files.Maps {
		if k == router.ConfigFileName {
			return nil, nil, fmt.Errorf("components: HAProxyRouter: a map file is named %s", k)
		}
		data[k] = pulumi.String(v)
	}
	return files, data, nil
}

// haproxyDeploymentSpec runs HAProxy on the ConfigMap configMapName: a
// surge-only rolling update (a replica is never down before its successor
// is ready), a checksum of the files on the template, replicas spread over
// nodes.
func haproxyDeploymentSpec(c *config.Config, files *router.Files, configMapName string) *appsv1.DeploymentSpecArgs {
	selector := HAProxySelector()
	return &appsv1.DeploymentSpecArgs{
		Replicas: pulumi.Int(c.HAProxy.Replicas),
		Selector: &metav1.LabelSelectorArgs{MatchLabels: selector},
		Strategy: surgeOnlyRollout(),
		Template: &corev1.PodTemplateSpecArgs{
			Metadata: &metav1.ObjectMetaArgs{
				Labels:      MetaLabels(plan.HAProxyName, ComponentRouter),
				Annotations: pulumi.StringMap{AnnotationChecksum: pulumi.String(RouterChecksum(files))},
			},
			Spec: &corev1.PodSpecArgs{
				AutomountServiceAccountToken:  pulumi.Bool(false),
				EnableServiceLinks:            pulumi.Bool(false),
				TerminationGracePeriodSeconds: pulumi.Int(haproxyTerminationGrace),
				SecurityContext:               PodSecurity(HAProxyUID),
				Containers:                    corev1.ContainerArray{haproxyContainer(c)},
				Volumes: corev1.VolumeArray{
					corev1.VolumeArgs{Name: pulumi.String("config"), ConfigMap: &corev1.ConfigMapVolumeSourceArgs{Name: pulumi.String(configMapName)}},
					corev1.VolumeArgs{Name: pulumi.String("tmp"), EmptyDir: &corev1.EmptyDirVolumeSourceArgs{}},
				},
				Affinity: preferSpreadOverNodes(selector),
			},
		},
	}
}

// haproxyContainer is the HAProxy container: the config mounted read-only,
// /tmp writable (the root filesystem is not), probes on the health URI.
func haproxyContainer(c *config.Config) corev1.ContainerArgs {
	readiness, liveness := httpProbes(router.HealthURI, router.PortNameHTTP)
	ports := corev1.ContainerPortArray{}
	for _, p := range router.Ports {
		ports = append(ports, corev1.ContainerPortArgs{Name: pulumi.String(p.Name), ContainerPort: pulumi.Int(p.Port), Protocol: pulumi.String("TCP")})
	}
	cfgPath := router.DefaultConfigDir + "/" + router.ConfigFileName
	return corev1.ContainerArgs{
		Name:  pulumi.String("haproxy"),
		Image: pulumi.String(c.HAProxy.Image),
		// Master-worker in the foreground: what the image's entrypoint
		// adds, spelt out because command is set.
		Command: pulumi.ToStringArray([]string{"haproxy", "-W", "-db", "-f", cfgPath}),
		Ports:   ports,
		VolumeMounts: corev1.VolumeMountArray{
			corev1.VolumeMountArgs{Name: pulumi.String("config"), MountPath: pulumi.String(router.DefaultConfigDir), ReadOnly: pulumi.Bool(true)},
			corev1.VolumeMountArgs{Name: pulumi.String("tmp"), MountPath: pulumi.String("/tmp")},
		},
		ReadinessProbe:  readiness,
		LivenessProbe:   liveness,
		Resources:       resources(haproxyResources),
		SecurityContext: ContainerSecurity(),
	}
}

// haproxyServiceSpec is the client Service (the Ingress's backend) and,
// with monitoring, the exporter port the ServiceMonitor scrapes; the
// Ingress only names the client port.
func haproxyServiceSpec(c *config.Config, svc plan.Service) *corev1.ServiceSpecArgs {
	ports := corev1.ServicePortArray{corev1.ServicePortArgs{
		Name: pulumi.String(svc.PortName), Port: pulumi.Int(svc.Port),
		TargetPort: pulumi.String(router.PortNameHTTP), Protocol: pulumi.String("TCP"),
	}}
	if c.Monitoring.Enabled {
		ports = append(ports, corev1.ServicePortArgs{
			Name: pulumi.String(router.PortNameStats), Port: pulumi.Int(router.PortStats),
			TargetPort: pulumi.String(router.PortNameStats), Protocol: pulumi.String("TCP"),
		})
	}
	return &corev1.ServiceSpecArgs{
		Type:     pulumi.String("ClusterIP"),
		Selector: HAProxySelector(),
		Ports:    ports,
	}
}

// haproxyResources: HAProxy is event-driven and light; memory grows with
// connections (every online user holds a /sync).
var haproxyResources = config.Resources{
	Requests: config.ResourceList{CPU: "100m", Memory: "128Mi"},
	Limits:   config.ResourceList{CPU: "1000m", Memory: "512Mi"},
}

// RouterChecksum hashes haproxy.cfg and every map file, in name order.
func RouterChecksum(f *router.Files) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00", router.ConfigFileName, f.Config)
	names := make([]string, 0, len(f.Maps))
	for n := range f.Maps {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(h, "%s\x00%s\x00", n, f.Maps[n])
	}
	return hex.EncodeToString(h.Sum(nil))
}
