// Package archtest holds the test that keeps the import direction of the architecture:
// lower layers (encoding, blob vocabulary, the control-plane state machine) import no network,
// database or consensus package, and services do not reach into each other's internals.
package archtest
