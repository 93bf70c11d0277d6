// Package client is Floe's client SDK: it stores blobs on and reads them from a Floe network
// (a control plane and a committee of storage nodes), following Walrus's reference client
// (spec §11.3 and §11.4).
//
// Store encodes a blob with RedStuff, buys or reuses storage and registers the blob on the
// control plane, uploads every node's sliver pairs in parallel with bounded concurrency,
// collects and verifies the nodes' signed storage confirmations until they cover a quorum
// (n-f) of the shards, aggregates them into a certificate and certifies the blob.
//
// Read fetches verified metadata, then streams the blob: the systematic primary slivers are
// its rows, so it fetches them in order, a bounded window ahead, verifies each and writes it,
// and memory stays bounded whatever the blob's size. If one of them cannot be had it falls
// back to fetching any K_p primary slivers from the nodes that answered fastest first,
// decoding them with Walrus's default consistency check and writing the rest. ReadRange
// streams only the rows that cover a byte range.
//
// A store that cannot succeed (more epochs than the control plane allows, a blob too large
// for n shards, a wallet that cannot pay) fails before any node is sent anything. Reads take
// ReadOptions: ConsistencyStrict re-encodes the blob and compares its ID, ConsistencySkip
// checks nothing beyond each sliver (Walrus's strict and skip consistency checks); stores
// reuse owned resources unless StoreOptions.IgnoreResources.
//
// Every node is reached over HTTPS with its certificate pinned to the network key it
// registered on the control plane (internal/nodetls), by the verifying client that storage
// nodes use too (internal/nodeclient); every fan-out to nodes is a job of internal/fanout. A
// node that serves wrong data or a bad signature is skipped and logged, never trusted.
//
// A Client is safe for concurrent use; transactions of one wallet are serialised.
package client
