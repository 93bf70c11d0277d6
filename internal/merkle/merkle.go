// Package merkle implements Walrus's Blake2b-256 Merkle trees: leaf hashes H(0x00 || data),
// inner hashes H(0x01 || left || right), and an unhashed all-zero node appended to every level
// with an odd number of nodes. It builds roots and trees from leaf hashes and creates and checks
// inclusion proofs.
package merkle

import (
	"errors"
	"fmt"
	"hash"
	"math/bits"

	"github.com/floelabs/floe/internal/blake2bx"
	"golang.org/x/crypto/blake2b"
)

// Node is a 32-byte tree node. The all-zero value is Walrus's Node::Empty, used as padding.
type Node [32]byte

// Empty is the padding node (Walrus's Node::Empty), 32 zero bytes.
var Empty Node

// IsEmpty reports whether n is the padding node.
func (n Node) IsEmpty() bool { return n == Empty }

const (
	leafPrefix  = 0x00
	innerPrefix = 0x01
)

// Errors returned by proof verification.
var (
	ErrProofTooLong   = errors.New("merkle: proof path longer than the tree is deep")
	ErrIndexRange     = errors.New("merkle: leaf index out of range for the proof")
	ErrRootMismatch   = errors.New("merkle: proof does not lead to the root")
	ErrEmptyLeafCount = errors.New("merkle: leaf count must be positive")
)

// Hasher computes leaf and inner hashes without allocating; it is not safe for concurrent use.
type Hasher struct {
	h   hash.Hash
	buf [65]byte
	sum [32]byte
}

// NewHasher returns a Hasher.
func NewHasher() *Hasher {
	h, err := blake2b.New256(nil)
	if err != nil {
		panic(err) // unreachable: no key
	}
	return &Hasher{h: h}
}

// Leaf returns H(0x00 || data).
func (hs *Hasher) Leaf(data []byte) Node {
	hs.h.Reset()
	hs.buf[0] = leafPrefix
	hs.h.Write(hs.buf[:1])
	hs.h.Write(data)
	return Node(hs.h.Sum(hs.sum[:0]))
}

// LeafParts returns H(0x00 || a || b): the leaf hash of the concatenation of a and b.
func (hs *Hasher) LeafParts(a, b []byte) Node {
	hs.h.Reset()
	hs.buf[0] = leafPrefix
	hs.h.Write(hs.buf[:1])
	hs.h.Write(a)
	hs.h.Write(b)
	return Node(hs.h.Sum(hs.sum[:0]))
}

// Inner returns H(0x01 || left || right).
func (hs *Hasher) Inner(left, right Node) Node {
	hs.buf[0] = innerPrefix
	copy(hs.buf[1:33], left[:])
	copy(hs.buf[33:65], right[:])
	return Node(blake2b.Sum256(hs.buf[:]))
}

// LeafMany sets out[i] to H(0x00 || data[i]), hashing several leaves at once (see
// blake2bx). All data[i] must have the same length; len(out) must be len(data).
func LeafMany(out []Node, data [][]byte) {
	prefix := [1]byte{leafPrefix}
	blake2bx.Sum256Parts(out, prefix[:], data, nil)
}

// LeafPartsMany sets out[i] to H(0x00 || a[i] || b[i]), the leaf hashes of the
// concatenations. All a[i] must have the same length, and so must all b[i]; len(out) and
// len(b) must be len(a).
func LeafPartsMany(out []Node, a, b [][]byte) {
	prefix := [1]byte{leafPrefix}
	blake2bx.Sum256Parts(out, prefix[:], a, b)
}

// LeafHash returns H(0x00 || data).
func LeafHash(data []byte) Node { return NewHasher().Leaf(data) }

// InnerHash returns H(0x01 || left || right).
func InnerHash(left, right Node) Node {
	var buf [65]byte
	buf[0] = innerPrefix
	copy(buf[1:33], left[:])
	copy(buf[33:65], right[:])
	return blake2b.Sum256(buf[:])
}

// Root returns the root of the tree over the given leaf hashes: Empty for no leaves, the leaf
// hash itself for one. It does not modify leaves.
func Root(leaves []Node) Node {
	switch len(leaves) {
	case 0:
		return Empty
	case 1:
		return leaves[0]
	}
	level := make([]Node, (len(leaves)+1)/2)
	reduce(level, leaves)
	for len(level) > 1 {
		next := level[:(len(level)+1)/2]
		reduce(next, level)
		level = next
	}
	return level[0]
}

