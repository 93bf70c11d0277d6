// Package chaos is Floe's fault-injection suite on a devnet of real processes (its tests are
// the package): storage nodes are killed with SIGKILL and restarted, wiped, have bytes of
// their stored slivers flipped, and are restarted in a test-only Byzantine mode
// (floe node run --byzantine, a flag only the floetest build has: the suite builds its child
// binary with -tags floetest), while blobs are stored and read.
//
// The default `go test` runs the fast tier: Byzantine nodes seen by clients, a node down
// during a write, a wiped node, the recovery traffic of a sliver pair, a corrupted sliver,
// an inconsistently encoded blob, reads with two thirds of the shards down. The long run of
// random faults is TestChaos, selected by a duration:
//
//	go test ./internal/devnet/chaos -run TestChaos -chaos.duration=3m -chaos.seed=N -v
//
// It prints its seed first and its figures last, and fails if any blob whose store succeeded
// does not read back byte-identical at the end.
package chaos
