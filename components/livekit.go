package components

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi-random/sdk/v4/go/random"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"synapse/config"
	"synapse/plan"
	"synapse/synapseconfig"
)

// LiveKitType is the token of the LiveKit component.
const LiveKitType = "synapse:index:LiveKit"

// Labels and ports of the RTC workloads.
const (
	ComponentRTC      = "rtc" // the RTC Ingress
	ComponentRTCSFU   = "rtc-sfu"
	ComponentRTCAuth  = "rtc-authorization"
	ComponentRTCRedis = "rtc-redis"

	// Container port names of LiveKit: the Services, probes and
	// NetworkPolicies name them.
	LiveKitPortHTTP    = "http"
	LiveKitPortRTCTCP  = "rtc-tcp"
	LiveKitPortRTCUDP  = "rtc-udp"
	LiveKitPortTURNUDP = "turn-udp"
	LiveKitPortTURNTLS = "turn-tls"

	// LiveKitUID: LiveKit's image runs as root unless told otherwise; ess-
	// helm runs it as 10030.
	LiveKitUID = 10030
	// liveKitSecretLength: LiveKit logs an error for a secret shorter than
	// 32 characters.
	liveKitSecretLength = 48
)

// LiveKitArgs configure LiveKit.
type LiveKitArgs struct {
	Namespace pulumi.StringInput
	Config    *config.Config
	Plan      *plan.Plan
}

// LiveKit is the SFU: its config (a content-named ConfigMap), the API
// secret (generated, in a content-named Secret in LiveKit's and the
// authorization service's forms), a Deployment, the signalling Service
// behind the RTC Ingress, the media Service (rtc.media.serviceType) and,
// with several replicas, the Redis they share rooms through.
type LiveKit struct {
	pulumi.ResourceState

	ConfigYAML    string
	ConfigMapName string
	// SecretName carries a hash of the Secret's data (contentName);
	// SecretChecksum is that hash (not a secret: a sha256 of a random
	// value), for the pod templates that mount the Secret.
	SecretName     pulumi.StringOutput
	SecretChecksum pulumi.StringOutput
	Deployment     *appsv1.Deployment
	Service        plan.Service
	MediaService   *corev1.Service
	// Redis is nil with one replica.
	Redis *redisWorkload
	// Ready: Redis (with several replicas), the Deployment and both
	// Services, awaited (a LoadBalancer until it has an address).
	// DependsOn these, never on the component (pulumi/pulumi#7833).
	Ready []pulumi.Resource
}

// LiveKitSelector selects LiveKit's pods.
func LiveKitSelector() pulumi.StringMap { return Labels(plan.LiveKitName, ComponentRTCSFU) }

// NewLiveKit creates LiveKit (call it only with rtc.enabled).
func NewLiveKit(ctx *pulumi.Context, name string, args *LiveKitArgs, opts ...pulumi.ResourceOption) (*LiveKit, error) {
	if args == nil || args.Config == nil || args.Plan == nil || args.Namespace == nil {
		return nil, fmt.Errorf("components: LiveKit %s: Namespace, Config and Plan are required", name)
	}
	if !args.Config.RTC.Enabled {
		return nil, fmt.Errorf("components: LiveKit %s: rtc.enabled is false; do not create the component", name)
	}
	text, err := synapseconfig.LiveKitConfig(args.Config, args.Plan)
	if err != nil {
		return nil, err
	}
	data := map[string]string{synapseconfig.LiveKitConfigFile: text}
	c := &LiveKit{ConfigYAML: text, ConfigMapName: contentName(plan.LiveKitConfigMapName, synapseconfig.ChecksumAll(data)), Service: args.Plan.LiveKit()}
	if err := ctx.RegisterComponentResource(LiveKitType, name, c, opts...); err != nil {
		return nil, err
	}
	meta := func(n string) *metav1.ObjectMetaArgs {
		return &metav1.ObjectMetaArgs{Name: pulumi.String(n), Namespace: args.Namespace, Labels: MetaLabels(plan.LiveKitName, ComponentRTCSFU)}
	}
	cm, err := corev1.NewConfigMap(ctx, name+"-config", &corev1.ConfigMapArgs{
		Metadata: meta(c.ConfigMapName), Data: pulumi.ToStringMap(data),
	}, pulumi.Parent(c))
	if err != nil {
		return nil, err
	}
	secret, err := c.newSecret(ctx, name, args.Namespace)
	if err != nil {
		return nil, err
	}
	deps := []pulumi.Resource{cm, secret}
	if plan.LiveKitNeedsRedis(args.Config) {
		w, err := newRedisWorkload(ctx, c, name+"-redis", args.Namespace, redisInstance{
			Service: args.Plan.LiveKitRedis(), SecretName: plan.LiveKitRedisSecret, Component: ComponentRTCRedis, Image: args.Config.Redis.Image,
		})
		if err != nil {
			return nil, err
		}
		c.Redis = &w
		c.Ready = append(c.Ready, w.StatefulSet, w.Service)
		deps = append(deps, w.StatefulSet, w.Service) // LiveKit registers itself in Redis at start-up
	}
	c.Deployment, err = appsv1.NewDeployment(ctx, name+"-deployment", &appsv1.DeploymentArgs{
		Metadata: meta(plan.LiveKitName),
		Spec:     liveKitDeploymentSpec(args.Config, c),
	}, pulumi.Parent(c), pulumi.DependsOn(deps))
	if err != nil {
		return nil, err
	}
	if err := c.newServices(ctx, name, args, meta); err != nil {
		return nil, err
	}
	if args.Config.RTC.LiveKit.Replicas > 1 {
		if _, err := newPDB(ctx, name+"-pdb", meta(plan.LiveKitName), &metav1.LabelSelectorArgs{MatchLabels: LiveKitSelector()}, c); err != nil {
			return nil, err
		}
	}
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{
		"configMap":    pulumi.String(c.ConfigMapName),
		"secret":       c.SecretName,
		"mediaService": pulumi.String(plan.LiveKitMediaName),
	}); err != nil {
		return nil, err
	}
	return c, nil
}

