package components

import (
	"strconv"

	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"synapse/plan"
)

// RedisArgs configure NewRedis.
type RedisArgs = DataPlaneArgs

// Redis is the pub/sub Redis that Synapse processes replicate through.
type Redis struct {
	pulumi.ResourceState

	Service    plan.Service
	SecretName string
	// Password is a secret output, for Synapse's own Secret.
	Password    pulumi.StringOutput
	StatefulSet *appsv1.StatefulSet
	// Ready: the StatefulSet (awaited until its pod is ready) and the
	// Service (awaited until it has an endpoint). DependsOn these, never on
	// the component (pulumi/pulumi#7833).
	Ready []pulumi.Resource
}

// Environment of the Redis container. Both come from the Secret; neither
// value appears in the pod spec.
const (
	redisPasswordEnv = "REDIS_PASSWORD"
	// REDISCLI_AUTH is read by redis-cli, so the probe authenticates
	// without the password on its command line or in its output.
	redisCLIAuthEnv = "REDISCLI_AUTH"
)

// NewRedis creates a single Redis instance: Synapse takes one Redis
// endpoint, and its traffic is pub/sub only, so nothing is persisted.
func NewRedis(ctx *pulumi.Context, name string, args *RedisArgs, opts ...pulumi.ResourceOption) (*Redis, error) {
	if err := args.check("Redis"); err != nil {
		return nil, err
	}
	svc := args.Plan.Redis()
	comp := &Redis{Service: svc, SecretName: plan.RedisSecretName}
	if err := ctx.RegisterComponentResource("synapse:index:Redis", name, comp, opts...); err != nil {
		return nil, err
	}
	w, err := newRedisWorkload(ctx, comp, name, args.Namespace, redisInstance{
		Service: svc, SecretName: plan.RedisSecretName, Component: "redis", Image: args.Config.Redis.Image,
	})
	if err != nil {
		return nil, err
	}
	comp.Password, comp.StatefulSet = w.Password, w.StatefulSet
	comp.Ready = []pulumi.Resource{w.StatefulSet, w.Service}

	if err := ctx.RegisterResourceOutputs(comp, pulumi.Map{
		"service":    pulumi.String(svc.Name),
		"secretName": pulumi.String(comp.SecretName),
		"password":   comp.Password,
	}); err != nil {
		return nil, err
	}
	return comp, nil
}

// redisInstance is one Redis this program runs: Synapse's replication
// hub, or (with several LiveKit replicas) LiveKit's own.
type redisInstance struct {
	Service    plan.Service // its name is also the workload's
	SecretName string
	Component  string // app.kubernetes.io/component
	Image      string
}

// redisWorkload is what newRedisWorkload created.
type redisWorkload struct {
	Secret      *corev1.Secret
	Password    pulumi.StringOutput // a secret output
	StatefulSet *appsv1.StatefulSet
	Service     *corev1.Service
}

