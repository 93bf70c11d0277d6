package merkle

import (
	"math/rand/v2"
	"testing"
)

// refRoot is Root computed one inner hash at a time.
func refRoot(leaves []Node) Node {
	if len(leaves) == 0 {
		return Empty
	}
	level := append([]Node(nil), leaves...)
	for len(level) > 1 {
		next := make([]Node, (len(level)+1)/2)
		for i := range next {
			r := Empty
			if 2*i+1 < len(level) {
				r = level[2*i+1]
			}
			next[i] = InnerHash(level[2*i], r)
		}
		level = next
	}
	return level[0]
}

func randNodes(r *rand.Rand, n int) []Node {
	out := make([]Node, n)
	for i := range out {
		for j := range out[i] {
			out[i][j] = byte(r.Uint32())
		}
	}
	return out
}

// TestBatchRoots checks Root, RootInPlace and NewTree (which hash levels several nodes at a
// time) against one-at-a-time inner hashes, and the tree's proofs.
func TestBatchRoots(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, n := range []int{0, 1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 31, 63, 64, 65, 127, 128, 129, 130, 255, 1000, 1001} {
		leaves := randNodes(r, n)
		want := refRoot(leaves)
		if got := Root(leaves); got != want {
			t.Fatalf("%d leaves: Root %x, want %x", n, got, want)
		}
		tr := NewTree(leaves)
		if got := tr.Root(); got != want {
			t.Fatalf("%d leaves: tree root %x, want %x", n, got, want)
		}
		for i := 0; i < n; i += 1 + n/7 {
			p, err := tr.Proof(i)
			if err != nil {
				t.Fatal(err)
			}
			if err := p.VerifyLeafHash(want, i, n, leaves[i]); err != nil {
				t.Fatalf("%d leaves, leaf %d: %v", n, i, err)
			}
		}
		if got := RootInPlace(append([]Node(nil), leaves...)); got != want {
			t.Fatalf("%d leaves: RootInPlace %x, want %x", n, got, want)
		}
	}
}

func TestLeafMany(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	h := NewHasher()
	for _, count := range []int{0, 1, 3, 4, 5, 8, 9, 13, 100} {
		for _, l := range []int{0, 1, 2, 63, 127, 128, 1206, 1207, 2000} {
			for _, tl := range []int{0, 2, 54, 62} {
				a := make([][]byte, count)
				b := make([][]byte, count)
				for i := range a {
					a[i] = make([]byte, l)
					b[i] = make([]byte, tl)
					for j := range a[i] {
						a[i][j] = byte(r.Uint32())
					}
					for j := range b[i] {
						b[i][j] = byte(r.Uint32())
					}
				}
				out := make([]Node, count)
				LeafMany(out, a)
				for i := range a {
					if out[i] != h.Leaf(a[i]) || out[i] != LeafHash(a[i]) {
						t.Fatalf("LeafMany: %d leaves of %d bytes: leaf %d differs", count, l, i)
					}
				}
				LeafPartsMany(out, a, b)
				for i := range a {
					if out[i] != h.LeafParts(a[i], b[i]) {
						t.Fatalf("LeafPartsMany: %d leaves of %d+%d bytes: leaf %d differs", count, l, tl, i)
					}
				}
			}
		}
	}
}

// BenchmarkRoot computes the root of 2^20 leaves (about 2^20 inner hashes).
func BenchmarkRoot(b *testing.B) {
	leaves := randNodes(rand.New(rand.NewPCG(3, 3)), 1<<20)
	b.SetBytes(int64(len(leaves)) * 65)
	for b.Loop() {
		Root(leaves)
	}
}

func BenchmarkRefRoot(b *testing.B) {
	leaves := randNodes(rand.New(rand.NewPCG(3, 3)), 1<<20)
	b.SetBytes(int64(len(leaves)) * 65)
	for b.Loop() {
		refRoot(leaves)
	}
}
