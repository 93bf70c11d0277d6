package blob

import (
	"errors"
	"fmt"

	"github.com/floelabs/floe/internal/bcs"
	"github.com/floelabs/floe/internal/merkle"
	"github.com/floelabs/floe/redstuff"
)

// Errors of the BCS wire forms. Decoding errors wrap ErrMalformed and, where there is one, the
// specific error below.
var (
	// ErrMalformed wraps every error of decoding untrusted bytes.
	ErrMalformed = errors.New("blob: malformed BCS encoding")
	// ErrInvalidSymbols: a symbol size that is zero or odd, or data that is not a whole
	// number of symbols.
	ErrInvalidSymbols = errors.New("blob: invalid symbols")
	// ErrNonCanonicalNode: Node::Digest of 32 zero bytes, which Floe cannot tell apart from
	// Node::Empty and so refuses.
	ErrNonCanonicalNode = errors.New("blob: Merkle node Digest(0) is not canonical")
	// ErrUnknownVariant: an enum variant index that the type does not have.
	ErrUnknownVariant = errors.New("blob: unknown enum variant")
	// ErrIndexRange: an index or count that does not fit its wire field or limit.
	ErrIndexRange = errors.New("blob: index out of range")
	// ErrInvalidAxis: an Axis other than Primary or Secondary.
	ErrInvalidAxis = errors.New("blob: invalid sliver axis")
	// ErrTargetMismatch: a recovery symbol of an inconsistency proof whose target differs
	// from the proof's.
	ErrTargetMismatch = errors.New("blob: recovery symbol target differs from the proof's")
)

// Limits that bound what decoders allocate. Valid values are far below them: n is a u16, and
// a Merkle proof over at most 65 535 leaves has at most 16 nodes.
const (
	// MaxProofLen is the longest Merkle proof path the decoders accept.
	MaxProofLen = 64
	// maxCount bounds vectors with at most one element per shard.
	maxCount = redstuff.MaxShards
)

// Sizes of the smallest encodings, used to bound sequence lengths against the input.
const (
	minNodeSize            = 1
	minPairSize            = 2 * minNodeSize
	minDecodingSymbolSize  = 2 + 1
	minProofSize           = 1
	minRecoverySymbolSize  = minDecodingSymbolSize + minProofSize
	minGeneralRecoverySize = 1 + minDecodingSymbolSize + 2 + minProofSize
)

// malformed wraps a decoding error of the value named what.
func malformed(what string, err error) error {
	return fmt.Errorf("%w: %s: %w", ErrMalformed, what, err)
}

func checkAxis(a redstuff.Axis) error {
	if a != redstuff.Primary && a != redstuff.Secondary {
		return fmt.Errorf("%w: %d", ErrInvalidAxis, uint8(a))
	}
	return nil
}

// Node: enum { Empty, Digest([u8; 32]) }.

func nodeSize(n merkle.Node) int {
	if n.IsEmpty() {
		return 1
	}
	return 33
}

func encodeNode(e *bcs.Encoder, n merkle.Node) {
	if n.IsEmpty() {
		e.U8(0)
		return
	}
	e.U8(1)
	e.Fixed(n[:])
}

func decodeNode(d *bcs.Decoder) merkle.Node {
	var n merkle.Node
	switch v := d.Variant(); v {
	case 0:
	case 1:
		d.FixedInto(n[:])
		if d.Err() == nil && n.IsEmpty() {
			d.Fail(ErrNonCanonicalNode)
		}
	default:
		d.Fail(fmt.Errorf("%w: Node %d", ErrUnknownVariant, v))
	}
	return n
}

// MerkleProof: { path: vector<Node> }.

func proofSize(p merkle.Proof) int {
	s := bcs.ULEB128Size(uint64(len(p)))
	for _, n := range p {
		s += nodeSize(n)
	}
	return s
}

func encodeProof(e *bcs.Encoder, p merkle.Proof) {
	if len(p) > MaxProofLen {
		e.Fail(fmt.Errorf("%w: Merkle proof of %d nodes > %d", ErrIndexRange, len(p), MaxProofLen))
		return
	}
	e.Len(len(p))
	for _, n := range p {
		encodeNode(e, n)
	}
}

func decodeProof(d *bcs.Decoder) merkle.Proof {
	n := d.SeqLen(minNodeSize)
	if n > MaxProofLen {
		d.Fail(fmt.Errorf("%w: Merkle proof of %d nodes > %d", ErrIndexRange, n, MaxProofLen))
		return nil
	}
	if d.Err() != nil || n == 0 {
		return nil
	}
	p := make(merkle.Proof, n)
	for i := range p {
		p[i] = decodeNode(d)
	}
	return p
}

// AppendMerkleProof appends the BCS MerkleProof { path: vector<Node> } of p to dst.
func AppendMerkleProof(dst []byte, p merkle.Proof) ([]byte, error) {
	e := bcs.NewEncoder(dst)
	encodeProof(e, p)
	return e.Result()
}

// UnmarshalMerkleProof decodes a BCS MerkleProof. An empty path decodes as a nil Proof.
func UnmarshalMerkleProof(b []byte) (merkle.Proof, error) {
	d := bcs.NewDecoder(b)
	p := decodeProof(d)
	if err := d.Finish(); err != nil {
		return nil, malformed("MerkleProof", err)
	}
	return p, nil
}

// encodeU16 appends v as a u16, failing e with ErrIndexRange if it does not fit.
func encodeU16(e *bcs.Encoder, what string, v int) {
	if v < 0 || v > 0xffff {
		e.Fail(fmt.Errorf("%w: %s %d does not fit in a u16", ErrIndexRange, what, v))
		return
	}
	e.U16(uint16(v))
}
