// Package redstuff implements Walrus's RS2 RedStuff encoding, bit-compatible with Walrus: a
// blob becomes a K_p x K_s matrix of symbols that is expanded with two systematic Reed-Solomon
// codes over GF(2^16) (reed-solomon-simd 3.1.0) into an n x n matrix; row i restricted to its
// first K_s symbols is primary sliver i, column j restricted to its first K_p symbols is
// secondary sliver j. Sliver pair p holds primary sliver p and secondary sliver n-1-p, and is
// committed to by the Merkle roots of the full row p and column n-1-p of the expanded matrix.
//
// The package is pure computation: no I/O and no global state. Work is spread over all cores.
package redstuff
