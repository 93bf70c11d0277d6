package blake2bx

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"
	"unsafe"

	"golang.org/x/crypto/blake2b"
)

// laneCounts lists the kernel widths this CPU can run.
func laneCounts() []int {
	l := []int{1}
	if bestLanes >= 4 {
		l = append(l, 4)
	}
	if bestLanes >= 8 {
		l = append(l, 8)
	}
	if bestLanes >= 16 {
		l = append(l, 16)
	}
	return l
}

func want(prefix, a, b []byte) [Size]byte {
	return blake2b.Sum256(append(append(append([]byte(nil), prefix...), a...), b...))
}

// randParts returns count messages of lengths pl + la + lb in parts (b nil if lb < 0).
func randParts(r *rand.Rand, count, pl, la, lb int) (prefix []byte, a, b [][]byte) {
	fill := func(n int) []byte {
		p := make([]byte, n+8)
		for i := 0; i < n; i += 8 {
			binary.LittleEndian.PutUint64(p[i:], r.Uint64())
		}
		return p[:n:n]
	}
	prefix = fill(pl)
	a = make([][]byte, count)
	for i := range a {
		a[i] = fill(la)
	}
	if lb >= 0 {
		b = make([][]byte, count)
		for i := range b {
			b[i] = fill(lb)
		}
	}
	return
}

func check(t *testing.T, lanes int, prefix []byte, a, b [][]byte) {
	t.Helper()
	out := make([][Size]byte, len(a))
	sumParts(out, prefix, a, b, lanes)
	for i := range a {
		var tail []byte
		if b != nil {
			tail = b[i]
		}
		if w := want(prefix, a[i], tail); out[i] != w {
			t.Fatalf("lanes %d, %d messages of %d+%d+%d bytes: message %d: got %x, want %x",
				lanes, len(a), len(prefix), len(a[i]), len(tail), i, out[i], w)
		}
	}
}

// TestLengths covers every message length 0..3000 (whole messages, no parts) with ragged
// group counts for every kernel width.
func TestLengths(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	maxLen := 3000
	if testing.Short() {
		maxLen = 700
	}
	for _, lanes := range laneCounts() {
		for n := 0; n <= maxLen; n++ {
			count := 1 + (n*7)%19 // 1..19: full and ragged groups
			_, a, _ := randParts(r, count, 0, n, -1)
			check(t, lanes, nil, a, nil)
		}
	}
}

// TestParts covers prefixes and tails around block boundaries.
func TestParts(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, lanes := range laneCounts() {
		for _, pl := range []int{0, 1, 2, 127, 128, 129, 300} {
			for _, la := range []int{0, 1, 63, 64, 126, 127, 128, 129, 255, 256, 1152, 1206, 2047, 2300} {
				for _, lb := range []int{-1, 0, 1, 54, 62, 127, 128, 129, 400} {
					count := 1 + (pl+la+lb+3)%17
					prefix, a, b := randParts(r, count, pl, la, lb)
					check(t, lanes, prefix, a, b)
				}
			}
		}
	}
}

// TestRandom checks random lengths and counts.
func TestRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 300 {
		pl, la, lb := r.IntN(3), r.IntN(3000), r.IntN(200)-20
		prefix, a, b := randParts(r, 1+r.IntN(40), pl, la, lb)
		for _, lanes := range laneCounts() {
			check(t, lanes, prefix, a, b)
		}
	}
}

// TestMany checks Sum256Many and that messages in one buffer may be read through unaligned,
// overlapping slices.
func TestMany(t *testing.T) {
	buf := make([]byte, 5000)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	for _, l := range []int{0, 1, 65, 129, 1207} {
		msgs := make([][]byte, 23)
		for i := range msgs {
			msgs[i] = buf[3*i+1 : 3*i+1+l]
		}
		out := make([][Size]byte, len(msgs))
		Sum256Many(out, msgs)
		for i := range msgs {
			if out[i] != blake2b.Sum256(msgs[i]) {
				t.Fatalf("length %d, message %d: wrong digest", l, i)
			}
		}
	}
}

