//go:build race

package redstuff_test

// raceEnabled reports whether the race detector is on (tests then trim their slowest cases;
// .ci/run also runs them without it).
const raceEnabled = true
