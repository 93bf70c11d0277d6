// Package blake2bx computes unkeyed Blake2b-256 digests (those of golang.org/x/crypto/blake2b
// Sum256) of many messages of equal length at once, one message per 64-bit vector lane: 16 at
// a time with AVX-512 (two interleaved groups of 8), 4 with AVX2, one by one (x/crypto)
// elsewhere.
//
// Messages may be given in parts, prefix || a[i] || b[i], so callers need not copy them
// together: a Merkle leaf 0x00 || symbol, say, is hashed with prefix {0x00} and a[i] = symbol.
// Sum256Pairs hashes Merkle inner nodes prefix || left || right from a level of nodes.
// Blocks lying within a[i] or b[i] are read in place; the others (the first block when there
// is a prefix, blocks across parts, the padded last block) are copied first.
package blake2bx

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/crypto/blake2b"
)

// Size is the digest size in bytes.
const Size = 32

const (
	blockSize = 128
	maxLanes  = 16
	// chunkBlocks is the most blocks one kernel call compresses.
	chunkBlocks = 16
	// stageBlocks is the most blocks per lane copied (those not lying within one part) before
	// a kernel call.
	stageBlocks = 2
	// min16, min8 and min4 are the fewest messages hashed with the 16-, 8- and 4-lane
	// kernels (unused lanes repeat a message); fewer are hashed one by one.
	min16 = 9
	min8  = 5
	min4  = 2
)

// iv is the Blake2b IV.
var iv = [8]uint64{
	0x6a09e667f3bcc908, 0xbb67ae8584caa73b, 0x3c6ef372fe94f82b, 0xa54ff53a5f1d36f1,
	0x510e527fade682d1, 0x9b05688c2b3e6c1f, 0x1f83d9abfb41bd6b, 0x5be0cd19137e2179,
}

const paramWord = 0x01010000 | Size // depth 1, fanout 1, no key, digest length

// The kernels hashBlocks16, hashBlocks8 and hashBlocks4 (L = 16, 8, 4 lanes) compress n >= 1 blocks of L
// messages: block i of lane l starts at p[i*L+l]; h is the transposed chain value
// (h[w*L+l]), t the number of bytes hashed before, length the message length (the counter of
// a block is min(t+128*(i+1), length)), and final the finalization flag of the last block
// (0 or ^0). hashPairs16 and hashPairs8 hash one-block 65-byte messages prefix || 64
// contiguous bytes; hashOne16 and hashOne8 hash one-block messages given as padded blocks.

// Lanes returns how many messages this CPU hashes at once (16, 4, or 1).
func Lanes() int { return bestLanes }

// Sum256Many sets out[i] to the Blake2b-256 digest of msgs[i]. All messages must have the
// same length; len(out) must be len(msgs). D is any 32-byte array type.
func Sum256Many[D ~[Size]byte](out []D, msgs [][]byte) { Sum256Parts(out, nil, msgs, nil) }

// Sum256Parts sets out[i] to the Blake2b-256 digest of prefix || a[i] || b[i]. All a[i] must
// have the same length, and so must all b[i]; b may be nil (no third part). len(out) must be
// len(a). Messages are hashed in order in groups of at most 16, and a group's digests are
// written after all its messages have been read, so out[i] may overlap the inputs of
// messages j <= i (but not those of later messages).
func Sum256Parts[D ~[Size]byte](out []D, prefix []byte, a, b [][]byte) {
	sumParts(out, prefix, a, b, bestLanes)
}

// Sum256Pairs sets out[i] to the Blake2b-256 digest of prefix || nodes[2i] || nodes[2i+1]
// (65-byte messages, Merkle inner nodes) for i < len(out); len(nodes) must be at least
// 2*len(out). out may overlap the front of nodes (out[i] may share memory with nodes[j] for
// j <= i), as when a tree level is reduced into its own front.
func Sum256Pairs[D ~[Size]byte](out []D, prefix byte, nodes []D) {
	n := len(out)
	if len(nodes) < 2*n {
		panic(fmt.Sprintf("blake2bx: %d pair digests of %d nodes", n, len(nodes)))
	}
	i := 0
	if bestLanes >= 16 && n >= 16 {
		g := n / 16
		hashPairs16(&out[0][0], &nodes[0][0], g, uint64(prefix))
		i = 16 * g
	}
	if bestLanes >= 8 && n-i >= 8 {
		hashPairs8(&out[i][0], &nodes[2*i][0], 1, uint64(prefix))
		i += 8
	}
	// The rest, up to 64 pairs per call.
	var left, right [64][]byte
	pre := [1]byte{prefix}
	for ; i < n; i += len(left) {
		c := min(len(left), n-i)
		for j := 0; j < c; j++ {
			left[j] = nodes[2*(i+j)][:]
			right[j] = nodes[2*(i+j)+1][:]
		}
		Sum256Parts(out[i:i+c], pre[:], left[:c], right[:c])
	}
}

