package challenge

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"

	"golang.org/x/crypto/blake2b"

	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/redstuff"
)

// Errors of the package.
var (
	// ErrMalformed wraps every error of decoding untrusted bytes (packed samples, answers).
	ErrMalformed = errors.New("challenge: malformed encoding")
	// ErrInvalidProof: an answer entry that does not prove its sample.
	ErrInvalidProof = errors.New("challenge: the proof does not verify")
)

// Sample is one challenged symbol: symbol Symbol (0..n-1) of the expansion of the sliver of
// axis Axis that shard Shard stores for blob BlobID. Its Merkle opening against the sliver's
// hash in the blob's metadata shows that the node could compute the whole expansion, that is,
// that it held the sliver.
type Sample struct {
	BlobID blob.ID
	Shard  uint16
	Axis   redstuff.Axis
	Symbol uint16
}

// Pair returns the sliver pair the sample's shard stores for its blob.
func (s Sample) Pair(nShards int) int { return blob.PairIndex(s.BlobID, nShards, int(s.Shard)) }

// sampleDomain separates the PRF's inputs from every other Blake2b use.
const sampleDomain = "floe-challenge-sample-v1"

// Draw returns the count samples of a node in a round: for k = 0..count-1,
//
//	h_k = Blake2b-256("floe-challenge-sample-v1" || seed || node || u32_le(k))
//
// picks, independently and uniformly, a blob from blobs (with h_k[0:8]), one of the node's
// shards (h_k[8:16]), an axis (the low bit of h_k[16]) and a symbol index below nShards
// (h_k[24:32]); each 64-bit word x picks index floor(x * N / 2^64) of N, whose bias is at most
// N / 2^64. Samples are drawn with replacement, so each one hits a given sliver of the node
// with probability exactly 1 / (2 * len(blobs) * len(shards)) whatever the others did: the
// detection arithmetic (package doc) holds exactly. blobs must be the same sorted list for
// every caller (the control plane's eligible blobs at the seed); it returns nil if blobs or
// shards is empty.
func Draw(seed, node [32]byte, count int, blobs []blob.ID, shards []uint16, nShards int) []Sample {
	if len(blobs) == 0 || len(shards) == 0 || count <= 0 || nShards <= 0 {
		return nil
	}
	out := make([]Sample, count)
	buf := make([]byte, 0, len(sampleDomain)+32+32+4)
	buf = append(buf, sampleDomain...)
	buf = append(buf, seed[:]...)
	buf = append(buf, node[:]...)
	base := len(buf)
	for k := range out {
		h := blake2b.Sum256(binary.LittleEndian.AppendUint32(buf[:base], uint32(k)))
		out[k] = Sample{
			BlobID: blobs[pick(h[0:8], len(blobs))],
			Shard:  shards[pick(h[8:16], len(shards))],
			Axis:   redstuff.Axis(h[16] & 1),
			Symbol: uint16(pick(h[24:32], nShards)),
		}
	}
	return out
}

// pick maps 8 uniform bytes to an index below n (Lemire's multiply-high).
func pick(b []byte, n int) int {
	hi, _ := bits.Mul64(binary.LittleEndian.Uint64(b), uint64(n))
	return int(hi)
}

// PackedSampleLen is the size of one packed sample: blob ID, shard (u16 LE), axis, symbol
// (u16 LE).
const PackedSampleLen = 32 + 2 + 1 + 2

// Pack returns the compact encoding of samples that the control plane keeps in its state.
func Pack(samples []Sample) []byte {
	b := make([]byte, 0, len(samples)*PackedSampleLen)
	for _, s := range samples {
		b = append(b, s.BlobID[:]...)
		b = binary.LittleEndian.AppendUint16(b, s.Shard)
		b = append(b, byte(s.Axis))
		b = binary.LittleEndian.AppendUint16(b, s.Symbol)
	}
	return b
}

// Unpack decodes Pack's encoding.
func Unpack(b []byte) ([]Sample, error) {
	if len(b)%PackedSampleLen != 0 {
		return nil, fmt.Errorf("%w: %d bytes of packed samples", ErrMalformed, len(b))
	}
	out := make([]Sample, len(b)/PackedSampleLen)
	for i := range out {
		r := b[i*PackedSampleLen:]
		copy(out[i].BlobID[:], r[:32])
		out[i].Shard = binary.LittleEndian.Uint16(r[32:])
		if r[34] > 1 {
			return nil, fmt.Errorf("%w: axis %d", ErrMalformed, r[34])
		}
		out[i].Axis = redstuff.Axis(r[34])
		out[i].Symbol = binary.LittleEndian.Uint16(r[35:])
	}
	return out, nil
}
