package merkle

import (
	"errors"
	"fmt"
	"testing"

	"golang.org/x/crypto/blake2b"
)

func leaf(i int) []byte { return []byte(fmt.Sprintf("leaf-%d", i)) }

func leafHashes(n int) []Node {
	out := make([]Node, n)
	for i := range out {
		out[i] = LeafHash(leaf(i))
	}
	return out
}

// TestFiveLeaves checks the padding rule of spec §3.1 written out by hand:
// root = I(I(I(a,b), I(c,d)), I(I(e,Z), Z)).
func TestFiveLeaves(t *testing.T) {
	l := leafHashes(5)
	var z Node
	want := InnerHash(InnerHash(InnerHash(l[0], l[1]), InnerHash(l[2], l[3])), InnerHash(InnerHash(l[4], z), z))
	if got := Root(l); got != want {
		t.Fatalf("root %x, want %x", got, want)
	}
	// The leaf and inner hashes are Blake2b-256 with the 0x00 and 0x01 prefixes.
	if LeafHash([]byte("x")) != Node(blake2b.Sum256([]byte("\x00x"))) {
		t.Fatal("leaf hash prefix")
	}
	var buf [65]byte
	buf[0] = 1
	copy(buf[1:], l[0][:])
	copy(buf[33:], l[1][:])
	if InnerHash(l[0], l[1]) != Node(blake2b.Sum256(buf[:])) {
		t.Fatal("inner hash prefix")
	}
}

func TestSmallTrees(t *testing.T) {
	if Root(nil) != Empty {
		t.Fatal("empty tree root must be Empty")
	}
	one := leafHashes(1)
	if Root(one) != one[0] {
		t.Fatal("one-leaf root must be the leaf hash")
	}
}

// TestProofs checks every proof of trees of 1..70 leaves, that RootInPlace, Root and Tree
// agree, and that wrong leaves, indices, roots and path lengths are rejected.
func TestProofs(t *testing.T) {
	for n := 1; n <= 70; n++ {
		l := leafHashes(n)
		tree := NewTree(l)
		root := Root(l)
		scratch := append([]Node(nil), l...)
		if tree.Root() != root || RootInPlace(scratch) != root {
			t.Fatalf("n=%d: roots disagree", n)
		}
		for i := 0; i < n; i++ {
			p, err := tree.Proof(i)
			if err != nil {
				t.Fatal(err)
			}
			if len(p) != MaxDepth(n) {
				t.Fatalf("n=%d: proof length %d, want %d", n, len(p), MaxDepth(n))
			}
			if err := p.Verify(root, i, n, leaf(i)); err != nil {
				t.Fatalf("n=%d i=%d: %v", n, i, err)
			}
			if err := p.Verify(root, i, n, leaf(i+1)); !errors.Is(err, ErrRootMismatch) {
				t.Fatalf("n=%d i=%d: wrong leaf accepted: %v", n, i, err)
			}
			if n > 1 {
				if err := p.Verify(root, (i+1)%n, n, leaf(i)); err == nil {
					t.Fatalf("n=%d i=%d: wrong index accepted", n, i)
				}
				long := append(append(Proof(nil), p...), Empty)
				if err := long.Verify(root, i, n, leaf(i)); !errors.Is(err, ErrProofTooLong) {
					t.Fatalf("n=%d: long proof: %v", n, err)
				}
			}
		}
		if _, err := tree.Proof(n); !errors.Is(err, ErrIndexRange) {
			t.Fatalf("proof past the end: %v", err)
		}
	}
	var p Proof
	if err := p.Verify(Empty, 0, 0, nil); !errors.Is(err, ErrEmptyLeafCount) {
		t.Fatalf("zero leaves: %v", err)
	}
}

func BenchmarkRoot1000(b *testing.B) {
	l := leafHashes(1000)
	b.SetBytes(1000 * 32)
	for i := 0; i < b.N; i++ {
		Root(l)
	}
}
