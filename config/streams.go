package config

// Stream is a Synapse replication stream that a dedicated writer may take
// over from the main process (docs/workers.md, "stream_writers").
type Stream struct {
	Name string
	// MultiWriter: Synapse allows several writers. "Unless otherwise
	// documented, each stream can only have a single writer."
	MultiWriter    bool
	DefaultWriters int
}

// Streams that `streamWriters` may configure. `events` is written by the
// event persister pool and `quarantined_media_changes` by the media
// workers, so neither is configured here. The defaults are the four writers
// of the user's deployment (typing, to-device, receipts, presence).
var Streams = []Stream{
	{Name: "typing", DefaultWriters: 1},
	{Name: "to_device", DefaultWriters: 1},
	{Name: "account_data"},
	{Name: "presence", DefaultWriters: 1},
	{Name: "push_rules"},
	{Name: "receipts", MultiWriter: true, DefaultWriters: 1},
	{Name: "device_lists", MultiWriter: true},
	{Name: "thread_subscriptions", MultiWriter: true},
}

// StreamByName returns the named stream.
func StreamByName(name string) (Stream, bool) {
	for _, s := range Streams {
		if s.Name == name {
			return s, true
		}
	}
	return Stream{}, false
}

// MaxMultiWriters bounds multi-writer streams: each writer is a StatefulSet
// pod in instance_map, and every process restarts when the list changes.
const MaxMultiWriters = 16
