package components

import (
	"fmt"
	"strconv"

	batchv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/batch/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"synapse/config"
	"synapse/plan"
)

// MaintenanceType is the token of the Maintenance component.
const MaintenanceType = "synapse:index:Maintenance"

// StateCompressorName names the state compression CronJob and labels its
// pods (app.kubernetes.io/name): `kubectl create job --from=cronjob/<it>`
// runs it now, and the Postgres NetworkPolicy admits its pods.
const StateCompressorName = "synapse-state-compressor"

// componentMaintenance labels maintenance pods. They are not Synapse
// processes: no Synapse policy, Service or ServiceMonitor selects them.
const componentMaintenance = "maintenance"

// CompressorUID: the compressor images (upstream's and
// images/synapse-compress-state) are Alpine with the binary world-executable;
// "nobody" runs it.
const CompressorUID = 65534

// stateCompressionDeadline bounds one run (chunks × chunkSize state groups;
// a run that takes longer is stopped and the next one continues where the
// compressor saved its progress).
const stateCompressionDeadline = 6 * 3600

// MaintenanceArgs configure the scheduled maintenance jobs.
type MaintenanceArgs struct {
	Namespace pulumi.StringInput
	Config    *config.Config
	Plan      *plan.Plan
}

// Maintenance holds the scheduled jobs a Synapse operator runs: today the
// state compression CronJob (nil when maintenance.stateCompression is off).
// Purging old media is Synapse's own job (media_retention), and the media
// workers' local stores are bounded in their pods (mediaCacheContainer).
type Maintenance struct {
	pulumi.ResourceState

	StateCompression *batchv1.CronJob
}

// NewMaintenance creates the enabled maintenance jobs.
func NewMaintenance(ctx *pulumi.Context, name string, args *MaintenanceArgs, opts ...pulumi.ResourceOption) (*Maintenance, error) {
	if args == nil || args.Config == nil || args.Plan == nil || args.Namespace == nil {
		return nil, fmt.Errorf("components: Maintenance %s: Namespace, Config and Plan are required", name)
	}
	c := &Maintenance{}
	if err := ctx.RegisterComponentResource(MaintenanceType, name, c, opts...); err != nil {
		return nil, err
	}
	if sc := args.Config.Maintenance.StateCompression; sc.Enabled {
		cj, err := batchv1.NewCronJob(ctx, name+"-state-compression", &batchv1.CronJobArgs{
			Metadata: &metav1.ObjectMetaArgs{
				Name: pulumi.String(StateCompressorName), Namespace: args.Namespace,
				Labels: MetaLabels(StateCompressorName, componentMaintenance),
			},
			Spec: stateCompressionSpec(sc, args.Plan),
		}, pulumi.Parent(c))
		if err != nil {
			return nil, err
		}
		c.StateCompression = cj
	}
	outputs := pulumi.Map{}
	if c.StateCompression != nil {
		outputs["stateCompression"] = pulumi.String(StateCompressorName)
	}
	if err := ctx.RegisterResourceOutputs(c, outputs); err != nil {
		return nil, err
	}
	return c, nil
}

