package realtools

import "testing"

// recorder captures how Missing ends a test.
type recorder struct {
	testing.TB
	skipped, failed bool
}

func (r *recorder) Helper()                        {}
func (r *recorder) Skipf(format string, a ...any)  { r.skipped = true }
func (r *recorder) Fatalf(format string, a ...any) { r.failed = true }

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
