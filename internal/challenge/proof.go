package challenge

import (
	"fmt"

	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/merkle"
	"github.com/floelabs/floe/redstuff"
)

// BlobProver answers the samples of one blob from its metadata and the node's slivers.
type BlobProver struct {
	enc  *redstuff.Encoder
	md   *blob.MetadataWithID
	tree *merkle.Tree
}

// NewBlobProver returns a prover for the blob of md (verified metadata).
func NewBlobProver(enc *redstuff.Encoder, md *blob.MetadataWithID) (*BlobProver, error) {
	n := enc.Params().NShards
	if len(md.Metadata.Hashes) != n {
		return nil, fmt.Errorf("challenge: metadata has %d pair hashes, want %d", len(md.Metadata.Hashes), n)
	}
	h := merkle.NewHasher()
	leaves := make([]merkle.Node, n)
	for i, ph := range md.Metadata.Hashes {
		leaves[i] = h.LeafParts(ph.Primary[:], ph.Secondary[:])
	}
	return &BlobProver{enc: enc, md: md, tree: merkle.NewTree(leaves)}, nil
}

// Prove answers samples of the blob that all lie in sliver (the sliver of their axis in the
// pair of their shard), expanding the sliver once. Each entry is checked with Verify before it
// is returned, so a prover never sends a proof its own store made wrong (a corrupt sliver
// gives an error, and the node rebuilds the sliver instead).
func (p *BlobProver) Prove(sliver redstuff.Sliver, samples []Sample) ([]Entry, error) {
	params := p.enc.Params()
	n := params.NShards
	targets := make([]int, len(samples))
	pair := -1
	for i, s := range samples {
		if s.BlobID != p.md.ID || s.Axis != sliver.Axis {
			return nil, fmt.Errorf("challenge: sample %d is not of this blob and axis", i)
		}
		sp := s.Pair(n)
		if params.SliverIndex(s.Axis, sp) != sliver.Index || (pair >= 0 && sp != pair) {
			return nil, fmt.Errorf("challenge: sample %d lies in another sliver", i)
		}
		pair = sp
		targets[i] = int(s.Symbol)
	}
	if len(samples) == 0 {
		return nil, nil
	}
	syms, err := p.enc.RecoverySymbols(sliver, targets)
	if err != nil {
		return nil, fmt.Errorf("challenge: expanding the sliver: %w", err)
	}
	pairProof, err := p.tree.Proof(pair)
	if err != nil {
		return nil, err
	}
	out := make([]Entry, len(samples))
	for i, s := range samples {
		out[i] = Entry{Status: Proven, Length: p.md.Metadata.UnencodedLength, Root: p.tree.Root(),
			Pair: p.md.Metadata.Hashes[pair], PairProof: pairProof, Symbol: syms[i].Data, SymbolProof: syms[i].Proof}
		if err := Verify(params, s, &out[i]); err != nil {
			return nil, fmt.Errorf("challenge: the stored sliver does not prove sample %d: %w", i, err)
		}
	}
	return out, nil
}

// Verify checks that a Proven entry answers sample s on a network of params.NShards shards:
// the blob ID derives from the entry's root and length (RS2), the pair hashes open at the
// sample's pair index under the root, the symbol has the blob's symbol size, and it opens at
// the sample's symbol index under the hash of the sample's axis. Nothing else is needed: no
// metadata, no state.
func Verify(params redstuff.Params, s Sample, e *Entry) error {
	n := params.NShards
	if e.Status != Proven {
		return fmt.Errorf("%w: entry is %s", ErrInvalidProof, e.Status)
	}
	if int(s.Shard) >= n || int(s.Symbol) >= n || (s.Axis != redstuff.Primary && s.Axis != redstuff.Secondary) {
		return fmt.Errorf("%w: sample out of range", ErrInvalidProof)
	}
	if got := blob.DeriveID(blob.RS2, e.Length, e.Root); got != s.BlobID {
		return fmt.Errorf("%w: root and length derive blob %s, not %s", ErrInvalidProof, got, s.BlobID)
	}
	symbolSize, err := params.SymbolSize(e.Length)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidProof, err)
	}
	if len(e.Symbol) != symbolSize {
		return fmt.Errorf("%w: symbol of %d bytes, the blob's are %d", ErrInvalidProof, len(e.Symbol), symbolSize)
	}
	var leaf [64]byte
	copy(leaf[:32], e.Pair.Primary[:])
	copy(leaf[32:], e.Pair.Secondary[:])
	if err := e.PairProof.Verify(e.Root, s.Pair(n), n, leaf[:]); err != nil {
		return fmt.Errorf("%w: pair hashes: %w", ErrInvalidProof, err)
	}
	if err := e.SymbolProof.Verify(e.Pair.Hash(s.Axis), int(s.Symbol), n, e.Symbol); err != nil {
		return fmt.Errorf("%w: symbol: %w", ErrInvalidProof, err)
	}
	return nil
}
