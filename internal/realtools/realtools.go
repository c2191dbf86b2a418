// Package realtools holds the one policy for tests that need a real tool
// (haproxy, kube-apiserver, etcd): without it they skip, unless
// REQUIRE_REAL_TOOLS=1 (CI, where .ci/run installs every tool), where a
// missing tool is a failure, so that a green CI never hides a skipped check.
package realtools

import (
	"fmt"
	"os"
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
