package redstuff_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
	"unsafe"
)

// TestEncodeInto checks that EncodeInto reuses memory holding another blob's slivers (or any
// bytes) and produces exactly Encode's encoding, and that too small a buffer is not used.
func TestEncodeInto(t *testing.T) {
	for _, tc := range []struct{ n, size int }{{4, 1}, {10, 5000}, {13, 4097}, {100, 300000}} {
		t.Run(fmt.Sprintf("n=%d/size=%d", tc.n, tc.size), func(t *testing.T) {
			enc := mustEncoder(t, tc.n)
			rng := rand.New(rand.NewPCG(uint64(tc.size), 5))
			data := make([]byte, tc.size)
			for i := range data {
				data[i] = byte(rng.Uint32())
			}
			want, err := enc.Encode(data)
			if err != nil {
				t.Fatal(err)
			}
			need, err := enc.SliverMemory(uint64(tc.size))
			if err != nil {
				t.Fatal(err)
			}
			if got := len(want.Memory()); got != need {
				t.Fatalf("Encode's sliver memory: %d bytes, SliverMemory says %d", got, need)
			}
			mem := make([]byte, need+100)
			for i := range mem {
				mem[i] = byte(rng.Uint32())
			}
			got, err := enc.EncodeInto(data, mem)
			if err != nil {
				t.Fatal(err)
			}
			if unsafe.SliceData(got.Memory()) != unsafe.SliceData(mem) {
				t.Fatal("EncodeInto did not use the memory it was given")
			}
			if got.Root != want.Root || got.SymbolSize != want.SymbolSize || got.Length != want.Length {
				t.Fatal("EncodeInto's commitment differs from Encode's")
			}
			for i := range want.Primary {
				if !bytes.Equal(got.Primary[i], want.Primary[i]) || !bytes.Equal(got.Secondary[i], want.Secondary[i]) {
					t.Fatalf("sliver pair %d differs from Encode's", i)
				}
			}
			// With room for the working memory too (EncodeMemory), garbage in it included,
			// twice (the second reuses the first's memory, and pools nothing of it).
			whole, err := enc.EncodeMemory(uint64(tc.size))
			if err != nil {
				t.Fatal(err)
			}
			if whole <= need {
				t.Fatalf("EncodeMemory %d, not above SliverMemory %d", whole, need)
			}
			all := make([]byte, whole)
			for i := range all {
				all[i] = byte(rng.Uint32())
			}
			for round := range 2 {
				got, err := enc.EncodeInto(data, all)
				if err != nil {
					t.Fatal(err)
				}
				if unsafe.SliceData(got.Memory()) != unsafe.SliceData(all) || cap(got.Memory()) != whole {
					t.Fatalf("round %d: EncodeInto did not use (or give back) the whole memory it was given", round)
				}
				if got.Root != want.Root || got.Hashes[tc.n-1] != want.Hashes[tc.n-1] {
					t.Fatalf("round %d: EncodeInto with its working memory: commitment differs from Encode's", round)
				}
				for i := range want.Primary {
					if !bytes.Equal(got.Primary[i], want.Primary[i]) || !bytes.Equal(got.Secondary[i], want.Secondary[i]) {
						t.Fatalf("round %d: sliver pair %d differs from Encode's", round, i)
					}
				}
				// An encoding without the caller's memory now must not find any of it in
				// the encoder's pools: the caller writes all of it meanwhile.
				stop, done := make(chan struct{}), make(chan struct{})
				go func() {
					defer close(done)
					for {
						select {
						case <-stop:
							return
						default:
						}
						for i := range all {
							all[i]++
						}
					}
				}()
				other, err := enc.Encode(data)
				close(stop)
				<-done
				if err != nil {
					t.Fatal(err)
				}
				if other.Root != want.Root {
					t.Fatalf("round %d: an encoding after one in the caller's memory differs", round)
				}
			}
			small := make([]byte, need-1)
			again, err := enc.EncodeInto(data, small)
			if err != nil {
				t.Fatal(err)
			}
			if unsafe.SliceData(again.Memory()) == unsafe.SliceData(small) {
				t.Fatal("EncodeInto used a buffer too small for the slivers")
			}
			if again.Root != want.Root {
				t.Fatal("EncodeInto with a small buffer: commitment differs")
			}
		})
	}
}
