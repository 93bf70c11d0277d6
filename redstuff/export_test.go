package redstuff

import (
	"testing"
	"time"
)

// WithKernels makes the Encoder use the named rs16 kernel set (see rs16.KernelSets), so that
// tests check every implementation of the field arithmetic this CPU runs.
func WithKernels(name string) Option { return func(e *Encoder) { e.kernels = name } }

// CPUTime and ReportCPU let the external benchmarks report CPU time per operation.
func CPUTime() time.Duration { return cpuTime() }

// ReportCPU reports the CPU time per operation since start as cpu-ns/op.
func ReportCPU(b *testing.B, start time.Duration) { reportCPU(b, start) }

// WithGroupBytes sets how many bytes of symbols EncodeAt gathers per group of rows.
func WithGroupBytes(b int) Option { return func(e *Encoder) { e.groupBytes = b } }

// ThreadCPU returns the calling thread's CPU time in nanoseconds.
func ThreadCPU() int64 { return threadCPU() }
