package masconfig

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"synapse/internal/realtools"
)

// TestGuardScripts: with a fake psql, each guard passes a new server and
// one whose count is 0, and refuses otherwise, saying which key to set.
func TestGuardScripts(t *testing.T) {
	for _, g := range []struct {
		name, script, says string
	}{
		{"syn2mas", GuardScript, "mas.existingUsersMigrated"},
		{"leave", LeaveGuardScript, "mas.leaveAcknowledged"},
	} {
		for _, tc := range []struct {
			name, hasSchema, count string
			ok                     bool
		}{
			{"new server", "f", "", true},
			{"none counted", "t", "0", true},
			{"three counted", "t", "3", false},
		} {
			t.Run(g.name+"/"+tc.name, func(t *testing.T) {
				dir := t.TempDir()
				fake := "#!/bin/sh\ncase \"$*\" in\n*to_regclass*) echo " + tc.hasSchema + " ;;\n*count*) echo " + tc.count + " ;;\n*) exit 3 ;;\nesac\n"
				if err := os.WriteFile(filepath.Join(dir, "psql"), []byte(fake), 0o755); err != nil {
					t.Fatal(err)
				}
				cmd := exec.Command("sh", "-c", g.script)
				cmd.Env = append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"))
				out, err := cmd.CombinedOutput()
				if (err == nil) != tc.ok {
					t.Errorf("exit %v, want ok=%v\n%s", err, tc.ok, out)
				}
				if !tc.ok && !strings.Contains(string(out), g.says) {
					t.Errorf("refusal does not say what to do (%s):\n%s", g.says, out)
				}
			})
		}
	}
	// What each counts: syn2mas what Synapse can sign in, the leave
	// guard what only MAS can.
	for count, want := range map[string][]string{
		syn2masCount: {"password_hash IS NOT NULL", "OR EXISTS (SELECT 1 FROM access_tokens", "OR EXISTS (SELECT 1 FROM user_external_ids", "deactivated = 0", "appservice_id IS NULL"},
		masOnlyCount: {"password_hash IS NULL", "NOT EXISTS (SELECT 1 FROM access_tokens", "NOT EXISTS (SELECT 1 FROM user_external_ids", "deactivated = 0", "appservice_id IS NULL"},
	} {
		for _, w := range want {
			if !strings.Contains(count, w) {
				t.Errorf("count %q lacks %q", count, w)
			}
		}
	}
}

// TestFirstAdminScripts: the MAS script treats "already exists" as done
// and any other failure as a failure, with a fake mas-cli.
func TestFirstAdminScripts(t *testing.T) {
	for _, tc := range []struct {
		name, say string
		code      int
		ok        bool
	}{
		{"created", "User created", 0, true},
		{"exists", "Error: User already exists", 1, true},
		// No admin exists: pulumi up must not report one.
		{"refused by Synapse", "Error: Username not available on homeserver", 1, false},
		{"synapse down", "Error: connection refused", 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			fake := "#!/bin/sh\necho '" + tc.say + "'\nexit " + string(rune('0'+tc.code)) + "\n"
			if err := os.WriteFile(filepath.Join(dir, "mas-cli"), []byte(fake), 0o755); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("sh", "-c", FirstAdminMASScript)
			cmd.Env = append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"), "ADMIN_USERNAME=admin", "ADMIN_PASSWORD=pw")
			out, err := cmd.CombinedOutput()
			if (err == nil) != tc.ok {
				t.Errorf("exit %v, want ok=%v\n%s", err, tc.ok, out)
			}
			if strings.Contains(string(out), "pw\n") {
				t.Errorf("the password is echoed:\n%s", out)
			}
		})
	}
}

func TestScriptsPassShellcheck(t *testing.T) {
	bin := realtools.LookPath(t, "shellcheck", "apt-get install shellcheck")
	for name, s := range map[string]string{"guard": GuardScript, "leave guard": LeaveGuardScript, "mas": FirstAdminMASScript, "synapse": FirstAdminSynapseScript} {
		f := filepath.Join(t.TempDir(), name+".sh")
		if err := os.WriteFile(f, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(bin, "-s", "sh", f).CombinedOutput(); err != nil {
			t.Errorf("%s: shellcheck: %v\n%s\n%s", name, err, out, s)
		}
	}
}
