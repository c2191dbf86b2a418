package masconfig

import "strings"

// syn2masCount counts the accounts Synapse itself manages: a password, an
// access token or an SSO link in Synapse's tables, which is what syn2mas
// migrates (accounts MAS provisioned have none of them in Synapse).
const syn2masCount = `SELECT count(*) FROM users u WHERE u.appservice_id IS NULL AND u.deactivated = 0 AND (` +
	`u.password_hash IS NOT NULL` +
	` OR EXISTS (SELECT 1 FROM access_tokens t WHERE t.user_id = u.name)` +
	` OR EXISTS (SELECT 1 FROM user_external_ids e WHERE e.user_id = u.name))`

// masOnlyCount counts the active accounts Synapse cannot sign in by
// itself: no password, no SSO link and no access token in Synapse's
// tables, which is what every account MAS provisioned looks like (MAS
// holds its credentials and issues its tokens).
const masOnlyCount = `SELECT count(*) FROM users u WHERE u.appservice_id IS NULL AND u.deactivated = 0` +
	` AND u.password_hash IS NULL` +
	` AND NOT EXISTS (SELECT 1 FROM access_tokens t WHERE t.user_id = u.name)` +
	` AND NOT EXISTS (SELECT 1 FROM user_external_ids e WHERE e.user_id = u.name)`

// guardScript is a Job's verdict on Synapse's accounts, through psql (the
// libpq environment: PGHOST, PGUSER, PGPASSWORD, …): it passes on a new
// server (no schema yet, saying newServer) and when count finds no
// account (saying none); otherwise it prints refusal, naming the $n
// accounts, and fails.
func guardScript(who, newServer, count, none string, refusal ...string) string {
	lines := []string{
		`set -eu`,
		`q() { psql -X -A -t -q -v ON_ERROR_STOP=1 -c "$1"; }`,
		`if [ "$(q "SELECT to_regclass('public.users') IS NOT NULL")" != "t" ]; then`,
		`  echo "` + who + `: Synapse has no schema yet (a new server): ` + newServer + `"`,
		`  exit 0`,
		`fi`,
		`n=$(q "` + count + `")`,
		`if [ "$n" = "0" ]; then`,
		`  echo "` + who + `: ` + none + `"`,
		`  exit 0`,
		`fi`,
	}
	for i, r := range refusal {
		if i == 0 {
			r = who + ": " + r
		}
		lines = append(lines, `echo "`+r+`" >&2`)
	}
	return strings.Join(append(lines, `exit 1`, ``), "\n")
}

// GuardScript refuses (exit 1) to put MAS in front of a Synapse that
// already has accounts of its own: they need syn2mas first (MAS docs,
// setup/migration.md), or people lose their passwords and sessions. A new
// server (no schema yet) or one without such accounts passes.
var GuardScript = guardScript("syn2mas guard", "MAS owns accounts from the start", syn2masCount,
	"no account with a Synapse password, token or SSO link: MAS may take over",
	`this Synapse has $n account(s) with a Synapse password, access token or SSO link.`,
	`Turning MAS on would lock them out. Migrate them with syn2mas (README, \"Moving an existing server to MAS\"),`,
	`then set synapse:mas.existingUsersMigrated=true; or set synapse:mas.enabled=false.`)

// LeaveGuardScript refuses (exit 1) to take MAS away from a Synapse whose
// accounts MAS holds: without MAS none of them could sign in, and there
// is no tool to move them back. A new server, or one whose accounts all
// have a Synapse password, SSO link or token, passes.
var LeaveGuardScript = guardScript("MAS leave guard", "Synapse owns accounts from the start", masOnlyCount,
	"every account can sign in to Synapse without MAS",
	`this Synapse has $n account(s) whose password and sessions MAS holds (no Synapse password, SSO link or token).`,
	`Turning MAS off would lock them out and sign everyone out. Keep synapse:mas.enabled=true;`,
	`or, to turn it off anyway (an administrator then sets Synapse passwords for them), set synapse:mas.leaveAcknowledged=true.`)

// FirstAdminMASScript creates the first admin in MAS once: an account
// that exists in MAS (created by an earlier run, or a person) is left as
// it is, password included. A name Synapse will not give (MAS says "not
// available": in use on Synapse's side only, reserved, or in an
// application service's namespace) fails the Job, as no admin exists.
// It runs in MAS's debug image (the release image has no shell) with
// MAS's config; ADMIN_USERNAME and ADMIN_PASSWORD come from the
// environment (the password from a Secret).
var FirstAdminMASScript = strings.Join([]string{
	`set -u`,
	`if out=$(mas-cli manage register-user --config ` + ConfigDir + "/" + ConfigFile + ` --yes --admin --ignore-password-complexity \`,
	`  --password "$ADMIN_PASSWORD" "$ADMIN_USERNAME" 2>&1); then`,
	`  printf '%s\n' "$out"`,
	`  echo "first admin: created $ADMIN_USERNAME"`,
	`  exit 0`,
	`fi`,
	`printf '%s\n' "$out"`,
	`case "$out" in`,
	`*"already exists"*)`,
	`  echo "first admin: $ADMIN_USERNAME exists: left as it is"`,
	`  exit 0`,
	`  ;;`,
	`*"not available"*)`,
	`  echo "first admin: Synapse refuses the name $ADMIN_USERNAME (taken on Synapse's side only, or an application service's): no admin was created; choose another admin.username" >&2`,
	`  ;;`,
	`esac`,
	`exit 1`,
	``,
}, "\n")

// FirstAdminSynapseScript creates the first admin through Synapse's
// shared-secret registration (no MAS): --exists-ok leaves an existing
// account as it is. SYNAPSE_URL is main's in-cluster URL;
// REGISTRATION_SHARED_SECRET and ADMIN_PASSWORD come from Secrets.
var FirstAdminSynapseScript = strings.Join([]string{
	`set -eu`,
	`register_new_matrix_user --exists-ok --admin -u "$ADMIN_USERNAME" -p "$ADMIN_PASSWORD" \`,
	`  -k "$REGISTRATION_SHARED_SECRET" "$SYNAPSE_URL"`,
	``,
}, "\n")
