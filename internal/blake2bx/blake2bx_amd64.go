package blake2bx

//go:generate go run gen_amd64.go

import "golang.org/x/sys/cpu"

//go:noescape
func hashBlocks8(h *uint64, p **byte, n int, t, length, final uint64)

//go:noescape
func hashBlocks4(h *uint64, p **byte, n int, t, length, final uint64)

// hashPairs8 sets, for i < 8*groups, the 32 bytes at dst+32i to the digest of prefix (a byte) ||
// the 64 bytes at src+64i. dst may equal src.
//
//go:noescape
func hashPairs8(dst, src *byte, groups int, prefix uint64)

// hashOne8 sets the 32 bytes at dst+32l to the digest of the message of length bytes (at most
// 128) whose zero-padded block is the 128 bytes at src+128l, for the eight lanes l.
//
//go:noescape
func hashOne8(dst, src *byte, length uint64)

// hashBlocks16, hashPairs16 and hashOne16 are the 8-lane kernels for two groups of 8
// messages, interleaved: lanes 0-7 and 8-15 (h is h[w*16+lane], p holds 16 pointers per
// block; pairs and one-block messages are 16 per group).
//
//go:noescape
func hashBlocks16(h *uint64, p **byte, n int, t, length, final uint64)

//go:noescape
func hashPairs16(dst, src *byte, groups int, prefix uint64)

//go:noescape
func hashOne16(dst, src *byte, length uint64)

// bestLanes is the widest kernel this CPU runs.
var bestLanes = func() int {
	switch {
	case cpu.X86.HasAVX512F:
		return 16
	case cpu.X86.HasAVX2:
		return 4
	}
	return 1
}()