// sumParts is Sum256Parts with at most the given lane count (16, 8, 4 or 1).
func sumParts[D ~[Size]byte](out []D, prefix []byte, a, b [][]byte, lanes int) {
	n := len(a)
	if len(out) != n || (b != nil && len(b) != n) {
		panic(fmt.Sprintf("blake2bx: %d outputs for %d messages (%d tails)", len(out), n, len(b)))
	}
	if n == 0 {
		return
	}
	la, lb := len(a[0]), 0
	if b != nil {
		lb = len(b[0])
	}
	for i := range a {
		if len(a[i]) != la || (b != nil && len(b[i]) != lb) {
			panic("blake2bx: messages of different lengths")
		}
	}
	pl := len(prefix)
	if pl+la+lb <= blockSize && lanes >= 4 {
		sumOneBlock(out, prefix, a, b, lanes)
		return
	}
	// Scratch space for one group of messages; kept in this frame (the kernels do not let
	// pointers escape), where the block pointer table may point into the staging blocks.
	var (
		h     [8 * maxLanes]uint64
		ptab  [chunkBlocks * maxLanes]*byte
		stage [stageBlocks][maxLanes][blockSize]byte
		// slotBlock is the block whose shared bytes (prefix and zero padding) each staging
		// slot holds, -1 for none: every message has the same length, so a slot staging the
		// same block again (as it does for every group) needs only the messages' bytes.
		slotBlock = [stageBlocks]int{-1, -1}
	)
	length := pl + la + lb
	nb := max(1, (length+blockSize-1)/blockSize)
	for i := 0; i < n; {
		L := 1
		switch r := n - i; {
		case lanes >= 16 && r >= min16:
			L = 16
		case lanes >= 8 && r >= min8:
			L = 8
		case lanes >= 4 && r >= min4:
			L = 4
		}
		if L == 1 {
			sumScalar(out[i:], prefix, a[i:], tails(b, i, n), lb)
			return
		}
		// Hash messages i..i+cnt-1 with the L-lane kernel, repeating the last in unused lanes.
		cnt := min(L, n-i)
		ga, gb := a[i:i+cnt], tails(b, i, i+cnt)
		for w := 0; w < 8; w++ {
			v := iv[w]
			if w == 0 {
				v ^= paramWord
			}
			for l := 0; l < L; l++ {
				h[w*L+l] = v
			}
		}
		k, staged := 0, 0 // blocks and staged blocks in the current chunk
		t := 0            // bytes compressed by earlier kernel calls
		for j := 0; j < nb; j++ {
			off := j * blockSize
			p := k * L // ptab index of lane 0 (indexed directly: stores through a slice would move stage to the heap)
			switch {
			case off >= pl && off+blockSize <= pl+la:
				for l := 0; l < cnt; l++ {
					ptab[p+l] = &ga[l][off-pl]
				}
			case off >= pl+la && off+blockSize <= length:
				for l := 0; l < cnt; l++ {
					ptab[p+l] = &gb[l][off-pl-la]
				}
			default:
				if slotBlock[staged] != j {
					slotBlock[staged] = j
					for l := range stage[staged] {
						dst := &stage[staged][l]
						clear(dst[:])
						if off < pl {
							copy(dst[:], prefix[off:])
						}
					}
				}
				// The bytes of a and b in this block: message positions [aFrom, aTo) and
				// [bFrom, bTo).
				aFrom, aTo := max(off, pl), min(off+blockSize, pl+la)
				bFrom, bTo := max(off, pl+la), min(off+blockSize, length)
				for l := 0; l < cnt; l++ {
					dst := &stage[staged][l]
					if aFrom < aTo {
						copy(dst[aFrom-off:], ga[l][aFrom-pl:aTo-pl])
					}
					if bFrom < bTo {
						copy(dst[bFrom-off:], gb[l][bFrom-pl-la:bTo-pl-la])
					}
					ptab[p+l] = &dst[0]
				}
				staged++
			}
			for l := cnt; l < L; l++ {
				ptab[p+l] = ptab[p+cnt-1]
			}
			k++
			last := j == nb-1
			if last || k == chunkBlocks || staged == stageBlocks {
				var final uint64
				if last {
					final = ^uint64(0)
				}
				switch L {
				case 16:
					hashBlocks16(&h[0], &ptab[0], k, uint64(t), uint64(length), final)
				case 8:
					hashBlocks8(&h[0], &ptab[0], k, uint64(t), uint64(length), final)
				default:
					hashBlocks4(&h[0], &ptab[0], k, uint64(t), uint64(length), final)
				}
				t += k * blockSize
				k, staged = 0, 0
			}
		}
		for l := 0; l < cnt; l++ {
			for w := 0; w < 4; w++ {
				binary.LittleEndian.PutUint64(out[i+l][8*w:], h[w*L+l])
			}
		}
		i += cnt
	}
}