// newSecret generates the API secret and writes the LiveKit Secret, named
// by the (unsecreted) hash of its data so that a rotation creates the new
// Secret before the old one goes and rolls the pods that mount it.
func (c *LiveKit) newSecret(ctx *pulumi.Context, name string, ns pulumi.StringInput) (*corev1.Secret, error) {
	pw, err := random.NewRandomPassword(ctx, name+"-api-secret", &random.RandomPasswordArgs{
		Length: pulumi.Int(liveKitSecretLength), Special: pulumi.Bool(false),
	}, pulumi.Parent(c))
	if err != nil {
		return nil, err
	}
	data := pw.Result.ApplyT(func(s string) map[string]string { return synapseconfig.LiveKitSecretData(s) }).(pulumi.StringMapOutput)
	c.SecretChecksum = pulumi.Unsecret(data.ApplyT(func(d map[string]string) string {
		return LiveKitSecretChecksum(d)
	})).(pulumi.StringOutput)
	c.SecretName = c.SecretChecksum.ApplyT(func(sum string) string {
		return contentName(plan.LiveKitSecretName, sum)
	}).(pulumi.StringOutput)
	return corev1.NewSecret(ctx, name+"-secret", &corev1.SecretArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Name: c.SecretName, Namespace: ns, Labels: MetaLabels(plan.LiveKitName, ComponentRTCSFU),
		},
		StringData: pulumi.ToSecret(data).(pulumi.StringMapOutput),
	}, pulumi.Parent(c))
}

