package components

import (
	"fmt"
	"strings"

	batchv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/batch/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi-random/sdk/v4/go/random"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"synapse/config"
	"synapse/masconfig"
	"synapse/plan"
	"synapse/synapseconfig"
)

// FirstAdminType is the token of the FirstAdmin component.
const FirstAdminType = "synapse:index:FirstAdmin"

// Names of the first admin's objects.
const (
	FirstAdminName = "matrix-first-admin"
	// FirstAdminSecretName holds the admin's user name and password.
	FirstAdminSecretName = "matrix-admin-credentials"
	componentFirstAdmin  = "first-admin"
	firstAdminUserKey    = "username"
	firstAdminPassKey    = "password"
)

// FirstAdminArgs configure the first administrator.
type FirstAdminArgs struct {
	Namespace pulumi.StringInput
	Config    *config.Config
	Plan      *plan.Plan
	// MAS is the MAS component (nil without MAS: Synapse's shared-secret
	// registration creates the account).
	MAS *MAS
	// SynapseSecretName is the Synapse Secret (its registration shared
	// secret), used without MAS.
	SynapseSecretName pulumi.StringInput
}

// FirstAdmin creates admin.username once, with a generated password in
// FirstAdminSecretName: through mas-cli with MAS, through Synapse's
// shared-secret registration without. The Job's spec never changes with
// the password or anything secret, so `pulumi up` does not run it again;
// when it does run again (a new image), an existing account is left as it
// is: the Job never resets a password.
type FirstAdmin struct {
	pulumi.ResourceState

	Secret *corev1.Secret
	Job    *batchv1.Job
}

// NewFirstAdmin creates the first admin (call it only with admin.username
// set, once Synapse main (and MAS) are ready).
func NewFirstAdmin(ctx *pulumi.Context, name string, args *FirstAdminArgs, opts ...pulumi.ResourceOption) (*FirstAdmin, error) {
	if args == nil || args.Config == nil || args.Plan == nil || args.Namespace == nil {
		return nil, fmt.Errorf("components: FirstAdmin %s: Namespace, Config and Plan are required", name)
	}
	c := args.Config
	if c.Admin.Username == "" {
		return nil, fmt.Errorf("components: FirstAdmin %s: admin.username is empty; do not create the component", name)
	}
	if c.MAS.Enabled != (args.MAS != nil) {
		return nil, fmt.Errorf("components: FirstAdmin %s: MAS must be given exactly when mas.enabled", name)
	}
	if args.MAS == nil && args.SynapseSecretName == nil {
		return nil, fmt.Errorf("components: FirstAdmin %s: without MAS, SynapseSecretName is required", name)
	}
	comp := &FirstAdmin{}
	if err := ctx.RegisterComponentResource(FirstAdminType, name, comp, opts...); err != nil {
		return nil, err
	}
	pw, err := random.NewRandomPassword(ctx, name+"-password", &random.RandomPasswordArgs{
		Length: pulumi.Int(24), Special: pulumi.Bool(false),
	}, pulumi.Parent(comp))
	if err != nil {
		return nil, err
	}
	comp.Secret, err = corev1.NewSecret(ctx, name+"-secret", &corev1.SecretArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Name: pulumi.String(FirstAdminSecretName), Namespace: args.Namespace,
			Labels: MetaLabels(FirstAdminName, componentFirstAdmin),
		},
		StringData: pulumi.StringMap{
			firstAdminUserKey: pulumi.String(c.Admin.Username),
			firstAdminPassKey: pulumi.ToSecret(pw.Result).(pulumi.StringOutput),
		},
	}, pulumi.Parent(comp))
	if err != nil {
		return nil, err
	}
	env := corev1.EnvVarArray{
		corev1.EnvVarArgs{Name: pulumi.String("ADMIN_USERNAME"), Value: pulumi.String(c.Admin.Username)},
		secretEnv("ADMIN_PASSWORD", FirstAdminSecretName, firstAdminPassKey),
	}
	labels := Labels(FirstAdminName, componentFirstAdmin)
	var template *corev1.PodTemplateSpecArgs
	if args.MAS != nil {
		// MAS's mounts and security, its debug image, the script for
		// command (it passes --config itself).
		ctr := args.MAS.pod.container("register")
		ctr.Image = pulumi.String(c.MAS.DebugImage)
		ctr.Command = pulumi.ToStringArray([]string{"/busybox/sh", "-c", masconfig.FirstAdminMASScript})
		ctr.Args = nil
		ctr.Env = env
		template = args.MAS.pod.template(labels, "Never", nil, ctr)
	} else {
		main := args.Plan.Main()
		env = append(env,
			corev1.EnvVarArgs{Name: pulumi.String("SYNAPSE_URL"), Value: pulumi.String(strings.TrimSuffix(main.ServiceURL(), "/"))},
			corev1.EnvVarArgs{Name: pulumi.String("REGISTRATION_SHARED_SECRET"), ValueFrom: &corev1.EnvVarSourceArgs{
				SecretKeyRef: &corev1.SecretKeySelectorArgs{Name: args.SynapseSecretName, Key: pulumi.String(synapseconfig.SecretRegistration)},
			}},
		)
		template = &corev1.PodTemplateSpecArgs{
			Metadata: &metav1.ObjectMetaArgs{Labels: labels},
			Spec: &corev1.PodSpecArgs{
				RestartPolicy:                pulumi.String("Never"),
				AutomountServiceAccountToken: pulumi.Bool(false),
				EnableServiceLinks:           pulumi.Bool(false),
				SecurityContext:              PodSecurity(SynapseUID),
				Containers: corev1.ContainerArray{corev1.ContainerArgs{
					Name:            pulumi.String("register"),
					Image:           pulumi.String(main.Image),
					Command:         pulumi.ToStringArray([]string{"/bin/sh", "-c", masconfig.FirstAdminSynapseScript}),
					Env:             env,
					Resources:       initResources(),
					SecurityContext: ContainerSecurity(),
				}},
			},
		}
	}
	comp.Job, err = batchv1.NewJob(ctx, name+"-job", &batchv1.JobArgs{
		Metadata: &metav1.ObjectMetaArgs{Namespace: args.Namespace, Labels: MetaLabels(FirstAdminName, componentFirstAdmin)},
		Spec: &batchv1.JobSpecArgs{
			BackoffLimit:          pulumi.Int(3),
			ActiveDeadlineSeconds: pulumi.Int(600),
			Template:              template,
		},
	}, pulumi.Parent(comp), pulumi.DependsOn([]pulumi.Resource{comp.Secret}))
	if err != nil {
		return nil, err
	}
	if err := ctx.RegisterResourceOutputs(comp, pulumi.Map{
		"username": pulumi.String(c.Admin.Username),
		"secret":   pulumi.String(FirstAdminSecretName),
	}); err != nil {
		return nil, err
	}
	return comp, nil
}
