//go:build !purego

package crc32c

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// useFold is whether this CPU runs updateAVX512 (the tests clear it to cover hash/crc32).
var useFold = cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL && cpu.X86.HasAVX512VPCLMULQDQ &&
	cpu.X86.HasPCLMULQDQ && cpu.X86.HasSSE42

// updateAVX512 returns the CRC register (uninverted) after the n bytes at p, n a positive
// multiple of 64, starting from crc (crc32_amd64.s).
//
//go:noescape
func updateAVX512(crc uint32, p *byte, n int) uint32

// fold returns the CRC register after b, a multiple of 64 bytes long, starting from crc.
func fold(crc uint32, b []byte) uint32 {
	return updateAVX512(crc, unsafe.SliceData(b), len(b))
}

// foldK are the constants updateAVX512 multiplies by, as 64-bit bit-reflected polynomials
// (the bit of value 2^(63-i) is the coefficient of x^i) of degree < 32: pairs
// (x^(63+d) mod P, x^(d-1) mod P) that move the two halves of a 128-bit lane d bits on
// (a reflected carry-less product is the polynomial product times x). TestFoldConstants
// recomputes them.
var foldK = [...]uint64{
	// d = 2048: four 512-bit accumulators, 256 bytes on.
	0xe9a5d8be00000000, 0x1426a81500000000,
	// d = 512: one accumulator, 64 bytes on.
	0x1c19243b00000000, 0x75bba45b00000000,
	// d = 384, 256, 128 and none (zero): a 512-bit accumulator's four lanes onto its last.
	0xa46ef4aa00000000, 0x6051243f00000000,
	0x33ccbbbc00000000, 0xa2158b3400000000,
	0x3743f7bd00000000, 0x3171d43000000000,
	0, 0,
	// d = 8*(3*streamBytes+256): the accumulators over a superblock's three crc32 streams.
	0x1406ea5900000000, 0xd3855e1200000000,
	// x^(16*streamBytes+31) and x^(8*streamBytes+31) mod P, 32-bit reflected (the bit of value
	// 2^(31-i) is the coefficient of x^i): the first and second streams' registers times these
	// are congruent to them put after the third.
	0x8d96551c, 0x00ac29cf,
}

// streamBytes is the length of each crc32 stream of a superblock (SS in crc32c_amd64.s).
const streamBytes = 384
