//go:build race

package redstuff_test

// raceEnabled reports whether the race detector is on (tests then trim their slowest cases).
const raceEnabled = true