// TestOverlapOut checks the documented aliasing: out[i] may overlap inputs of messages <= i,
// as when hashing pairs of nodes into the front of their own level.
func TestOverlapOut(t *testing.T) {
	for _, lanes := range laneCounts() {
		const n = 37
		level := make([]byte, 2*n*Size)
		for i := range level {
			level[i] = byte(i*13 + 5)
		}
		orig := append([]byte(nil), level...)
		a := make([][]byte, n)
		for i := range a {
			a[i] = level[2*i*Size : 2*(i+1)*Size]
		}
		out := make([][Size]byte, n)
		sumParts(out, []byte{1}, a, nil, lanes)
		inPlace := bytesAsNodes(level)
		sumParts(inPlace[:n], []byte{1}, a, nil, lanes)
		for i := range out {
			if inPlace[i] != out[i] || out[i] != want([]byte{1}, orig[2*i*Size:2*(i+1)*Size], nil) {
				t.Fatalf("lanes %d: node %d differs", lanes, i)
			}
		}
	}
}

func bytesAsNodes(b []byte) [][Size]byte {
	return unsafe.Slice((*[Size]byte)(unsafe.Pointer(&b[0])), len(b)/Size)
}

func TestPanics(t *testing.T) {
	for _, f := range []func(){
		func() { Sum256Many(make([][Size]byte, 1), [][]byte{{1}, {2}}) },
		func() { Sum256Many(make([][Size]byte, 2), [][]byte{{1}, {2, 3}}) },
		func() { Sum256Parts(make([][Size]byte, 2), nil, [][]byte{{1}, {2}}, [][]byte{{1}}) },
		func() { Sum256Parts(make([][Size]byte, 2), nil, [][]byte{{1}, {2}}, [][]byte{{1}, nil}) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			f()
		}()
	}
	Sum256Many[[Size]byte](nil, nil) // no messages: nothing to do
}

func FuzzSum256Parts(f *testing.F) {
	f.Add(uint8(1), uint16(1206), uint8(54), uint8(9), []byte("seed"))
	f.Add(uint8(0), uint16(0), uint8(0), uint8(1), []byte{})
	f.Add(uint8(1), uint16(64), uint8(0), uint8(8), []byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, pl uint8, la uint16, lb uint8, count uint8, seed []byte) {
		pl %= 4
		la %= 4000
		count = 1 + count%20
		var s1, s2 uint64
		for i, c := range seed {
			s1 = s1*131 + uint64(c)
			s2 ^= uint64(c) << (8 * (i % 8))
		}
		r := rand.New(rand.NewPCG(s1, s2))
		prefix, a, b := randParts(r, int(count), int(pl), int(la), int(lb)-1)
		for _, lanes := range laneCounts() {
			check(t, lanes, prefix, a, b)
		}
	})
}

var sink [Size]byte

func benchmarkLanes(b *testing.B, prefix []byte, count, la int) {
	r := rand.New(rand.NewPCG(7, 8))
	_, msgs, _ := randParts(r, count, 0, la, -1)
	out := make([][Size]byte, count)
	for _, lanes := range laneCounts() {
		name := map[int]string{1: "xcrypto", 4: "x4", 8: "x8", 16: "x16"}[lanes]
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(count * (len(prefix) + la)))
			start := cpuTime()
			for b.Loop() {
				if lanes == 1 {
					// x/crypto one message at a time, as merkle.Hasher does.
					h, _ := blake2b.New256(nil)
					for i, m := range msgs {
						h.Reset()
						h.Write(prefix)
						h.Write(m)
						h.Sum(out[i][:0])
					}
				} else {
					sumParts(out, prefix, msgs, nil, lanes)
				}
			}
			reportCPU(b, start)
			sink = out[0]
		})
	}
}

// BenchmarkLeaf1207 hashes 2^20 Merkle leaves 0x00 || 1206-byte symbol.
func BenchmarkLeaf1207(b *testing.B) { benchmarkLanes(b, []byte{0}, 1<<20, 1206) }

// BenchmarkLeaf3 hashes 2^20 Merkle leaves 0x00 || 2-byte symbol (a 1 KiB blob at n = 1000).
func BenchmarkLeaf3(b *testing.B) { benchmarkLanes(b, []byte{0}, 1<<20, 2) }

// BenchmarkLeaf127 hashes 2^20 Merkle leaves 0x00 || 126-byte symbol (one block).
func BenchmarkLeaf127(b *testing.B) { benchmarkLanes(b, []byte{0}, 1<<20, 126) }

