// Package nodestore is a storage node's persistent store, on Pebble: the metadata of the blobs
// the node holds, their slivers per shard, the node's view of every blob's registration
// (BlobInfo) and the cursor of the last control-plane event it applied.
//
// # Durability
//
// Every write method (Put..., Delete..., Commit, ApplyEvent, DropShard, the deletions of
// CollectGarbage and the quarantine moves of Scrub) commits with pebble.Sync: when it returns
// nil, the change is in Pebble's write-ahead log and fsynced, and it survives a crash of the
// process or of the machine. A node may therefore acknowledge an upload as soon as the call
// returns. Writes that belong together (a sliver pair, a whole upload, the blob-info changes of
// an event and the event cursor) go through one Pebble batch and become durable atomically:
// after a crash either all of them are there or none is.
//
// # Failures
//
// Errors are wrapped with %w around the sentinel errors of this package (ErrNotFound,
// ErrCorrupt, ...) and, for I/O, around the error of the file system. Pebble treats a failed
// write-ahead-log write or sync (a full disk, an I/O error) as fatal, because it cannot know
// what reached the disk: the store turns that into ErrFailed for the call that hit it and for
// every later call, so the node stops acknowledging writes; the store never touches the
// database again (Close releases nothing), and the process should exit and restart. What was
// acknowledged before stays intact: Pebble recovers it from its log on the next Open. A fatal error that Pebble meets in a background job (a
// flush or compaction that cannot write its manifest) panics, ending the process: that is the
// fail-stop behaviour Pebble is built for, and a restart recovers every acknowledged write.
//
// # Layout
//
// keys.go documents every key prefix and record. The format version is written when a store
// is created and checked on every Open; Open refuses a version it does not know.
package nodestore
