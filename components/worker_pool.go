package components

import (
	"fmt"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apiextensions"
	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	autoscalingv2 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/autoscaling/v2"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	policyv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/policy/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"synapse/config"
	"synapse/plan"
	"synapse/synapseconfig"
)

// WorkerPoolType is the token of a worker pool component.
const WorkerPoolType = "synapse:index:WorkerPool"

// WorkerPoolArgs configure one pool of identical Synapse workers.
type WorkerPoolArgs struct {
	Namespace pulumi.StringInput
	Config    *config.Config
	Plan      *plan.Plan
	Process   plan.Process
	// Files are the rendered ConfigMap (SynapseMain.Files): the checksum
	// annotation hashes what this process reads from it.
	Files synapseconfig.Files
	// SecretChecksum is SynapseMain.SecretChecksum (optional).
	SecretChecksum pulumi.StringInput
}

// WorkerPool is a Synapse worker pool: its workload, headless Service and,
// as the plan asks, HPA, PodDisruptionBudget and ServiceMonitor.
type WorkerPool struct {
	pulumi.ResourceState

	Workload        pulumi.Resource // *appsv1.Deployment or *appsv1.StatefulSet
	HeadlessService *corev1.Service
	// Service is the pool's headless Service and HTTP port (HAProxy finds
	// the pods through _http._tcp.<name>).
	Service plan.Service
	// Ready is what dependents wait for: the workload, which
	// pulumi-kubernetes awaits until its pods are ready.
	Ready []pulumi.Resource
}

// NewWorkerPool creates one worker pool. Stream writers and event persisters
// are StreamWriters; they share every building block used here.
func NewWorkerPool(ctx *pulumi.Context, name string, args *WorkerPoolArgs, opts ...pulumi.ResourceOption) (*WorkerPool, error) {
	if args == nil || args.Plan == nil || args.Config == nil {
		return nil, fmt.Errorf("components: WorkerPool %s: Config and Plan are required", name)
	}
	if args.Process.Role == plan.RoleMain {
		return nil, fmt.Errorf("components: WorkerPool %s: the main process is SynapseMain, not a worker pool", name)
	}
	c := &WorkerPool{}
	if err := ctx.RegisterComponentResource(WorkerPoolType, name, c, opts...); err != nil {
		return nil, err
	}
	w, err := newSynapseWorkload(ctx, name, synapseWorkloadArgs{
		Namespace: args.Namespace, Config: args.Config, Plan: args.Plan, Proc: args.Process,
		Files: args.Files, SecretChecksum: args.SecretChecksum,
	}, c)
	if err != nil {
		return nil, err
	}
	c.Workload, c.HeadlessService, c.Ready = w.Workload, w.Headless, []pulumi.Resource{w.Workload}
	c.Service = processService(args.Process)
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{
		"kind":    pulumi.String(string(args.Process.Kind)),
		"service": pulumi.String(c.Service.Name),
	}); err != nil {
		return nil, err
	}
	return c, nil
}

// processService is the headless Service of a process, by its HTTP port.
func processService(proc plan.Process) plan.Service {
	return plan.Service{Name: proc.Name, PortName: plan.PortNameHTTP, Port: proc.Port(plan.PortNameHTTP), Namespace: proc.Namespace}
}

// synapseWorkloadArgs are the inputs of the building blocks shared by
// SynapseMain, WorkerPool and StreamWriter.
type synapseWorkloadArgs struct {
	Namespace      pulumi.StringInput
	Config         *config.Config
	Plan           *plan.Plan
	Proc           plan.Process
	Files          synapseconfig.Files
	SecretChecksum pulumi.StringInput
	// DependsOn is put on the workload itself (main: its ConfigMap and
	// Secret, which the pods mount).
	DependsOn []pulumi.Resource
	// Timeouts of the workload's await (nil: the provider's).
	Timeouts *pulumi.CustomTimeouts
}

// synapseWorkload is what newSynapseWorkload created.
type synapseWorkload struct {
	Workload       pulumi.Resource
	Headless       *corev1.Service
	HPA            *autoscalingv2.HorizontalPodAutoscaler
	PDB            *policyv1.PodDisruptionBudget
	ServiceMonitor *apiextensions.CustomResource
}