// BenchmarkInner65 hashes 2^21 inner nodes 0x01 || left || right.
func BenchmarkInner65(b *testing.B) { benchmarkLanes(b, []byte{1}, 1<<21, 64) }

func TestKnownAnswer(t *testing.T) {
	// Blake2b-256("abc").
	out := make([][Size]byte, 8)
	msgs := make([][]byte, 8)
	for i := range msgs {
		msgs[i] = []byte("abc")
	}
	for _, lanes := range laneCounts() {
		sumParts(out, nil, msgs, nil, lanes)
		w := fmt.Sprintf("%x", out[7])
		if w != "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319" {
			t.Errorf("lanes %d: %s", lanes, w)
		}
	}
	if !bytes.Equal(out[0][:], out[7][:]) {
		t.Error("lanes differ")
	}
}

// BenchmarkHot hashes 64 cache-resident messages: kernel speed.
func BenchmarkHot1207(b *testing.B) { benchmarkLanes(b, []byte{0}, 64, 1206) }
func BenchmarkHot65(b *testing.B)   { benchmarkLanes(b, []byte{1}, 64, 64) }

// BenchmarkKernel measures one kernel call on one block per lane (bytes: all lanes).
func BenchmarkKernel(b *testing.B) {
	var blk [16][blockSize]byte
	var h [128]uint64
	var p [16]*byte
	for l := range p {
		p[l] = &blk[l][0]
	}
	for _, lanes := range laneCounts()[1:] {
		b.Run(fmt.Sprintf("x%d", lanes), func(b *testing.B) {
			b.SetBytes(int64(lanes * blockSize))
			start := cpuTime()
			for b.Loop() {
				switch lanes {
				case 16:
					hashBlocks16(&h[0], &p[0], 1, 0, 128, 0)
				case 8:
					hashBlocks8(&h[0], &p[0], 1, 0, 128, 0)
				default:
					hashBlocks4(&h[0], &p[0], 1, 0, 128, 0)
				}
			}
			reportCPU(b, start)
		})
	}
}

// BenchmarkOne measures the one-block kernels on messages of each length class (bytes: all
// lanes' messages).
func BenchmarkOne(b *testing.B) {
	if bestLanes < 8 {
		b.Skip("no 8-lane kernel on this CPU")
	}
	var blk [16][blockSize]byte
	var dst [16][Size]byte
	for _, lanes := range []int{8, 16} {
		for _, length := range []int{3, 65, 128} {
			b.Run(fmt.Sprintf("x%d/len=%d", lanes, length), func(b *testing.B) {
				b.SetBytes(int64(lanes * length))
				start := cpuTime()
				for b.Loop() {
					if lanes == 16 {
						hashOne16(&dst[0][0], &blk[0][0], uint64(length))
					} else {
						hashOne8(&dst[0][0], &blk[0][0], uint64(length))
					}
				}
				reportCPU(b, start)
			})
		}
	}
}

func TestPairs(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	for _, n := range []int{0, 1, 7, 8, 9, 16, 17, 63, 64, 65, 200, 1001} {
		nodes := make([][Size]byte, 2*n+1)
		for i := range nodes {
			for j := range nodes[i] {
				nodes[i][j] = byte(r.Uint32())
			}
		}
		prefix := byte(r.Uint32())
		wants := make([][Size]byte, n)
		for i := range wants {
			wants[i] = want([]byte{prefix}, nodes[2*i][:], nodes[2*i+1][:])
		}
		out := make([][Size]byte, n)
		Sum256Pairs(out, prefix, nodes)
		// In place, into the front of nodes.
		Sum256Pairs(nodes[:n], prefix, nodes)
		for i := range wants {
			if out[i] != wants[i] || nodes[i] != wants[i] {
				t.Fatalf("%d pairs: pair %d: got %x (in place %x), want %x", n, i, out[i], nodes[i], wants[i])
			}
		}
	}
}

func BenchmarkPairs(b *testing.B) {
	nodes := make([][Size]byte, 1<<22)
	for i := range nodes {
		nodes[i][0] = byte(i)
	}
	out := make([][Size]byte, len(nodes)/2)
	b.SetBytes(int64(len(out)) * 65)
	for b.Loop() {
		Sum256Pairs(out, 1, nodes)
	}
}
