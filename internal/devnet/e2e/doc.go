// Package e2e holds the end-to-end tests of a whole Floe network: `floe devnet` as child
// processes, driven through the client SDK, the CLI and the HTTP daemon. Run the default
// devnet's size (10 nodes, 1000 shards, 64 MiB blobs) and the benchmarks with
//
//	go test ./internal/devnet/e2e -devnet.long
//	go test ./internal/devnet/e2e -run XXX -bench . -benchtime 1x
package e2e
