package redstuff

import (
	"github.com/floelabs/floe/internal/merkle"
)

// Node is a 32-byte Merkle node (Blake2b-256); the zero value is Walrus's Node::Empty.
type Node = merkle.Node

// PairHashes are the commitments of one sliver pair: the Merkle roots over the expansions of
// its primary sliver (row p of the expanded matrix) and of its secondary sliver (column n-1-p).
type PairHashes struct {
	Primary   Node
	Secondary Node
}

// Hash returns the hash of the sliver of axis a.
func (h PairHashes) Hash(a Axis) Node {
	if a == Primary {
		return h.Primary
	}
	return h.Secondary
}

// Sliver is one primary or secondary sliver: Index is the sliver index (not the pair index).
type Sliver struct {
	Axis       Axis
	Index      int
	SymbolSize int
	Data       []byte
}

// Commitment is what the metadata commits to: the symbol size, the n pair hashes (in pair
// order) and the Merkle root over them that the blob ID is derived from.
type Commitment struct {
	Length     uint64
	SymbolSize int
	Hashes     []PairHashes
	Root       Node
}

// Encoding is a fully encoded blob: its commitment and all 2n slivers.
type Encoding struct {
	Commitment
	// Primary[i] is primary sliver i (K_s symbols).
	Primary [][]byte
	// Secondary[j] is secondary sliver j (K_p symbols); pair p holds Secondary[n-1-p].
	Secondary [][]byte
	// mem holds all the slivers (Encode's), nil if they are not in one piece.
	mem []byte
}

// Memory returns the memory that holds all the slivers (nil if they are not in one piece, as
// in an encoding built from its parts), for a later Encoder.EncodeInto to reuse once neither
// the encoding nor any of its slivers is used any more.
func (e *Encoding) Memory() []byte { return e.mem }

// Pair returns the primary and secondary sliver of pair p.
func (e *Encoding) Pair(p int) (primary, secondary Sliver) {
	n := len(e.Primary)
	primary = Sliver{Axis: Primary, Index: p, SymbolSize: e.SymbolSize, Data: e.Primary[p]}
	secondary = Sliver{Axis: Secondary, Index: n - 1 - p, SymbolSize: e.SymbolSize, Data: e.Secondary[n-1-p]}
	return primary, secondary
}

// RecoverySymbol is one symbol E[row][col] of the expanded matrix with its Merkle proof, sent
// to help rebuild a lost sliver.
//
// Target is the axis of the sliver it helps rebuild. For Target == Primary the symbol is
// element TargetIndex of the expansion of secondary sliver SourceIndex (E[TargetIndex][SourceIndex]),
// proven against the secondary hash of pair n-1-SourceIndex at leaf TargetIndex. For
// Target == Secondary it is element TargetIndex of the expansion of primary sliver
// SourceIndex (E[SourceIndex][TargetIndex]), proven against the primary hash of pair
// SourceIndex.
type RecoverySymbol struct {
	Target      Axis
	SourceIndex int
	TargetIndex int
	Data        []byte
	Proof       merkle.Proof
}

// InconsistencyProof shows that the sliver TargetIndex of axis Target, rebuilt from exactly
// K (= the sliver's symbol count) verified recovery symbols, does not match its hash in the
// metadata: the writer encoded the blob inconsistently.
type InconsistencyProof struct {
	Target      Axis
	TargetIndex int
	Symbols     []RecoverySymbol
}

// RootHash returns the Merkle root over the pair hashes, each leaf being
// primary_hash || secondary_hash (Empty hashes count as 32 zero bytes). The blob ID is derived
// from it.
func RootHash(hashes []PairHashes) Node {
	h := merkle.NewHasher()
	leaves := make([]Node, len(hashes))
	for i := range hashes {
		leaves[i] = h.LeafParts(hashes[i].Primary[:], hashes[i].Secondary[:])
	}
	return merkle.RootInPlace(leaves)
}
