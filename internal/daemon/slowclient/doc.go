// Package slowclient holds the daemon's slow-client acceptance test (issue 11): against a
// devnet's real `floe daemon` process with its default limits, 32 PUTs whose bodies trickle in
// one byte every 5 s and 32 GETs of a 10 MiB blob that never read their response stay open
// while 20 normal stores and reads must all succeed, each within a liveness deadline.
//
// It builds the floe binary (or uses $FLOE_TEST_BIN) and runs in `go test ./...`; -short skips
// it.
package slowclient
