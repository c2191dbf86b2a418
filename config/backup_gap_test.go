package config

import (
	"testing"
	"time"
)

func TestBackupLongestGap(t *testing.T) {
	for _, tc := range []struct {
		schedule string
		want     time.Duration
	}{
		{DefaultBackupSchedule, 24 * time.Hour},
		{"0 0 3 * * 0", 7 * 24 * time.Hour},    // weekly
		{"0 0 */6 * * *", 6 * time.Hour},       // every six hours
		{"0 30 2 * * 1-5", 3 * 24 * time.Hour}, // weekdays: Friday to Monday
		{"0 0 4 1 * *", 31 * 24 * time.Hour},   // monthly: the longest month
		{"not a schedule", 0},
	} {
		if got := (Backup{Schedule: tc.schedule}).LongestGap(); got != tc.want {
			t.Errorf("%q: longest gap %v, want %v", tc.schedule, got, tc.want)
		}
	}
}
