package objectstore

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"synapse/internal/realtools"
)

func prodSetup() Setup {
	return Setup{
		Alias:     "synapse",
		PolicyDir: "/setup",
		Buckets:   []string{"synapse-postgres-backups", "synapse-media"},
		Grants: []Grant{
			{User: "synapse-media", Bucket: "synapse-media", AccessKeyEnv: "MEDIA_ACCESS_KEY_ID", SecretKeyEnv: "MEDIA_SECRET_ACCESS_KEY"},
			{User: "postgres-backup", Bucket: "synapse-postgres-backups", AccessKeyEnv: "BACKUP_ACCESS_KEY_ID", SecretKeyEnv: "BACKUP_SECRET_ACCESS_KEY"},
		},
	}
}

// allowedActions are what synapse-s3-storage-provider and barman-cloud do.
var allowedActions = map[string]bool{
	"s3:GetBucketLocation": true, "s3:ListBucket": true, "s3:ListBucketMultipartUploads": true,
	"s3:GetObject": true, "s3:PutObject": true, "s3:DeleteObject": true,
	"s3:AbortMultipartUpload": true, "s3:ListMultipartUploadParts": true,
}

// Each policy allows its bucket and the objects in it, and nothing else:
// no wildcard resource, no admin action.
func TestPolicyScopedToItsBucket(t *testing.T) {
	raw, err := Policy("synapse-media")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Statement []struct {
			Effect   string
			Action   []string
			Resource []string
		}
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	var resources []string
	for _, st := range doc.Statement {
		if st.Effect != "Allow" {
			t.Errorf("statement effect %q", st.Effect)
		}
		for _, a := range st.Action {
			if !allowedActions[a] {
				t.Errorf("action %q: only listing and object read/write/delete", a)
			}
		}
		resources = append(resources, st.Resource...)
	}
	want := []string{"arn:aws:s3:::synapse-media", "arn:aws:s3:::synapse-media/*"}
	if strings.Join(resources, " ") != strings.Join(want, " ") {
		t.Errorf("resources %q, want exactly %q", resources, want)
	}
	if _, err := Policy("*"); err == nil {
		t.Error("a wildcard bucket was accepted")
	}
}

func TestScript(t *testing.T) {
	s := prodSetup()
	script, err := s.Script()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"set -eu\n",
		"mc mb --ignore-existing 'synapse/synapse-media'\n",
		"mc mb --ignore-existing 'synapse/synapse-postgres-backups'\n",
		"mc admin policy create 'synapse' 'synapse-media' '/setup/synapse-media.json'\n",
		`mc admin user add 'synapse' "${BACKUP_ACCESS_KEY_ID}" "${BACKUP_SECRET_ACCESS_KEY}"` + "\n",
		`mc admin policy attach 'synapse' 'postgres-backup' --user "${BACKUP_ACCESS_KEY_ID}"` + "\n",
	} {
		if !strings.Contains(script, want) {
			t.Errorf("script lacks %q:\n%s", want, script)
		}
	}
	// A user exists before its policy is attached, and the policy before
	// that.
	create := strings.Index(script, "policy create 'synapse' 'synapse-media'")
	add := strings.Index(script, `user add 'synapse' "${MEDIA_ACCESS_KEY_ID}"`)
	attach := strings.Index(script, "policy attach 'synapse' 'synapse-media'")
	if !(create < add && add < attach) {
		t.Errorf("order: create %d, add %d, attach %d", create, add, attach)
	}
	policies, err := s.Policies()
	if err != nil {
		t.Fatal(err)
	}
	if len(policies) != 2 || !strings.Contains(policies["postgres-backup.json"], "synapse-postgres-backups/*") {
		t.Errorf("policies: %v", policies)
	}
}

// Nothing that could break out of the script's quoting is accepted.
func TestScriptRefusesUnsafeNames(t *testing.T) {
	for name, mutate := range map[string]func(*Setup){
		"bucket with a quote":       func(s *Setup) { s.Buckets[0] = "a'b" },
		"env with a command":        func(s *Setup) { s.Grants[0].AccessKeyEnv = "X$(id)" },
		"user with a space":         func(s *Setup) { s.Grants[1].User = "a b" },
		"alias with a semicolon":    func(s *Setup) { s.Alias = "a;rm" },
		"relative policy dir":       func(s *Setup) { s.PolicyDir = "setup" },
		"grant on an unmade bucket": func(s *Setup) { s.Grants[0].Bucket = "other" },
		"one user twice":            func(s *Setup) { s.Grants[1].User = s.Grants[0].User },
	} {
		s := prodSetup()
		mutate(&s)
		if _, err := s.Script(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// shellcheck (installed by .ci/run) finds nothing in the script.
func TestScriptPassesShellcheck(t *testing.T) {
	bin := realtools.LookPath(t, "shellcheck", "apt-get install shellcheck")
	script, err := prodSetup().Script()
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "setup.sh")
	if err := os.WriteFile(f, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "-s", "sh", f).CombinedOutput(); err != nil {
		t.Errorf("shellcheck: %v\n%s\n%s", err, out, script)
	}
}
