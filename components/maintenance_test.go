package components

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"synapse/config"
	"synapse/internal/realtools"
)

// TestStateCompressorScript runs the compressor container's script under a
// real POSIX sh with a stand-in synapse_auto_compressor that records its
// arguments and, like the real one when it cannot connect, prints the
// connection string: the compressor gets the connection built from the
// environment (password included, quoted), the output never shows the
// password, and the compressor's exit status is the job's.
func TestStateCompressorScript(t *testing.T) {
	sh := realtools.LookPath(t, "sh", "apt-get install dash")
	for _, tc := range []struct {
		name, password string
		exit           int
	}{
		{"alphanumeric password, failure", "Zq7pLm2Xr9Tk4Vw8Nb3Hc6Jd1Fg5Sa0Y", 3},
		{"quote and backslash, success", `it's\a pass`, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			argsFile := filepath.Join(dir, "args")
			stub := "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done > " + argsFile +
				"\nprintf 'Error occured while connecting to %s: refused\\n' \"$2\"\nprintf 'also %s in the environment\\n' \"$PGPASSWORD\" >&2\nexit " + itoa(tc.exit) + "\n"
			if err := os.WriteFile(filepath.Join(dir, "synapse_auto_compressor"), []byte(stub), 0o755); err != nil {
				t.Fatal(err)
			}
			args := StateCompressorArgs(config.StateCompression{ChunkSize: 500, Chunks: 100})
			cmd := exec.Command(sh, args...)
			cmd.Env = []string{"PATH=" + dir + ":" + os.Getenv("PATH"), "PGHOST=pg.ns.svc", "PGPORT=5432",
				"PGDATABASE=synapse", "PGUSER=synapse", "PGPASSWORD=" + tc.password}
			out, err := cmd.CombinedOutput()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.exit {
				t.Errorf("exit %d, want the compressor's %d; output:\n%s", code, tc.exit, out)
			}
			if strings.Contains(string(out), tc.password) {
				t.Errorf("the output shows the password:\n%s", out)
			}
			if !strings.Contains(string(out), "Error occured while connecting to") || !strings.Contains(string(out), "[redacted]") {
				t.Errorf("the compressor's output is lost or not redacted:\n%s", out)
			}
			got, err := os.ReadFile(argsFile)
			if err != nil {
				t.Fatal(err)
			}
			quoted := "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(tc.password) + "'"
			want := "-p\nhost='pg.ns.svc' port='5432' dbname='synapse' user='synapse' password=" + quoted + "\n-c\n500\n-n\n100\n"
			if string(got) != want {
				t.Errorf("compressor arguments:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