// LiveKitSecretChecksum hashes the LiveKit Secret's data (keys in
// synapseconfig.LiveKitSecretFiles order): its name and the pods'
// checksum annotation.
func LiveKitSecretChecksum(data map[string]string) string {
	h := sha256.New()
	for _, k := range synapseconfig.LiveKitSecretFiles {
		fmt.Fprintf(h, "%s\x00%s\x00", k, data[k])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// newServices creates the signalling Service (ClusterIP, behind the RTC
// Ingress) and the media Service.
func (c *LiveKit) newServices(ctx *pulumi.Context, name string, args *LiveKitArgs, meta func(string) *metav1.ObjectMetaArgs) error {
	signalling, err := corev1.NewService(ctx, name+"-service", &corev1.ServiceArgs{
		Metadata: meta(c.Service.Name),
		Spec: &corev1.ServiceSpecArgs{
			Type:     pulumi.String("ClusterIP"),
			Selector: LiveKitSelector(),
			Ports: corev1.ServicePortArray{corev1.ServicePortArgs{
				Name: pulumi.String(c.Service.PortName), Port: pulumi.Int(c.Service.Port),
				TargetPort: pulumi.String(LiveKitPortHTTP), Protocol: pulumi.String("TCP"),
			}},
		},
	}, pulumi.Parent(c))
	if err != nil {
		return err
	}
	mediaMeta := meta(plan.LiveKitMediaName)
	if a := args.Config.RTC.Media.Annotations; len(a) > 0 {
		mediaMeta.Annotations = pulumi.ToStringMap(a) // e.g. a cloud's load balancer settings
	}
	c.MediaService, err = corev1.NewService(ctx, name+"-media-service", &corev1.ServiceArgs{
		Metadata: mediaMeta,
		Spec:     liveKitMediaServiceSpec(args.Config.RTC),
	}, pulumi.Parent(c))
	if err != nil {
		return err
	}
	c.Ready = append(c.Ready, c.Deployment, signalling, c.MediaService)
	return nil
}

// mediaPort is one port clients reach LiveKit's media (or TURN) on.
type mediaPort struct {
	name     string
	protocol string
	port     int // the container port, and the node port with NodePort
	exposed  int // the Service port
}

// liveKitMediaPorts are the ports of the media Service: LiveKit
// advertises the port it listens on, so the Service port (and the node
// port) equals the container port, except TURN/TLS, which LiveKit
// advertises on 443 whatever it listens on.
func liveKitMediaPorts(r config.RTC) []mediaPort {
	ports := []mediaPort{
		{LiveKitPortRTCTCP, "TCP", r.Media.TCPPort, r.Media.TCPPort},
		{LiveKitPortRTCUDP, "UDP", r.Media.UDPPort, r.Media.UDPPort},
	}
	if r.TURN.Enabled {
		ports = append(ports, mediaPort{LiveKitPortTURNUDP, "UDP", r.TURN.UDPPort, r.TURN.UDPPort})
	}
	if r.TURN.TLS() {
		ports = append(ports, mediaPort{LiveKitPortTURNTLS, "TCP", config.LiveKitTURNTLSPort, config.TURNTLSPort})
	}
	return ports
}

// liveKitMediaServiceSpec: externalTrafficPolicy Local keeps the client's
// source address (ICE checks see the real peer) and, with NodePort, sends
// a node's port only to the LiveKit pod on that node, the one whose
// address that node advertises.
func liveKitMediaServiceSpec(r config.RTC) *corev1.ServiceSpecArgs {
	var ports corev1.ServicePortArray
	for _, p := range liveKitMediaPorts(r) {
		sp := corev1.ServicePortArgs{
			Name: pulumi.String(p.name), Protocol: pulumi.String(p.protocol),
			Port: pulumi.Int(p.exposed), TargetPort: pulumi.String(p.name),
		}
		if r.Media.ServiceType == config.ServiceTypeNodePort {
			sp.NodePort = pulumi.Int(p.port)
		}
		ports = append(ports, sp)
	}
	return &corev1.ServiceSpecArgs{
		Type:                  pulumi.String(r.Media.ServiceType),
		ExternalTrafficPolicy: pulumi.String("Local"),
		Selector:              LiveKitSelector(),
		Ports:                 ports,
	}
}

// liveKitDeploymentSpec runs LiveKit as a non-root user on a read-only
// root. With several replicas (NodePort media), each on its own node:
// a node's port reaches only the pod on it, so two on one node would
// share one port; a rollout then replaces one pod at a time in place.
func liveKitDeploymentSpec(cfg *config.Config, c *LiveKit) *appsv1.DeploymentSpecArgs {
	r := cfg.RTC
	selector := LiveKitSelector()
	strategy, affinity := surgeOnlyRollout(), preferSpreadOverNodes(selector)
	if r.LiveKit.Replicas > 1 {
		strategy = &appsv1.DeploymentStrategyArgs{
			Type:          pulumi.String("RollingUpdate"),
			RollingUpdate: &appsv1.RollingUpdateDeploymentArgs{MaxSurge: pulumi.Int(0), MaxUnavailable: pulumi.Int(1)},
		}
		affinity = &corev1.AffinityArgs{PodAntiAffinity: &corev1.PodAntiAffinityArgs{
			RequiredDuringSchedulingIgnoredDuringExecution: corev1.PodAffinityTermArray{nodeTerm(selector)},
		}}
	}
	volumes := corev1.VolumeArray{
		corev1.VolumeArgs{Name: pulumi.String("config"), ConfigMap: &corev1.ConfigMapVolumeSourceArgs{Name: pulumi.String(c.ConfigMapName)}},
		corev1.VolumeArgs{Name: pulumi.String("secrets"), Secret: &corev1.SecretVolumeSourceArgs{
			SecretName: c.SecretName, DefaultMode: pulumi.Int(0o440),
			// Only LiveKit's form: the authorization service's file is not
			// LiveKit's to read.
			Items: corev1.KeyToPathArray{corev1.KeyToPathArgs{Key: pulumi.String(synapseconfig.LiveKitKeysFile), Path: pulumi.String(synapseconfig.LiveKitKeysFile)}},
		}},
		corev1.VolumeArgs{Name: pulumi.String("tmp"), EmptyDir: &corev1.EmptyDirVolumeSourceArgs{}},
	}
	mounts := corev1.VolumeMountArray{
		corev1.VolumeMountArgs{Name: pulumi.String("config"), MountPath: pulumi.String(synapseconfig.LiveKitConfigDir), ReadOnly: pulumi.Bool(true)},
		corev1.VolumeMountArgs{Name: pulumi.String("secrets"), MountPath: pulumi.String(synapseconfig.RTCSecretsDir), ReadOnly: pulumi.Bool(true)},
		corev1.VolumeMountArgs{Name: pulumi.String("tmp"), MountPath: pulumi.String("/tmp")},
	}
	if r.TURN.TLS() {
		volumes = append(volumes, corev1.VolumeArgs{Name: pulumi.String("turn-tls"), Secret: &corev1.SecretVolumeSourceArgs{
			SecretName: pulumi.String(r.TURN.TLSSecretName), DefaultMode: pulumi.Int(0o440),
		}})
		mounts = append(mounts, corev1.VolumeMountArgs{Name: pulumi.String("turn-tls"), MountPath: pulumi.String(synapseconfig.TURNTLSDir), ReadOnly: pulumi.Bool(true)})
	}
	return &appsv1.DeploymentSpecArgs{
		Replicas: pulumi.Int(r.LiveKit.Replicas),
		Selector: &metav1.LabelSelectorArgs{MatchLabels: selector},
		Strategy: strategy,
		Template: &corev1.PodTemplateSpecArgs{
			Metadata: &metav1.ObjectMetaArgs{
				Labels: MetaLabels(plan.LiveKitName, ComponentRTCSFU),
				Annotations: pulumi.StringMap{
					AnnotationChecksum:       pulumi.String(synapseconfig.ChecksumAll(map[string]string{synapseconfig.LiveKitConfigFile: c.ConfigYAML})),
					AnnotationSecretChecksum: c.SecretChecksum,
				},
			},
			Spec: &corev1.PodSpecArgs{
				AutomountServiceAccountToken: pulumi.Bool(false),
				EnableServiceLinks:           pulumi.Bool(false),
				SecurityContext:              PodSecurity(LiveKitUID),
				Containers:                   corev1.ContainerArray{liveKitContainer(cfg, mounts)},
				Volumes:                      volumes,
				Affinity:                     affinity,
			},
		},
	}
}

// liveKitContainer is LiveKit with its file, the address source of
// rtc.media.externalAddress and (with Redis) its password from a Secret.
func liveKitContainer(cfg *config.Config, mounts corev1.VolumeMountArray) corev1.ContainerArgs {
	r := cfg.RTC
	var env corev1.EnvVarArray
	if r.Media.ExternalAddress == config.AddressHostIP {
		// livekit-server's --node-ip reads NODE_IP.
		env = append(env, corev1.EnvVarArgs{Name: pulumi.String("NODE_IP"), ValueFrom: &corev1.EnvVarSourceArgs{
			FieldRef: &corev1.ObjectFieldSelectorArgs{FieldPath: pulumi.String("status.hostIP")},
		}})
	}
	if plan.LiveKitNeedsRedis(cfg) {
		// livekit-server's --redis-password reads REDIS_PASSWORD.
		env = append(env, dpSecretEnv("REDIS_PASSWORD", plan.LiveKitRedisSecret, plan.LiveKitRedisSecretKey))
	}
	ports := corev1.ContainerPortArray{corev1.ContainerPortArgs{
		Name: pulumi.String(LiveKitPortHTTP), ContainerPort: pulumi.Int(config.LiveKitHTTPPort), Protocol: pulumi.String("TCP"),
	}}
	for _, p := range liveKitMediaPorts(r) {
		ports = append(ports, corev1.ContainerPortArgs{
			Name: pulumi.String(p.name), ContainerPort: pulumi.Int(p.port), Protocol: pulumi.String(p.protocol),
		})
	}
	// LiveKit answers "OK" on / of its HTTP port once it serves.
	readiness, liveness := httpProbes("/", LiveKitPortHTTP)
	return corev1.ContainerArgs{
		Name:            pulumi.String(plan.LiveKitName),
		Image:           pulumi.String(r.LiveKit.Image),
		Args:            pulumi.ToStringArray([]string{"--config", synapseconfig.LiveKitConfigDir + "/" + synapseconfig.LiveKitConfigFile}),
		Env:             env,
		Ports:           ports,
		VolumeMounts:    mounts,
		ReadinessProbe:  readiness,
		LivenessProbe:   liveness,
		Resources:       resources(r.LiveKit.Resources),
		SecurityContext: ContainerSecurity(),
	}
}