// newRedisWorkload creates a password-protected, non-persistent Redis
// (a StatefulSet of one, its Secret and Service) as children of comp.
func newRedisWorkload(ctx *pulumi.Context, comp pulumi.Resource, name string, ns pulumi.StringInput, in redisInstance) (redisWorkload, error) {
	svc := in.Service
	meta := MetaLabels(svc.Name, in.Component)
	var w redisWorkload
	var err error
	w.Secret, w.Password, _, err = dpCredentialsSecret(ctx, comp, name, dpCredentials{
		Secret:    in.SecretName,
		Namespace: ns,
		Labels:    meta,
		Generated: plan.RedisSecretPass,
	})
	if err != nil {
		return w, err
	}

	dataVol, dataMount := dpEmptyDir("data", "/data")
	port := strconv.Itoa(svc.Port)
	w.StatefulSet, err = appsv1.NewStatefulSet(ctx, name+"-statefulset", &appsv1.StatefulSetArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Name:      pulumi.String(svc.Name),
			Namespace: ns,
			Labels:    meta,
		},
		Spec: &appsv1.StatefulSetSpecArgs{
			// A StatefulSet, not a Deployment: a rollout never runs two
			// Redis pods side by side, which would split the pub/sub
			// traffic between processes connected to different pods.
			Replicas:    pulumi.Int(1),
			ServiceName: pulumi.String(svc.Name),
			Selector:    &metav1.LabelSelectorArgs{MatchLabels: Labels(svc.Name, in.Component)},
			Template: &corev1.PodTemplateSpecArgs{
				Metadata: &metav1.ObjectMetaArgs{Labels: meta},
				Spec: &corev1.PodSpecArgs{
					AutomountServiceAccountToken: pulumi.Bool(false), // Redis never talks to the API server
					EnableServiceLinks:           pulumi.Bool(false),
					SecurityContext:              PodSecurity(RedisUID),
					Containers: corev1.ContainerArray{corev1.ContainerArgs{
						Name:  pulumi.String("redis"),
						Image: pulumi.String(in.Image),
						// The password is expanded by the kubelet from the
						// env var, so it is in no Pulumi input but the
						// Secret. Pub/sub and ephemeral state need no
						// persistence: no RDB snapshots, no AOF.
						Args: pulumi.StringArray{
							pulumi.String("redis-server"),
							pulumi.String("--port"), pulumi.String(port),
							pulumi.String("--requirepass"), pulumi.String("$(" + redisPasswordEnv + ")"),
							pulumi.String("--save"), pulumi.String(""),
							pulumi.String("--appendonly"), pulumi.String("no"),
							pulumi.String("--dir"), pulumi.String("/data"),
						},
						Env: corev1.EnvVarArray{
							dpSecretEnv(redisPasswordEnv, in.SecretName, plan.RedisSecretPass),
							dpSecretEnv(redisCLIAuthEnv, in.SecretName, plan.RedisSecretPass),
						},
						Ports: corev1.ContainerPortArray{corev1.ContainerPortArgs{
							Name:          pulumi.String(svc.PortName),
							ContainerPort: pulumi.Int(svc.Port),
						}},
						// Ready only when Redis answers an authenticated
						// PING (a NOAUTH error is not PONG). No $(...) in
						// the command: the kubelet expands $(VAR) in probes.
						ReadinessProbe: &corev1.ProbeArgs{
							Exec: &corev1.ExecActionArgs{Command: pulumi.StringArray{
								pulumi.String("sh"), pulumi.String("-c"),
								pulumi.String("redis-cli -h 127.0.0.1 -p " + port + " ping | grep -q '^PONG'"),
							}},
							PeriodSeconds:  pulumi.Int(5),
							TimeoutSeconds: pulumi.Int(3),
						},
						// Liveness only asks for the port: a slow PING under
						// load must not restart the pub/sub hub.
						LivenessProbe: &corev1.ProbeArgs{
							TcpSocket:           &corev1.TCPSocketActionArgs{Port: pulumi.String(svc.PortName)},
							InitialDelaySeconds: pulumi.Int(10),
							PeriodSeconds:       pulumi.Int(10),
						},
						Resources:       dpResources("50m", "64Mi", "500m", "256Mi"),
						SecurityContext: ContainerSecurity(),
						VolumeMounts:    corev1.VolumeMountArray{dataMount},
					}},
					// Redis writes nothing with persistence off, but keep its
					// working directory writable under a read-only root.
					Volumes: corev1.VolumeArray{dataVol},
				},
			},
		},
	}, pulumi.Parent(comp), pulumi.DependsOn([]pulumi.Resource{w.Secret})) // env reads the Secret by name
	if err != nil {
		return w, err
	}

	w.Service, err = corev1.NewService(ctx, name+"-service", &corev1.ServiceArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Name:      pulumi.String(svc.Name),
			Namespace: ns,
			Labels:    meta,
		},
		Spec: &corev1.ServiceSpecArgs{
			Type:     pulumi.String("ClusterIP"),
			Selector: Labels(svc.Name, in.Component),
			Ports: corev1.ServicePortArray{corev1.ServicePortArgs{
				Name:       pulumi.String(svc.PortName),
				Port:       pulumi.Int(svc.Port),
				TargetPort: pulumi.String(svc.PortName),
			}},
		},
	}, pulumi.Parent(comp))
	return w, err
}
