package blob

import (
	"github.com/floelabs/floe/redstuff"
)

// The helpers below tie the redstuff Encoder to verified metadata: they supply the metadata's
// pair hashes and the symbol size implied by its unencoded length. They assume m was checked
// with m.Verify(enc.Params()); they do not recompute the blob ID.

// VerifySliver checks a sliver (index, length, symbol size and hash) against m.
func VerifySliver(enc *redstuff.Encoder, m *MetadataWithID, s redstuff.Sliver) error {
	symbolSize, err := m.Metadata.SymbolSize(enc.Params())
	if err != nil {
		return err
	}
	return enc.VerifySliver(s, symbolSize, m.Metadata.Hashes)
}

// VerifyRecoverySymbol checks a recovery symbol (indices, size and Merkle proof) against m.
func VerifyRecoverySymbol(enc *redstuff.Encoder, m *MetadataWithID, sym redstuff.RecoverySymbol) error {
	symbolSize, err := m.Metadata.SymbolSize(enc.Params())
	if err != nil {
		return err
	}
	return enc.VerifyRecoverySymbol(sym, symbolSize, m.Metadata.Hashes)
}

// VerifyInconsistencyProof checks that proof shows the blob of m to be inconsistently encoded.
func VerifyInconsistencyProof(enc *redstuff.Encoder, m *MetadataWithID, proof *redstuff.InconsistencyProof) error {
	symbolSize, err := m.Metadata.SymbolSize(enc.Params())
	if err != nil {
		return err
	}
	return enc.VerifyInconsistencyProof(proof, symbolSize, m.Metadata.Hashes)
}

// RecoverSliver rebuilds sliver index of axis target of the blob of m from recovery symbols
// (see redstuff.Encoder.RecoverSliver).
func RecoverSliver(enc *redstuff.Encoder, m *MetadataWithID, target redstuff.Axis, index int, symbols []redstuff.RecoverySymbol) (redstuff.Sliver, *redstuff.InconsistencyProof, error) {
	symbolSize, err := m.Metadata.SymbolSize(enc.Params())
	if err != nil {
		return redstuff.Sliver{}, nil, err
	}
	return enc.RecoverSliver(target, index, symbolSize, symbols, m.Metadata.Hashes)
}

// Decode rebuilds the blob of m from slivers of one axis, running the default consistency
// check against m's hashes.
func Decode(enc *redstuff.Encoder, m *MetadataWithID, slivers []redstuff.Sliver) ([]byte, error) {
	return enc.Decode(m.Metadata.UnencodedLength, slivers, m.Metadata.Hashes)
}
