// Package slowclient holds the daemon's slow-client acceptance test (issue 11): against a
// devnet's real `floe daemon` process with its default limits, 32 PUTs whose bodies trickle in
// one byte every 5 s and 32 GETs of a 10 MiB blob that never read their response stay open
// while 20 normal stores and reads must all succeed, each within a liveness deadline. Before
// the attack it checks, on the same network, that the daemon refuses more epochs than the
// control plane stores ahead (its SDK adapter's MaxEpochsAhead).
//
// It builds the floe binary (or uses $FLOE_TEST_BIN) and runs in `go test ./...`; -short skips
// it.
package slowclient
