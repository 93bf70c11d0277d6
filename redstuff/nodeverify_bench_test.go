package redstuff_test

import (
	"hash/crc32"
	"runtime"
	"testing"

	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/redstuff"
)

// BenchmarkNodeVerify verifies all 2n slivers of a 256 MiB blob at n = 1000 the way the
// storage nodes receive them, next to the floor's way. Run it with -cpu 1: a devnet node
// runs its Go code on one thread.
//
//   - floor: enc.VerifySliver on each sliver where the encoder left it, one after the other
//     (BenchmarkStoreCPU's floor does the same on GOMAXPROCS goroutines).
//   - node: the slivers arrive in upload requests of 16 MiB, one node's 100 pairs after
//     another's; each sliver's BCS SliverData is copied 16 KiB at a time (as TLS records are
//     decrypted) into a frame buffer recycled from earlier requests, decoded, verified and
//     checksummed (CRC-32C), as engine.PutBatch does.
//
// verify-cpu-s is the thread CPU time of the verification calls alone, per blob. To see the
// cost of sharing a core with other processes, as the nodes of a devnet do, pin the benchmark
// and a second copy of it to one CPU (taskset -c 1).
func BenchmarkNodeVerify(b *testing.B) {
	const n, size, perNode, request = 1000, 256 << 20, 100, 16 << 20
	enc, e := encodedBlob(b, n, size, 4)
	var all []redstuff.Sliver
	for p := 0; p < n; p++ {
		pr, se := e.Pair(p)
		all = append(all, pr, se)
	}
	crcTable := crc32.MakeTable(crc32.Castagnoli)
	for _, mode := range []string{"floor", "node"} {
		b.Run(mode, func(b *testing.B) {
			// The thread CPU clock measures this goroutine only if it stays on one thread.
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			var verifyNs int64
			verify := func(sl redstuff.Sliver) {
				start := redstuff.ThreadCPU()
				if err := enc.VerifySliver(sl, e.SymbolSize, e.Hashes); err != nil {
					b.Fatal(err)
				}
				verifyNs += redstuff.ThreadCPU() - start
			}
			free := map[int][][]byte{} // recycled frame buffers by length
			b.SetBytes(size)
			start := redstuff.CPUTime()
			for b.Loop() {
				if mode == "floor" {
					for _, sl := range all {
						verify(sl)
					}
					continue
				}
				for node := 0; node < n/perNode; node++ {
					var held [][]byte
					reqBytes := 0
					for _, sl := range all[2*node*perNode : 2*(node+1)*perNode] {
						head, tail, err := blob.SliverDataFraming(len(sl.Data), sl.SymbolSize, sl.Index)
						if err != nil {
							b.Fatal(err)
						}
						size := len(head) + len(sl.Data) + len(tail)
						var frame []byte
						if l := free[size]; len(l) > 0 {
							frame, free[size] = l[len(l)-1], l[:len(l)-1]
						} else {
							frame = make([]byte, size)
						}
						copy(frame, head)
						for off := 0; off < len(sl.Data); off += 16 << 10 {
							copy(frame[len(head)+off:], sl.Data[off:min(off+16<<10, len(sl.Data))])
						}
						copy(frame[len(head)+len(sl.Data):], tail)
						got, err := blob.UnmarshalSliverData(frame, sl.Axis)
						if err != nil {
							b.Fatal(err)
						}
						verify(got)
						_ = crc32.Checksum(frame, crcTable)
						held = append(held, frame)
						if reqBytes += len(frame); reqBytes >= request {
							for _, f := range held {
								free[len(f)] = append(free[len(f)], f)
							}
							held, reqBytes = held[:0], 0
						}
					}
					for _, f := range held {
						free[len(f)] = append(free[len(f)], f)
					}
				}
			}
			redstuff.ReportCPU(b, start)
			b.ReportMetric(float64(verifyNs)/1e9/float64(b.N), "verify-cpu-s")
		})
	}
}