// newSynapseWorkload creates a process's headless Service, its workload
// (the pod from buildSynapsePod), and its HPA, PDB and ServiceMonitor when
// they apply. Children are named "<name>-…" and parented to parent.
func newSynapseWorkload(ctx *pulumi.Context, name string, a synapseWorkloadArgs, parent pulumi.Resource) (*synapseWorkload, error) {
	proc := a.Proc
	pod, err := buildSynapsePod(synapsePodArgs{Config: a.Config, Plan: a.Plan, Proc: proc, Files: a.Files, SecretChecksum: a.SecretChecksum})
	if err != nil {
		return nil, err
	}
	out := &synapseWorkload{}
	meta := func(n string) *metav1.ObjectMetaArgs {
		return &metav1.ObjectMetaArgs{Name: pulumi.String(n), Namespace: a.Namespace, Labels: MetaLabels(proc.Name, ComponentSynapse)}
	}

	// The headless Service gives every pod a DNS name (<pod>.<service>)
	// and the pool its SRV records. Members of instance_map publish their
	// addresses before they are ready: other processes resolve them from
	// config during start-up (main's first start, a writer restarting),
	// and HAProxy health-checks every server itself. Other pools publish
	// ready pods only, so SRV discovery never offers a starting pod.
	out.Headless, err = corev1.NewService(ctx, name+"-service", &corev1.ServiceArgs{
		Metadata: meta(proc.Name),
		Spec: &corev1.ServiceSpecArgs{
			ClusterIP:                pulumi.String("None"),
			PublishNotReadyAddresses: pulumi.Bool(proc.InInstanceMap),
			Selector:                 SynapseSelector(proc),
			Ports:                    servicePorts(proc.Ports),
		},
	}, pulumi.Parent(parent))
	if err != nil {
		return nil, err
	}

	opts := []pulumi.ResourceOption{pulumi.Parent(parent), pulumi.DependsOn(append([]pulumi.Resource{out.Headless}, a.DependsOn...))}
	if proc.Autoscale != nil {
		// The HPA owns the replica count after creation; without this
		// every `pulumi up` would reset it to the floor.
		opts = append(opts, pulumi.IgnoreChanges([]string{"spec.replicas"}))
	}
	if a.Timeouts != nil {
		opts = append(opts, pulumi.Timeouts(a.Timeouts))
	}
	selector := &metav1.LabelSelectorArgs{MatchLabels: SynapseSelector(proc)}
	switch proc.Kind {
	case plan.StatefulSet:
		out.Workload, err = appsv1.NewStatefulSet(ctx, name+"-statefulset", &appsv1.StatefulSetArgs{
			Metadata: meta(proc.Name),
			Spec: &appsv1.StatefulSetSpecArgs{
				ServiceName: pulumi.String(proc.Name),
				Replicas:    pulumi.Int(proc.Replicas),
				// No pool needs ordinal order (instance_map members are
				// independent; main is one pod). OrderedReady would make a
				// first start or an HPA scale-up wait N × start-up time, and
				// one Pending pod would block every higher ordinal.
				PodManagementPolicy:  pulumi.String("Parallel"),
				Selector:             selector,
				Template:             pod.Template,
				VolumeClaimTemplates: pod.VolumeClaimTemplates,
				UpdateStrategy:       &appsv1.StatefulSetUpdateStrategyArgs{Type: pulumi.String("RollingUpdate")},
			},
		}, opts...)
	case plan.Deployment:
		if len(pod.VolumeClaimTemplates) > 0 {
			return nil, fmt.Errorf("components: %s: a Deployment cannot have volume claim templates", proc.Name)
		}
		out.Workload, err = appsv1.NewDeployment(ctx, name+"-deployment", &appsv1.DeploymentArgs{
			Metadata: meta(proc.Name),
			Spec: &appsv1.DeploymentSpecArgs{
				Replicas: pulumi.Int(proc.Replicas),
				Selector: selector,
				Template: pod.Template,
				// Keep full capacity during a roll: new pods come up
				// before old ones go.
				Strategy: &appsv1.DeploymentStrategyArgs{
					Type: pulumi.String("RollingUpdate"),
					RollingUpdate: &appsv1.RollingUpdateDeploymentArgs{
						MaxSurge: pulumi.String("25%"), MaxUnavailable: pulumi.Int(0),
					},
				},
			},
		}, opts...)
	default:
		return nil, fmt.Errorf("components: %s: unknown workload kind %q", proc.Name, proc.Kind)
	}
	if err != nil {
		return nil, err
	}

	if as := proc.Autoscale; as != nil {
		if out.HPA, err = newHPA(ctx, name, a.Namespace, proc, *as, out.Workload, parent); err != nil {
			return nil, err
		}
	}
	// A PDB only matters when there is more than one pod to keep: for a
	// single pod, maxUnavailable 1 permits everything and minAvailable 1
	// would block every node drain.
	if proc.MaxReplicas() > 1 {
		out.PDB, err = newPDB(ctx, name+"-pdb", meta(proc.Name), selector, parent)
		if err != nil {
			return nil, err
		}
	}
	if a.Config.Monitoring.Enabled {
		out.ServiceMonitor, err = newMonitor(ctx, name+"-servicemonitor", a.Namespace, proc.Name, ComponentSynapse,
			SynapseSelector(proc), plan.PortNameMetrics, plan.MetricsPath, parent, out.Headless)
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func servicePorts(ports []plan.Port) corev1.ServicePortArray {
	out := make(corev1.ServicePortArray, 0, len(ports))
	for _, p := range ports {
		out = append(out, corev1.ServicePortArgs{
			Name:       pulumi.String(p.Name),
			Port:       pulumi.Int(p.Port),
			TargetPort: pulumi.String(p.Name),
			Protocol:   pulumi.String("TCP"),
		})
	}
	return out
}

// HPA scale-down pace: removing a synchrotron moves its users (and their
// warm caches) to another, so shrink slowly; scale-up keeps the defaults.
const (
	hpaScaleDownWindow    = 600 // seconds of recommendations considered
	hpaScaleDownPodsPer   = 1
	hpaScaleDownPeriodSec = 120
)

func newHPA(ctx *pulumi.Context, name string, ns pulumi.StringInput, proc plan.Process, as config.Autoscale, workload pulumi.Resource, parent pulumi.Resource) (*autoscalingv2.HorizontalPodAutoscaler, error) {
	var metrics autoscalingv2.MetricSpecArray
	for _, m := range []struct {
		resource string
		percent  int
	}{{"cpu", as.CPUPercent}, {"memory", as.MemoryPercent}} {
		if m.percent <= 0 {
			continue
		}
		metrics = append(metrics, autoscalingv2.MetricSpecArgs{
			Type: pulumi.String("Resource"),
			Resource: &autoscalingv2.ResourceMetricSourceArgs{
				Name:   pulumi.String(m.resource),
				Target: &autoscalingv2.MetricTargetArgs{Type: pulumi.String("Utilization"), AverageUtilization: pulumi.Int(m.percent)},
			},
		})
	}
	if len(metrics) == 0 {
		return nil, fmt.Errorf("components: %s autoscales without a CPU or memory target", proc.Name)
	}
	return autoscalingv2.NewHorizontalPodAutoscaler(ctx, name+"-hpa", &autoscalingv2.HorizontalPodAutoscalerArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(proc.Name), Namespace: ns, Labels: MetaLabels(proc.Name, ComponentSynapse)},
		Spec: &autoscalingv2.HorizontalPodAutoscalerSpecArgs{
			ScaleTargetRef: &autoscalingv2.CrossVersionObjectReferenceArgs{
				ApiVersion: pulumi.String("apps/v1"), Kind: pulumi.String(string(proc.Kind)), Name: pulumi.String(proc.Name),
			},
			MinReplicas: pulumi.Int(as.Min),
			MaxReplicas: pulumi.Int(as.Max),
			Metrics:     metrics,
			Behavior: &autoscalingv2.HorizontalPodAutoscalerBehaviorArgs{
				ScaleDown: &autoscalingv2.HPAScalingRulesArgs{
					StabilizationWindowSeconds: pulumi.Int(hpaScaleDownWindow),
					Policies: autoscalingv2.HPAScalingPolicyArray{autoscalingv2.HPAScalingPolicyArgs{
						Type: pulumi.String("Pods"), Value: pulumi.Int(hpaScaleDownPodsPer), PeriodSeconds: pulumi.Int(hpaScaleDownPeriodSec),
					}},
				},
			},
		},
	}, pulumi.Parent(parent), pulumi.DependsOn([]pulumi.Resource{workload}))
}

