package client

import (
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/floelabs/floe/redstuff"
)

// recordCopier copies what it is written into a record-sized buffer, as crypto/tls does
// before sealing a record.
type recordCopier struct{ rec [16 << 10]byte }

func (w *recordCopier) Write(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		n += copy(w.rec[:], p[n:])
	}
	return n, nil
}

// BenchmarkEncodeAndSend is a warm in-memory store's client work without the network: the
// blob (256 MiB, n = 1000) encoded into reused sliver memory, then every sliver read out
// through upload bodies of UploadChunkBytes into a writer that copies it as TLS would.
// warm-cpu-s/op leaves out the first iteration, which maps fresh sliver memory.
func BenchmarkEncodeAndSend(b *testing.B) {
	enc, err := redstuff.New(1000)
	if err != nil {
		b.Fatal(err)
	}
	p := enc.Params()
	data := make([]byte, 256<<20)
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i+8 <= len(data); i += 8 {
		v := r.Uint64()
		for j := range 8 {
			data[i+j] = byte(v >> (8 * j))
		}
	}
	var mem sliverMemory
	defer mem.release()
	w := &recordCopier{}
	cpu := func() time.Duration {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	b.SetBytes(int64(len(data)))
	var start time.Duration
	for i := 0; b.Loop(); i++ {
		if i == 1 { // the first store's fresh memory apart
			start = cpu()
		}
		need, _ := enc.SliverMemory(uint64(len(data)))
		m := mem.take(need)
		if m == nil {
			m = mem.alloc(need)
		}
		l, err := enc.EncodeInto(data, m)
		if err != nil {
			b.Fatal(err)
		}
		e := &encodedBlob{Commitment: l.Commitment, params: p, mem: l, guard: &memGuard{}}
		chunk := DefaultCommunicationConfig().UploadChunkBytes
		for p0 := 0; p0 < p.NShards; {
			body := &batchBody{}
			size := int64(0)
			for ; p0 < p.NShards && size < chunk; p0++ {
				for _, a := range []redstuff.Axis{redstuff.Primary, redstuff.Secondary} {
					k, err := e.writeSliver(body, nil, p0, a)
					if err != nil {
						b.Fatal(err)
					}
					size += k
				}
			}
			if _, err := body.reader().WriteTo(w); err != nil {
				b.Fatal(err)
			}
		}
		mem.give(l.Memory())
	}
	if b.N > 1 {
		b.ReportMetric((cpu()-start).Seconds()/float64(b.N-1), "warm-cpu-s/op")
	}
}
