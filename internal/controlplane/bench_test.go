package controlplane

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"testing"
	"time"

	"golang.org/x/crypto/blake2b"

	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/crypto"
)

// populate adds n certified blob objects (with their storage) owned by owner, as if
// registered earlier, without going through transactions (signing a million transactions
// would make the benchmark's set-up take minutes).
func populate(s *State, n int, owner Address) {
	for i := range n {
		var seed [8]byte
		binary.LittleEndian.PutUint64(seed[:], uint64(i))
		id := ObjectID(blake2b.Sum256(append([]byte("bench-blob"), seed[:]...)))
		sid := ObjectID(blake2b.Sum256(append([]byte("bench-storage"), seed[:]...)))
		root := Hash(blake2b.Sum256(append([]byte("bench-root"), seed[:]...)))
		b := &Blob{ID: id, Owner: owner, BlobID: blob.ID(blake2b.Sum256(root[:])), Size: 1000, EncodingType: 1,
			RootHash: root, RegisteredEpoch: s.d.Epoch, Certified: true, CertifiedEpoch: s.d.Epoch,
			Storage: Storage{ID: sid, Owner: owner, Start: s.d.Epoch, End: s.d.Epoch + 5, Size: 10680}}
		s.touchID(tableBlob, id)
		s.d.Blobs[id] = b
		s.index(b.BlobID, id)
	}
	s.commitDirty()
}

// BenchmarkApplyBlock applies blocks of 100 RegisterBlob transactions (each buying its
// storage, from 100 senders, signed before the timer starts) to a state that already holds
// 10k, 100k or 1M blob objects. One op is one block.
func BenchmarkApplyBlock(b *testing.B) {
	for _, n := range []int{10_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("blobs=%d", n), func(b *testing.B) {
			g, _, _ := testGenesis(b)
			senders := make([]*crypto.AccountKey, 100)
			for i := range senders {
				var seed [32]byte
				copy(seed[:], fmt.Sprintf("bench-sender-%d", i))
				k, err := crypto.AccountKeyFromSeed(seed[:])
				if err != nil {
					b.Fatal(err)
				}
				senders[i] = k
				g.Balances = append(g.Balances, GenesisBalance{Address: k.Address(), Amount: 1e15})
			}
			s, _, err := NewState(g)
			if err != nil {
				b.Fatal(err)
			}
			populate(s, n, accountKey(b, 'p').Address())
			h := &harness{t: b, s: s, now: t0, nonces: map[Address]uint64{}}
			blocks := make([][][]byte, b.N)
			for i := range blocks {
				for j, k := range senders {
					bid, root := testBlob(uint64(1000+i*len(senders)+j), byte(j))
					blocks[i] = append(blocks[i], h.sign(k, Op{RegisterBlob: &RegisterBlobOp{EpochsAhead: 2, BlobID: bid,
						RootHash: root, Size: uint64(1000 + i*len(senders) + j), EncodingType: 1}}))
				}
			}
			runtime.GC() // the set-up's garbage is not the blocks' cost
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				res, err := s.ApplyBlock(s.Height()+1, t0.Add(time.Duration(i+1)*time.Millisecond), blocks[i])
				if err != nil {
					b.Fatal(err)
				}
				if !res.Results[0].OK() || !res.Results[len(res.Results)-1].OK() {
					b.Fatalf("registration failed: %v", res.Results[0].Err)
				}
			}
		})
	}
}
