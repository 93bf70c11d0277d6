// Package engine is what a Floe storage node does, without HTTP: the domain half of
// internal/storagenode, which serves it over HTTPS. It imports no net/http (the architecture
// test holds this); its errors say what went wrong (ErrNotRegistered, ErrInvalidSliver, ...)
// and the HTTP layer maps them to status codes in one table.
//
// An Engine is a core of shared state (the store, the committee view and event progress, the
// pending-upload buffer, the peers, keys and metrics) and parts, each a type of its own:
//
//   - Uploads (uploads.go, uploads_batch.go, pending.go): checks an upload (registration,
//     shard assignment, indices), verifies it against the metadata and stores it, or holds it
//     in the pending buffer for a blob the node has not yet seen registered;
//   - Reads (reads.go): metadata, slivers (verified first with VerifyReads), recovery symbols
//     (each checked; a corrupt source sliver is quarantined and rebuilt), blob statuses;
//   - Confirmations (confirm.go): signs a storage confirmation once the blob is registered and
//     every sliver of the node's shards is stored;
//   - Inconsistency (inconsistency.go): attests other nodes' inconsistency proofs, and proves
//     a blob inconsistent itself (invalid-blob certificate) when recovery rebuilds a sliver
//     that contradicts the metadata;
//   - Events (events.go), Recovery (recovery.go) and housekeeping (engine.go): the background
//     work of Run: following the control plane's events, rebuilding missing slivers from
//     peers' recovery symbols, garbage collection and the scrubber;
//   - Health (health.go): what GET /v1/health reports.
//
// Peers are reached through internal/nodeclient and fanned out to through internal/fanout,
// as the SDK does.
package engine
