package realtools

import (
	"fmt"
	"strings"
	"testing"
)

// recorder captures how Missing ends a test.
type recorder struct {
	testing.TB
	skipped, failed bool
	msg             string
}

func (r *recorder) Helper() {}
func (r *recorder) Skipf(format string, a ...any) {
	r.skipped, r.msg = true, fmt.Sprintf(format, a...)
}
func (r *recorder) Fatalf(format string, a ...any) {
	r.failed, r.msg = true, fmt.Sprintf(format, a...)
}

func TestMissingSkipsOrFails(t *testing.T) {
	for _, tc := range []struct {
		env                string
		wantSkip, wantFail bool
	}{{"", true, false}, {"0", true, false}, {"1", false, true}} {
		t.Setenv(EnvRequire, tc.env)
		r := &recorder{TB: t}
		Missing(r, "haproxy not found")
		if r.skipped != tc.wantSkip || r.failed != tc.wantFail {
			t.Errorf("%s=%q: skipped=%v failed=%v, want %v/%v", EnvRequire, tc.env, r.skipped, r.failed, tc.wantSkip, tc.wantFail)
		}
	}
}

func TestLookPath(t *testing.T) {
	t.Setenv(EnvRequire, "")
	r := &recorder{TB: t}
	if p := LookPath(r, "sh", "apt-get install dash"); p == "" || r.skipped || r.failed {
		t.Errorf("sh: path %q, skipped=%v failed=%v", p, r.skipped, r.failed)
	}
	for _, tc := range []struct {
		env                string
		wantSkip, wantFail bool
	}{{"", true, false}, {"1", false, true}} {
		t.Setenv(EnvRequire, tc.env)
		r := &recorder{TB: t}
		if p := LookPath(r, "no-such-tool-realtools", "apt-get install no-such-package"); p != "" {
			t.Errorf("found %q", p)
		}
		if r.skipped != tc.wantSkip || r.failed != tc.wantFail {
			t.Errorf("%s=%q: skipped=%v failed=%v", EnvRequire, tc.env, r.skipped, r.failed)
		}
		// The message tells how to get the tool.
		if !strings.Contains(r.msg, "run 'apt-get install no-such-package'") {
			t.Errorf("message %q does not name the install command", r.msg)
		}
	}
}
