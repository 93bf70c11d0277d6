package blob

import (
	"github.com/floelabs/floe/redstuff"
)

// RotationOffset returns the offset by which a blob's sliver pairs are rotated onto shards:
// the ID read as a 256-bit BIG-endian unsigned integer, modulo nShards (spec §2.6). Note that
// this is the opposite byte order from the on-chain u256 (see Decimal). It panics if nShards
// is not positive.
func RotationOffset(id ID, nShards int) int {
	if nShards <= 0 {
		panic("blob: RotationOffset: the number of shards must be positive")
	}
	n := uint64(nShards)
	var acc uint64
	for _, b := range id {
		acc = (acc<<8 | uint64(b)) % n
	}
	return int(acc)
}

// mod returns a mod n in [0, n).
func mod(a, n int) int {
	r := a % n
	if r < 0 {
		r += n
	}
	return r
}

// ShardIndex returns the shard that stores sliver pair pair of the blob: (pair + offset) mod
// nShards. pair should be in [0, nShards); other values are reduced modulo nShards. It panics
// if nShards is not positive.
func ShardIndex(id ID, nShards, pair int) int {
	return mod(mod(pair, nShards)+RotationOffset(id, nShards), nShards)
}

// PairIndex returns the sliver pair of the blob that shard shard stores, the inverse of
// ShardIndex: (shard - offset) mod nShards. It panics if nShards is not positive.
func PairIndex(id ID, nShards, shard int) int {
	return mod(mod(shard, nShards)-RotationOffset(id, nShards), nShards)
}

// EncodedLength returns the encoded length Walrus charges storage for a blob of the given
// unencoded length on nShards shards: n * ((K_p + K_s) * s + 64n + 32) (spec §2.7).
func EncodedLength(length uint64, nShards int) (uint64, error) {
	p, err := redstuff.NewParams(nShards)
	if err != nil {
		return 0, err
	}
	return p.EncodedLength(length)
}