// RootInPlace is Root, using leaves as scratch space (their values are destroyed).
func RootInPlace(leaves []Node) Node {
	switch len(leaves) {
	case 0:
		return Empty
	case 1:
		return leaves[0]
	}
	level := leaves
	for len(level) > 1 {
		next := level[:(len(level)+1)/2]
		reduce(next, level)
		level = next
	}
	return level[0]
}

// reduce writes the parents of level into dst (len(dst) == ceil(len(level)/2)); dst may alias
// the front of level.
func reduce(dst, level []Node) {
	pairs := len(level) / 2
	// Whole pairs, several at a time. dst[i] overlaps only level[i], which belongs to pair
	// i/2 <= i, as Sum256Pairs allows.
	blake2bx.Sum256Pairs(dst[:pairs], innerPrefix, level[:2*pairs])
	if len(level)%2 == 1 {
		dst[pairs] = InnerHash(level[len(level)-1], Empty)
	}
}

// Tree is a full Merkle tree kept in memory to produce proofs.
type Tree struct {
	levels [][]Node // levels[0] = leaf hashes, last = [root]
}

// NewTree builds a tree over leaf hashes (copied).
func NewTree(leaves []Node) *Tree {
	t := &Tree{levels: [][]Node{append([]Node(nil), leaves...)}}
	for cur := t.levels[0]; len(cur) > 1; {
		next := make([]Node, (len(cur)+1)/2)
		reduce(next, cur)
		t.levels = append(t.levels, next)
		cur = next
	}
	return t
}

// Root returns the tree's root (Empty for a tree without leaves).
func (t *Tree) Root() Node {
	last := t.levels[len(t.levels)-1]
	if len(last) == 0 {
		return Empty
	}
	return last[0]
}

// LeafCount returns the number of leaves.
func (t *Tree) LeafCount() int { return len(t.levels[0]) }

// Proof returns the inclusion proof of leaf i: its siblings from the leaf level upwards, Empty
// where the sibling is padding.
func (t *Tree) Proof(i int) (Proof, error) {
	if i < 0 || i >= t.LeafCount() {
		return nil, fmt.Errorf("%w: leaf %d of %d", ErrIndexRange, i, t.LeafCount())
	}
	var p Proof
	for _, level := range t.levels[:len(t.levels)-1] {
		sib := i ^ 1
		if sib < len(level) {
			p = append(p, level[sib])
		} else {
			p = append(p, Empty)
		}
		i >>= 1
	}
	return p, nil
}

// Proof is a Merkle inclusion proof: sibling nodes from the leaf level upwards.
type Proof []Node

// MaxDepth returns ceil(log2(leafCount)), the longest valid proof for that many leaves.
func MaxDepth(leafCount int) int {
	if leafCount <= 1 {
		return 0
	}
	return bits.Len(uint(leafCount - 1))
}

// VerifyLeafHash checks that leafHash at index is included under root in a tree of
// leafCount leaves.
func (p Proof) VerifyLeafHash(root Node, index, leafCount int, leafHash Node) error {
	if leafCount <= 0 {
		return ErrEmptyLeafCount
	}
	if len(p) > MaxDepth(leafCount) {
		return fmt.Errorf("%w: %d > %d", ErrProofTooLong, len(p), MaxDepth(leafCount))
	}
	if index < 0 || index >= leafCount || (len(p) < 64 && index>>len(p) != 0) {
		return fmt.Errorf("%w: leaf %d, path length %d", ErrIndexRange, index, len(p))
	}
	cur := leafHash
	for _, sib := range p {
		if index&1 == 0 {
			cur = InnerHash(cur, sib)
		} else {
			cur = InnerHash(sib, cur)
		}
		index >>= 1
	}
	if cur != root {
		return ErrRootMismatch
	}
	return nil
}

// Verify checks that leaf data at index is included under root in a tree of leafCount leaves.
func (p Proof) Verify(root Node, index, leafCount int, data []byte) error {
	return p.VerifyLeafHash(root, index, leafCount, LeafHash(data))
}
