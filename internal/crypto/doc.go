// Package crypto holds Floe's key material and signature schemes: BLS12-381 in the "min-pk"
// variant that Walrus storage nodes use to sign protocol messages (public keys in G1, 48 bytes
// compressed; signatures in G2, 96 bytes; the basic ciphersuite with DST
// BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_NUL_), with aggregation of signatures and public keys,
// and ed25519 account keys with their 32-byte addresses.
//
// Every decoder checks that points are on the curve, in the prime-order subgroup and (for
// public keys) not the identity, so a forged or malformed point is rejected before it can take
// part in an aggregate.
package crypto
