//go:build !purego

#include "textflag.h"

// The message is a polynomial over GF(2), its first bit (bit 0 of byte 0) of highest degree; the
// CRC register after it is M(x)*x^32 mod P(x). A 128-bit lane loaded from memory is then a
// bit-reflected polynomial of degree < 128 (bit i the coefficient of x^(127-i)) times x^(bits
// after it). Four 512-bit accumulators (sixteen lanes) take the first 256 bytes, the starting
// register xored into the first 32 bits; each lane is then moved 256 bytes on by carry-less
// multiplications of its halves by x^(63+2048) and x^(2047) mod P (see foldK), which keeps it
// congruent mod P, and xored with the next 256 bytes. The accumulators are folded into one,
// 64 bytes at a time, its lanes onto the last; the CRC of those 16 bytes, computed with the
// SSE4.2 crc32 instruction from a zero register, is the CRC of the whole input.

// VPCLMULQDQ's immediate: $0x00 multiplies the low quadwords of each lane, $0x11 the high ones.
#define FOLD(acc, k, t, next) \
	VPCLMULQDQ $0x00, k, acc, t \
	VPCLMULQDQ $0x11, k, acc, acc \
	VPTERNLOGD $0x96, next, t, acc

// FOLDINTO xors src, moved 64 bytes on with the constants in k, into dst (t and src are clobbered).
#define FOLDINTO(src, k, t, dst) \
	VPCLMULQDQ $0x00, k, src, t \
	VPCLMULQDQ $0x11, k, src, src \
	VPTERNLOGD $0x96, src, t, dst

// func updateAVX512(crc uint32, p *byte, n int) uint32
TEXT ·updateAVX512(SB), NOSPLIT, $0-28
	MOVL crc+0(FP), AX
	MOVQ p+8(FP), SI
	MOVQ n+16(FP), CX
	VMOVD AX, X4
	CMPQ CX, $256
	JB   one

	VMOVDQU64 (SI), Z0
	VMOVDQU64 64(SI), Z1
	VMOVDQU64 128(SI), Z2
	VMOVDQU64 192(SI), Z3
	VPXORQ    Z4, Z0, Z0
	ADDQ      $256, SI
	SUBQ      $256, CX
	VBROADCASTI32X4 ·foldK+0(SB), Z5

loop4:
	CMPQ CX, $256
	JB   reduce4
	FOLD(Z0, Z5, Z6, (SI))
	FOLD(Z1, Z5, Z7, 64(SI))
	FOLD(Z2, Z5, Z8, 128(SI))
	FOLD(Z3, Z5, Z9, 192(SI))
	ADDQ $256, SI
	SUBQ $256, CX
	JMP  loop4

reduce4:
	VBROADCASTI32X4 ·foldK+16(SB), Z5
	FOLDINTO(Z0, Z5, Z6, Z1)
	FOLDINTO(Z1, Z5, Z6, Z2)
	FOLDINTO(Z2, Z5, Z6, Z3)
	JMP  loop1

one:
	VMOVDQU64 (SI), Z3
	VPXORQ    Z4, Z3, Z3
	ADDQ      $64, SI
	SUBQ      $64, CX
	VBROADCASTI32X4 ·foldK+16(SB), Z5

loop1:
	CMPQ CX, $64
	JB   reduce1
	FOLD(Z3, Z5, Z6, (SI))
	ADDQ $64, SI
	SUBQ $64, CX
	JMP  loop1

reduce1:
	VMOVDQU64     ·foldK+32(SB), Z5
	VPCLMULQDQ    $0x00, Z5, Z3, Z6
	VPCLMULQDQ    $0x11, Z5, Z3, Z7
	VEXTRACTI32X4 $3, Z3, X8
	VPXORQ        Z7, Z6, Z6
	VEXTRACTI64X4 $1, Z6, Y7
	VPXORQ        Y7, Y6, Y6
	VEXTRACTI32X4 $1, Y6, X7
	VPTERNLOGD    $0x96, X7, X6, X8
	VMOVQ         X8, AX
	VPEXTRQ       $1, X8, BX
	XORL          DX, DX
	CRC32Q        AX, DX
	CRC32Q        BX, DX
	MOVL          DX, ret+24(FP)
	VZEROUPPER
	RET