// sumOneBlock is sumParts for messages of one block (at most 128 bytes), the case of Merkle
// leaves of small symbols and of inner nodes: the messages are copied into zero-padded blocks,
// one group of lanes at a time, and hashed by a kernel that needs no chain value, pointer
// table or counter bookkeeping. The blocks' padding is cleared once per call: the prefix and
// the messages, all of the same length, overwrite the same bytes in every group.
func sumOneBlock[D ~[Size]byte](out []D, prefix []byte, a, b [][]byte, lanes int) {
	var stage [maxLanes][blockSize]byte
	pl, la := len(prefix), len(a[0])
	length := pl + la
	if b != nil {
		length += len(b[0])
	}
	for l := range stage {
		copy(stage[l][:], prefix)
	}
	load := func(l, i int) {
		copy(stage[l][pl:], a[i])
		if b != nil {
			copy(stage[l][pl+la:], b[i])
		}
	}
	n := len(a)
	i := 0
	if lanes >= 16 {
		for ; n-i >= min16; i += 16 {
			cnt := min(16, n-i)
			for l := 0; l < cnt; l++ {
				load(l, i+l)
			}
			if cnt == 16 {
				hashOne16(&out[i][0], &stage[0][0], uint64(length))
				continue
			}
			var dst [16][Size]byte
			hashOne16(&dst[0][0], &stage[0][0], uint64(length))
			for l := 0; l < cnt; l++ {
				out[i+l] = dst[l]
			}
		}
	}
	if lanes >= 8 {
		for ; n-i >= min8; i += 8 {
			cnt := min(8, n-i)
			for l := 0; l < cnt; l++ {
				load(l, i+l)
			}
			if cnt == 8 {
				hashOne8(&out[i][0], &stage[0][0], uint64(length))
				continue
			}
			// Lanes past cnt hash leftovers; their digests are dropped.
			var dst [8][Size]byte
			hashOne8(&dst[0][0], &stage[0][0], uint64(length))
			for l := 0; l < cnt; l++ {
				out[i+l] = dst[l]
			}
		}
	}
	if n-i >= min4 {
		var h [8 * 4]uint64
		ptab := [4]*byte{&stage[0][0], &stage[1][0], &stage[2][0], &stage[3][0]}
		for ; n-i >= min4; i += 4 {
			cnt := min(4, n-i)
			for l := 0; l < cnt; l++ {
				load(l, i+l)
			}
			for w := 0; w < 8; w++ {
				v := iv[w]
				if w == 0 {
					v ^= paramWord
				}
				h[4*w], h[4*w+1], h[4*w+2], h[4*w+3] = v, v, v, v
			}
			hashBlocks4(&h[0], &ptab[0], 1, 0, uint64(length), ^uint64(0))
			for l := 0; l < cnt; l++ {
				for w := 0; w < 4; w++ {
					binary.LittleEndian.PutUint64(out[i+l][8*w:], h[4*w+l])
				}
			}
		}
	}
	if i < n {
		sumScalar(out[i:], prefix, a[i:], tails(b, i, n), length-pl-la)
	}
}

func tails(b [][]byte, i, j int) [][]byte {
	if b == nil {
		return nil
	}
	return b[i:j]
}

// sumScalar hashes the messages one by one with x/crypto.
func sumScalar[D ~[Size]byte](out []D, prefix []byte, a, b [][]byte, lb int) {
	if len(prefix) == 0 && lb == 0 {
		for i := range a {
			out[i] = D(blake2b.Sum256(a[i]))
		}
		return
	}
	var buf [256]byte
	if length := len(prefix) + len(a[0]) + lb; length <= len(buf) {
		for i := range a {
			n := copy(buf[:], prefix)
			n += copy(buf[n:], a[i])
			if lb > 0 {
				n += copy(buf[n:], b[i])
			}
			out[i] = D(blake2b.Sum256(buf[:n]))
		}
		return
	}
	h, err := blake2b.New256(nil)
	if err != nil {
		panic(err) // unreachable: no key
	}
	for i := range a {
		h.Reset()
		h.Write(prefix)
		h.Write(a[i])
		if lb > 0 {
			h.Write(b[i])
		}
		h.Sum(out[i][:0])
	}
}
