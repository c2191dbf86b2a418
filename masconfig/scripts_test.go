package masconfig

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"synapse/internal/realtools"
)

// TestGuardScript runs the guard with a fake psql that answers as a
// database would, and checks who passes: a new server, a server without
// Synapse-managed accounts; and who is refused: one with such accounts.
func TestGuardScript(t *testing.T) {
	for _, tc := range []struct {
		name, hasSchema, count string
		ok                     bool
	}{
		{"new server", "f", "", true},
		{"no Synapse accounts", "t", "0", true},
		{"three Synapse accounts", "t", "3", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			fake := "#!/bin/sh\ncase \"$*\" in\n*to_regclass*) echo " + tc.hasSchema + " ;;\n*count*) echo " + tc.count + " ;;\n*) exit 3 ;;\nesac\n"
			if err := os.WriteFile(filepath.Join(dir, "psql"), []byte(fake), 0o755); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("sh", "-c", GuardScript)
			cmd.Env = append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"))
			out, err := cmd.CombinedOutput()
			if (err == nil) != tc.ok {
				t.Errorf("exit %v, want ok=%v\n%s", err, tc.ok, out)
			}
			if !tc.ok && !strings.Contains(string(out), "syn2mas") {
				t.Errorf("refusal does not say what to do:\n%s", out)
			}
		})
	}
	if !strings.Contains(syn2masCount, "password_hash IS NOT NULL") || !strings.Contains(syn2masCount, "access_tokens") {
		t.Error("the count misses passwords or tokens")
	}
}

// TestLeaveGuardScript: with a fake psql, a new server or one whose
// accounts Synapse can sign in passes; accounts only MAS can sign in
// refuse, saying what to do.
func TestLeaveGuardScript(t *testing.T) {
	for _, tc := range []struct {
		name, hasSchema, count string
		ok                     bool
	}{
		{"new server", "f", "", true},
		{"every account has Synapse credentials", "t", "0", true},
		{"accounts only MAS holds", "t", "12", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			fake := "#!/bin/sh\ncase \"$*\" in\n*to_regclass*) echo " + tc.hasSchema + " ;;\n*count*) echo " + tc.count + " ;;\n*) exit 3 ;;\nesac\n"
			if err := os.WriteFile(filepath.Join(dir, "psql"), []byte(fake), 0o755); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("sh", "-c", LeaveGuardScript)
			cmd.Env = append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"))
			out, err := cmd.CombinedOutput()
			if (err == nil) != tc.ok {
				t.Errorf("exit %v, want ok=%v\n%s", err, tc.ok, out)
			}
			if !tc.ok && !strings.Contains(string(out), "mas.leaveAcknowledged") {
				t.Errorf("refusal does not say what to do:\n%s", out)
			}
		})
	}
	for _, want := range []string{"password_hash IS NULL", "NOT EXISTS (SELECT 1 FROM access_tokens", "NOT EXISTS (SELECT 1 FROM user_external_ids", "deactivated = 0", "appservice_id IS NULL"} {
		if !strings.Contains(masOnlyCount, want) {
			t.Errorf("the count lacks %q", want)
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
