package config

import (
	"strings"
	"testing"
)

// The external backup target's keys: both required as secrets with an
// endpoint, refused without one, never echoed.
func TestReadBackupKeys(t *testing.T) {
	external, err := Parse(s3("postgres", `{"backup":{"enabled":true,"endpoint":"https://s3.example.org"}}`))
	if err != nil {
		t.Fatal(err)
	}
	onMinIO, err := Parse(s3("postgres", `{"backup":{"enabled":true}}`))
	if err != nil {
		t.Fatal(err)
	}
	type entry struct {
		v      string
		secret bool
	}
	for _, tc := range []struct {
		name     string
		c        *Config
		given    map[string]entry
		wantKeys []string // keys named by the errors; nil = accepted
		wantOK   bool     // keys returned
	}{
		{"external, both secret", external, map[string]entry{
			BackupS3AccessKeyIDKey: {"AKIDEXAMPLE", true}, BackupS3SecretAccessKeyKey: {"s3cr3t-value", true}}, nil, true},
		{"external, one missing", external, map[string]entry{
			BackupS3AccessKeyIDKey: {"AKIDEXAMPLE", true}}, []string{BackupS3SecretAccessKeyKey}, false},
		{"external, plain text", external, map[string]entry{
			BackupS3AccessKeyIDKey: {"AKIDEXAMPLE", true}, BackupS3SecretAccessKeyKey: {"s3cr3t-value", false}}, []string{BackupS3SecretAccessKeyKey}, false},
		{"MinIO, none", onMinIO, nil, nil, false},
		{"MinIO, a leftover key", onMinIO, map[string]entry{
			BackupS3AccessKeyIDKey: {"AKIDEXAMPLE", true}}, []string{BackupS3AccessKeyIDKey}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keys, err := readBackupKeys(tc.c, func(key string) (string, bool, bool) {
				e, ok := tc.given[key]
				return e.v, ok, e.secret
			})
			if tc.wantKeys == nil {
				if err != nil {
					t.Fatal(err)
				}
			} else {
				verr, ok := err.(ValidationError)
				if !ok {
					t.Fatalf("error %v, want a ValidationError on %v", err, tc.wantKeys)
				}
				if strings.Join(verr.Keys(), ",") != strings.Join(tc.wantKeys, ",") {
					t.Errorf("keys %v, want %v", verr.Keys(), tc.wantKeys)
				}
				if strings.Contains(err.Error(), "s3cr3t-value") || strings.Contains(err.Error(), "AKIDEXAMPLE") {
					t.Errorf("the error echoes a key: %v", err)
				}
			}
			if (keys != nil) != tc.wantOK {
				t.Errorf("keys returned: %v, want %v", keys != nil, tc.wantOK)
			}
		})
	}
}