// ServiceMonitorType is the pulumi type token of a prometheus-operator
// ServiceMonitor.
const ServiceMonitorType = "kubernetes:monitoring.coreos.com/v1:ServiceMonitor"

// newMonitor creates a ServiceMonitor that scrapes port (by name) at path
// on the Services labelled with selector: a process's headless Service
// (main's ClusterIP Service has other labels, so no pod is scraped twice).
func newMonitor(ctx *pulumi.Context, resourceName string, ns pulumi.StringInput, name, component string, selector pulumi.StringMap,
	port, path string, parent pulumi.Resource, svc *corev1.Service) (*apiextensions.CustomResource, error) {
	return apiextensions.NewCustomResource(ctx, resourceName, &apiextensions.CustomResourceArgs{
		ApiVersion: pulumi.String("monitoring.coreos.com/v1"),
		Kind:       pulumi.String("ServiceMonitor"),
		Metadata:   &metav1.ObjectMetaArgs{Name: pulumi.String(name), Namespace: ns, Labels: MetaLabels(name, component)},
		OtherFields: kubernetes.UntypedArgs{
			"spec": pulumi.Map{
				"selector": pulumi.Map{"matchLabels": selector},
				"endpoints": pulumi.Array{pulumi.Map{
					"port":     pulumi.String(port),
					"path":     pulumi.String(path),
					"interval": pulumi.String("30s"),
				}},
			},
		},
	}, pulumi.Parent(parent), pulumi.DependsOn([]pulumi.Resource{svc}))
}