// stateCompressionSpec runs synapse_auto_compressor
// (matrix-org/rust-synapse-compress-state) on schedule. The compressor
// keeps its progress in the database (state_compressor_* tables), so each
// run continues where the last stopped; its changes are safe with Synapse
// running (it rewrites one state group per transaction, and state groups
// are append-only). Runs never overlap (Forbid): two would work on the
// same rooms.
func stateCompressionSpec(sc config.StateCompression, p *plan.Plan) *batchv1.CronJobSpecArgs {
	pg := p.Postgres()
	env := corev1.EnvVarArray{
		corev1.EnvVarArgs{Name: pulumi.String("PGHOST"), Value: pulumi.String(pg.Host())},
		corev1.EnvVarArgs{Name: pulumi.String("PGPORT"), Value: pulumi.String(strconv.Itoa(pg.Port))},
		corev1.EnvVarArgs{Name: pulumi.String("PGDATABASE"), Value: pulumi.String(plan.PostgresDatabase)},
		corev1.EnvVarArgs{Name: pulumi.String("PGUSER"), Value: pulumi.String(plan.PostgresOwner)},
		// Synapse's own credentials (the database owner): the compressor
		// rewrites state tables and creates its progress tables.
		secretEnv("PGPASSWORD", plan.PostgresSecretName, plan.PostgresSecretPass),
	}
	return &batchv1.CronJobSpecArgs{
		Schedule:                   pulumi.String(sc.Schedule),
		ConcurrencyPolicy:          pulumi.String("Forbid"),
		StartingDeadlineSeconds:    pulumi.Int(3600), // a run missed by more than an hour waits for the next
		SuccessfulJobsHistoryLimit: pulumi.Int(3),
		FailedJobsHistoryLimit:     pulumi.Int(3),
		JobTemplate: &batchv1.JobTemplateSpecArgs{
			Metadata: &metav1.ObjectMetaArgs{Labels: MetaLabels(StateCompressorName, componentMaintenance)},
			Spec: &batchv1.JobSpecArgs{
				BackoffLimit:          pulumi.Int(1),
				ActiveDeadlineSeconds: pulumi.Int(stateCompressionDeadline),
				Template: &corev1.PodTemplateSpecArgs{
					Metadata: &metav1.ObjectMetaArgs{Labels: MetaLabels(StateCompressorName, componentMaintenance)},
					Spec: &corev1.PodSpecArgs{
						RestartPolicy:                pulumi.String("Never"),
						AutomountServiceAccountToken: pulumi.Bool(false),
						EnableServiceLinks:           pulumi.Bool(false),
						SecurityContext:              PodSecurity(CompressorUID),
						Containers: corev1.ContainerArray{corev1.ContainerArgs{
							Name:            pulumi.String("compressor"),
							Image:           pulumi.String(sc.Image),
							Command:         pulumi.ToStringArray([]string{"/bin/sh"}),
							Args:            pulumi.ToStringArray(StateCompressorArgs(sc)),
							Env:             env,
							Resources:       resources(sc.Resources),
							SecurityContext: ContainerSecurity(),
						}},
					},
				},
			},
		},
	}
}

// stateCompressorScript runs synapse_auto_compressor with the connection
// built from the environment at run time, so that the password is in no
// object the API server stores (it comes from the Postgres Secret as
// PGPASSWORD). The compressor takes the connection only as -p and prints
// it when it cannot connect ("Error occured while connecting to <-p>"),
// so its output goes through awk, which replaces the password; the
// compressor's exit status is the script's. POSIX sh, sed and awk (busybox
// in the Alpine images). $1 is chunkSize (-c), $2 chunks (-n).
const stateCompressorScript = `set -u
quote() { printf "'%s'" "$(printf '%s' "$1" | sed "s/[\\\\']/\\\\&/g")"; }
PW_QUOTED=$(quote "$PGPASSWORD")
export PW_QUOTED
conn="host=$(quote "$PGHOST") port=$(quote "$PGPORT") dbname=$(quote "$PGDATABASE") user=$(quote "$PGUSER") password=$PW_QUOTED"
rc=$( { { synapse_auto_compressor -p "$conn" -c "$1" -n "$2" 2>&1; echo "$?" >&3; } | awk '
  BEGIN { n = split(ENVIRON["PW_QUOTED"] "\n" ENVIRON["PGPASSWORD"], secret, "\n") }
  {
    line = $0
    for (k = 1; k <= n; k++) {
      if (secret[k] == "") continue
      out = ""
      while ((i = index(line, secret[k])) > 0) {
        out = out substr(line, 1, i - 1) "[redacted]"
        line = substr(line, i + length(secret[k]))
      }
      line = out line
    }
    print line
    fflush()
  }' >&2; } 3>&1 )
exit "${rc:-1}"
`

// StateCompressorArgs are the /bin/sh arguments of the compressor
// container: the script, its $0, then chunkSize and chunks.
func StateCompressorArgs(sc config.StateCompression) []string {
	return []string{"-c", stateCompressorScript, StateCompressorName, strconv.Itoa(sc.ChunkSize), strconv.Itoa(sc.Chunks)}
}
