package redstuff

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
)

// BenchmarkPhases reports where an Encode's or Commit's time goes at n = 1000, for a 1 KiB blob
// (2-byte symbols: n² one-block leaf hashes and 2n(n-1) inner hashes) and larger ones.
// It runs on one worker (BenchmarkEncode and BenchmarkCommit use all cores). Besides ns/op
// (wall) and cpu-ns/op (the process's CPU time), each phase is reported as the worker
// thread's CPU time per operation: leaves-ns/op (leaf hashing), rs-ns/op (Reed-Solomon encoding), copy-ns/op (the
// rest of the expansion: layout conversion and copies), merkle-ns/op (the 2n row and column
// roots), metadata-ns/op (the root over the pair hashes).
func BenchmarkPhases(b *testing.B) {
	for _, size := range []int{1 << 10, 1 << 20, 64 << 20} {
		for _, commit := range []bool{false, true} {
			op := "Encode"
			if commit {
				op = "Commit"
			}
			b.Run(fmt.Sprintf("n=1000/size=%s/%s", sizeName(size), op), func(b *testing.B) {
				// One worker, on this goroutine's locked thread, so that the thread's CPU
				// clock times every phase.
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				clock := phaseClock{clock: threadCPU}
				enc, err := New(1000, WithWorkers(1), withPhaseClock(&clock))
				if err != nil {
					b.Fatal(err)
				}
				data := make([]byte, size)
				rng := rand.New(rand.NewPCG(1, 2))
				for i := range data {
					data[i] = byte(rng.Uint32())
				}
				b.SetBytes(int64(size))
				start := cpuTime()
				for b.Loop() {
					if commit {
						_, err = enc.Commit(data)
					} else {
						_, err = enc.Encode(data)
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				reportCPU(b, start)
				per := func(p phase) float64 { return float64(clock.ns[p].Load()) / float64(b.N) }
				b.ReportMetric(per(phaseLeaves), "leaves-ns/op")
				b.ReportMetric(per(phaseRS), "rs-ns/op")
				b.ReportMetric(per(phaseExpand)-per(phaseLeaves)-per(phaseRS), "copy-ns/op")
				b.ReportMetric(per(phaseMerkle), "merkle-ns/op")
				b.ReportMetric(per(phaseMetadata), "metadata-ns/op")
			})
		}
	}
}

func sizeName(size int) string {
	if size >= 1<<20 {
		return fmt.Sprintf("%dMiB", size>>20)
	}
	return fmt.Sprintf("%dKiB", size>>10)
}
