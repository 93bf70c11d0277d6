//go:build !purego

#include "textflag.h"

// The message is a polynomial over GF(2), its first bit (bit 0 of byte 0) of highest degree; the
// CRC register after it is M(x)*x^32 mod P(x), so bytes can be replaced by any bytes congruent
// mod P at the same place. A 128-bit lane loaded from memory is a bit-reflected polynomial of
// degree < 128 (bit i the coefficient of x^(127-i)) times x^(bits after it). Four 512-bit
// accumulators (sixteen lanes) take 256 bytes, the starting register xored into the first 32
// bits; each lane is then moved 256 bytes on by carry-less multiplications of its halves by
// x^(63+2048) and x^(2047) mod P (see foldK), which keeps it congruent mod P, and xored with
// the next 256 bytes. The accumulators are folded into one, 64 bytes at a time, its lanes onto
// the last; the CRC of those 16 bytes, computed with the SSE4.2 crc32 instruction from a zero
// register, is the CRC of the whole input.
//
// The crc32 instruction runs beside the multiplications: inputs of at least SBLOCK+256 bytes
// are taken in superblocks of SBLOCK bytes, SA folded as above then three streams of SS bytes
// each summed with crc32 from a zero register, 48 bytes of each for every 256 folded bytes
// (three chains of six dependent crc32s take about as long as the eight multiplications). The
// register c of a stream is the stream's bytes times x^32 mod P: c times x^(8t+32)
// mod P, a carry-less product with x^(8t+31) mod P, is a 64-bit value congruent to the stream
// put in the 8 bytes t bytes after its end. The three are put at the start of the next
// superblock (or the 256 bytes after the last one), xored into those bytes as the starting
// register was into the first, and the accumulators are moved on over the three streams with
// the constants for 3*SS+256 bytes.

// SS is streamBytes in crc32c_amd64.go; SBLOCK is SA+3*SS.
#define SA 2048
#define SS 384
#define SBLOCK 3200

// VPCLMULQDQ's immediate: $0x00 multiplies the low quadwords of each lane, $0x11 the high ones.

// FOLD moves acc on by the constants in k and xors next into it (t is clobbered).
#define FOLD(acc, k, t, next) \
	VPCLMULQDQ $0x00, k, acc, t \
	VPCLMULQDQ $0x11, k, acc, acc \
	VPTERNLOGD $0x96, next, t, acc

// FOLDINTO xors src, moved on by the constants in k, into dst (t and src are clobbered).
#define FOLDINTO(src, k, t, dst) \
	VPCLMULQDQ $0x00, k, src, t \
	VPCLMULQDQ $0x11, k, src, src \
	VPTERNLOGD $0x96, src, t, dst

// CRCS adds 48 bytes of each stream (at DI, DI+SS and DI+2*SS) to its register R8, R9, R10.
#define CRCS \
	CRC32Q 0(DI), R8 \
	CRC32Q SS+0(DI), R9 \
	CRC32Q 2*SS+0(DI), R10 \
	CRC32Q 8(DI), R8 \
	CRC32Q SS+8(DI), R9 \
	CRC32Q 2*SS+8(DI), R10 \
	CRC32Q 16(DI), R8 \
	CRC32Q SS+16(DI), R9 \
	CRC32Q 2*SS+16(DI), R10 \
	CRC32Q 24(DI), R8 \
	CRC32Q SS+24(DI), R9 \
	CRC32Q 2*SS+24(DI), R10 \
	CRC32Q 32(DI), R8 \
	CRC32Q SS+32(DI), R9 \
	CRC32Q 2*SS+32(DI), R10 \
	CRC32Q 40(DI), R8 \
	CRC32Q SS+40(DI), R9 \
	CRC32Q 2*SS+40(DI), R10

// func updateAVX512(crc uint32, p *byte, n int) uint32
//
// n is a multiple of 64, at least 256.
TEXT ·updateAVX512(SB), NOSPLIT, $0-28
	MOVL crc+0(FP), AX
	MOVQ p+8(FP), SI
	MOVQ n+16(FP), CX
	VMOVD AX, X4
	VBROADCASTI32X4 ·foldK+0(SB), Z5
	CMPQ CX, $SBLOCK+256
	JB   first4

	// Superblocks. Z4 holds what to xor into the first 64 bytes of the next, the accumulators
	// (zero before the first) what moves on into them.
	VBROADCASTI32X4 ·foldK+96(SB), Z10
	VMOVDQU64       ·foldK+112(SB), X12
	VPXORQ          Z0, Z0, Z0
	VPXORQ          Z1, Z1, Z1
	VPXORQ          Z2, Z2, Z2
	VPXORQ          Z3, Z3, Z3

super:
	XORL R8, R8
	XORL R9, R9
	XORL R10, R10
	LEAQ SA(SI), DI
	FOLD(Z0, Z10, Z6, (SI))
	FOLD(Z1, Z10, Z7, 64(SI))
	FOLD(Z2, Z10, Z8, 128(SI))
	FOLD(Z3, Z10, Z9, 192(SI))
	VPXORQ Z4, Z0, Z0
	CRCS
	ADDQ $256, SI
	ADDQ $48, DI
	MOVQ $SA/256-1, BX

superloop:
	FOLD(Z0, Z5, Z6, (SI))
	FOLD(Z1, Z5, Z7, 64(SI))
	FOLD(Z2, Z5, Z8, 128(SI))
	FOLD(Z3, Z5, Z9, 192(SI))
	CRCS
	ADDQ $256, SI
	ADDQ $48, DI
	DECQ BX
	JNZ  superloop

	// Z4 = the carry-less products of R8 and R9 with x^(16*SS+31) and x^(8*SS+31) mod P, xor
	// R10: the three streams as the next superblock's first 8 bytes.
	VMOVQ      R8, X11
	VPINSRQ    $1, R9, X11, X11
	VPCLMULQDQ $0x00, X12, X11, X13
	VPCLMULQDQ $0x11, X12, X11, X14
	VMOVQ      R10, X4
	VPTERNLOGD $0x96, X14, X13, X4
	ADDQ       $3*SS, SI
	SUBQ       $SBLOCK, CX
	CMPQ       CX, $SBLOCK+256
	JAE        super

	// Move the accumulators on over the last superblock's streams, into the next 256 bytes.
	FOLD(Z0, Z10, Z6, (SI))
	FOLD(Z1, Z10, Z7, 64(SI))
	FOLD(Z2, Z10, Z8, 128(SI))
	FOLD(Z3, Z10, Z9, 192(SI))
	VPXORQ Z4, Z0, Z0
	JMP    next4

first4:
	VMOVDQU64 (SI), Z0
	VMOVDQU64 64(SI), Z1
	VMOVDQU64 128(SI), Z2
	VMOVDQU64 192(SI), Z3
	VPXORQ    Z4, Z0, Z0

next4:
	ADDQ $256, SI
	SUBQ $256, CX

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
