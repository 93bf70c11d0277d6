//go:build !linux

package redstuff

import "time"

// threadCPU falls back to wall time where the thread CPU clock is not read.
func threadCPU() int64 { return time.Now().UnixNano() }
