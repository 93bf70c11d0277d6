// Package crc32c computes CRC-32C (Castagnoli) checksums, the same values as hash/crc32 with
// the Castagnoli table, faster on large inputs: on amd64 CPUs with AVX-512 and VPCLMULQDQ it
// folds 256 bytes at a time with carry-less multiplications over 512-bit registers, while three
// streams of the SSE4.2 crc32 instruction (all hash/crc32 runs) sum other parts of the input.
package crc32c

import "hash/crc32"

// table is hash/crc32's Castagnoli table: small inputs, tails and other CPUs use hash/crc32.
var table = crc32.MakeTable(crc32.Castagnoli)

// minFold is the length from which Update folds with carry-less multiplications where the CPU
// can; shorter inputs go to hash/crc32, as fast there (see BenchmarkChecksum).
const minFold = 256

// Checksum returns the CRC-32C checksum of b: crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)).
func Checksum(b []byte) uint32 { return Update(0, b) }

// Update returns the result of adding the bytes of b to crc: crc32.Update(crc, t, b) with t the
// Castagnoli table.
func Update(crc uint32, b []byte) uint32 {
	if len(b) >= minFold && useFold {
		n := len(b) &^ 63
		crc = ^fold(^crc, b[:n])
		b = b[n:]
	}
	return crc32.Update(crc, table, b)
}
