// Package realtools holds the one policy for tests that need a real tool
// (haproxy, kube-apiserver, etcd): without it they skip, unless
// REQUIRE_REAL_TOOLS=1 (CI, where .ci/run installs every tool), where a
// missing tool is a failure, so that a green CI never hides a skipped check.
//
// Tests never install or build a tool themselves (a build of kube-apiserver
// alone outlasts go test's default timeout): the skip message names the
// command that provides it.
package realtools

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// EnvRequire is the variable that turns a missing tool into a failure.
const EnvRequire = "REQUIRE_REAL_TOOLS"

// Required reports whether missing tools must fail rather than skip.
func Required() bool { return os.Getenv(EnvRequire) == "1" }

// Missing ends the test because a tool is missing: a skip, or a failure
// when REQUIRE_REAL_TOOLS=1.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if Required() {
		t.Fatalf("%s=1 but %s", EnvRequire, msg)
		return
	}
	t.Skipf("%s (set %s=1 to make this a failure)", msg, EnvRequire)
}

// sbinDirs are where Debian installs daemons (haproxy), outside a non-root
// user's PATH.
var sbinDirs = []string{"/usr/sbin", "/sbin"}

// LookPath returns the path of the program name (PATH, then /usr/sbin and
// /sbin), or ends the test with Missing, naming install: the command that
// provides the program (e.g. "apt-get install haproxy").
func LookPath(t testing.TB, name, install string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range sbinDirs {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	Missing(t, "%s not found: run '%s'", name, install)
	return ""
}
