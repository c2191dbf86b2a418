package config

import (
	"fmt"
	"strings"
)

// FieldError is one problem with one stack config key.
type FieldError struct {
	Key     string // e.g. "pools.synchrotron.maxReplicas" (under the "synapse:" namespace)
	Value   string // the offending value as written, "" when missing
	Allowed string // what is allowed instead, and why where it is not obvious
	// Empty: the key is set, to "" (Value is "" too, but it is not missing).
	Empty bool
}

func (e FieldError) Error() string {
	if e.Empty {
		return fmt.Sprintf("synapse:%s: \"\" (empty) is not allowed; %s", e.Key, e.Allowed)
	}
	if e.Value == "" {
		return fmt.Sprintf("synapse:%s: missing; %s", e.Key, e.Allowed)
	}
	return fmt.Sprintf("synapse:%s: %q is not allowed; %s", e.Key, e.Value, e.Allowed)
}

// ValidationError is every problem found in a stack's config, in key order
// of discovery: users fix them all in one round.
type ValidationError []FieldError

func (v ValidationError) Error() string {
	lines := make([]string, len(v))
	for i, e := range v {
		lines[i] = "  - " + e.Error()
	}
	return fmt.Sprintf("invalid stack config (%d problem(s)):\n%s", len(v), strings.Join(lines, "\n"))
}

// Keys returns the keys named by the errors.
func (v ValidationError) Keys() []string {
	keys := make([]string, len(v))
	for i, e := range v {
		keys[i] = e.Key
	}
	return keys
}

type errorList struct {
	errs  ValidationError
	empty map[string]bool // keys written as "" (an error on one is not "missing")
}

func (l *errorList) add(key, value, allowed string) {
	l.errs = append(l.errs, FieldError{Key: key, Value: value, Allowed: allowed, Empty: value == "" && l.empty[key]})
}

func (l *errorList) addf(key, value, format string, args ...any) {
	l.add(key, value, fmt.Sprintf(format, args...))
}

// has reports whether a problem with key was already recorded.
func (l *errorList) has(key string) bool {
	for _, e := range l.errs {
		if e.Key == key {
			return true
		}
	}
	return false
}
