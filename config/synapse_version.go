package config

// SynapseVersion is the one Synapse release this program is built and tested
// against: the default image runs it, and plan/endpoints.go cites its
// docs/workers.md for every route. Changing it means re-checking both.
const SynapseVersion = "v1.157.0"
