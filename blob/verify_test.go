package blob

import (
	"bytes"
	"errors"
	"testing"

	"github.com/floelabs/floe/redstuff"
)

// encodeTestBlob encodes a small blob at n = 10 and returns the encoder, the encoding and its
// verified metadata.
func encodeTestBlob(t *testing.T) (*redstuff.Encoder, *redstuff.Encoding, *MetadataWithID, []byte) {
	t.Helper()
	enc, err := redstuff.New(10, redstuff.WithWorkers(2))
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("floe blob verification "), 7)
	e, err := enc.Encode(data)
	if err != nil {
		t.Fatal(err)
	}
	m := NewMetadata(&e.Commitment)
	if err := m.Verify(enc.Params()); err != nil {
		t.Fatal(err)
	}
	return enc, e, m, data
}

func TestVerifySliverThroughBCS(t *testing.T) {
	enc, e, m, _ := encodeTestBlob(t)
	n := enc.Params().NShards
	for pair := range n {
		for _, s := range func() []redstuff.Sliver { p, q := e.Pair(pair); return []redstuff.Sliver{p, q} }() {
			b, err := MarshalSliverData(s)
			if err != nil {
				t.Fatal(err)
			}
			got, err := UnmarshalSliverData(b, s.Axis)
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifySliver(enc, m, got); err != nil {
				t.Fatalf("pair %d %s sliver %d: %v", pair, s.Axis, s.Index, err)
			}
		}
	}
	p, _ := e.Pair(3)
	bad := p
	bad.Data = append([]byte(nil), p.Data...)
	bad.Data[0] ^= 1
	if err := VerifySliver(enc, m, bad); !errors.Is(err, redstuff.ErrInvalidSliver) {
		t.Fatalf("corrupted sliver: err = %v", err)
	}
	wrong := p
	wrong.Index = 4
	if err := VerifySliver(enc, m, wrong); err == nil {
		t.Fatal("sliver under the wrong index verified")
	}
	huge := *m
	huge.Metadata.UnencodedLength = enc.Params().MaxBlobSize() + 1
	if err := VerifySliver(enc, &huge, p); !errors.Is(err, ErrBlobTooLarge) {
		t.Fatalf("metadata too large: err = %v", err)
	}
}

func TestRecoveryThroughBCS(t *testing.T) {
	enc, e, m, data := encodeTestBlob(t)
	params := enc.Params()
	const target = 6 // rebuild secondary sliver 6 from primary slivers
	var syms []redstuff.RecoverySymbol
	for i := range params.SymbolCount(redstuff.Secondary) {
		src, _ := e.Pair(i)
		rs, err := enc.RecoverySymbols(src, []int{target})
		if err != nil {
			t.Fatal(err)
		}
		syms = append(syms, rs...)
	}
	wire, err := MarshalGeneralRecoverySymbols(syms)
	if err != nil {
		t.Fatal(err)
	}
	got, err := UnmarshalGeneralRecoverySymbols(wire)
	if err != nil || len(got) != len(syms) {
		t.Fatalf("decoded %d symbols, %v", len(got), err)
	}
	for _, s := range got {
		if err := VerifyRecoverySymbol(enc, m, s); err != nil {
			t.Fatalf("symbol from %d: %v", s.SourceIndex, err)
		}
	}
	sl, proof, err := RecoverSliver(enc, m, redstuff.Secondary, target, got)
	if err != nil || proof != nil {
		t.Fatalf("RecoverSliver: %v (proof %v)", err, proof)
	}
	if !bytes.Equal(sl.Data, e.Secondary[target]) {
		t.Fatal("recovered sliver differs from the encoded one")
	}
	got[0].Data[0] ^= 1
	if err := VerifyRecoverySymbol(enc, m, got[0]); !errors.Is(err, redstuff.ErrInvalidSymbol) {
		t.Fatalf("corrupted symbol: err = %v", err)
	}

	// Decode from K_p primary slivers.
	var prim []redstuff.Sliver
	for i := range params.PrimarySource {
		p, _ := e.Pair(params.NShards - 1 - i)
		prim = append(prim, p)
	}
	out, err := Decode(enc, m, prim)
	if err != nil || !bytes.Equal(out, data) {
		t.Fatalf("Decode: %v", err)
	}
}

func TestInconsistencyProofThroughBCS(t *testing.T) {
	enc, e, m, _ := encodeTestBlob(t)
	params := enc.Params()
	// A writer that lies about primary sliver 2's hash (and derives the ID from the lie).
	const target = 2
	bad := &MetadataWithID{Metadata: m.Metadata}
	bad.Metadata.Hashes = append([]redstuff.PairHashes(nil), m.Metadata.Hashes...)
	bad.Metadata.Hashes[target].Primary[0] ^= 1
	bad.ID = bad.Metadata.ID()
	if err := bad.Verify(params); err != nil {
		t.Fatal(err)
	}
	var syms []redstuff.RecoverySymbol
	for j := range params.SymbolCount(redstuff.Primary) {
		_, sec := e.Pair(params.NShards - 1 - j) // secondary sliver j
		rs, err := enc.RecoverySymbols(sec, []int{target})
		if err != nil {
			t.Fatal(err)
		}
		syms = append(syms, rs...)
	}
	_, proof, err := RecoverSliver(enc, bad, redstuff.Primary, target, syms)
	if !errors.Is(err, redstuff.ErrInconsistent) || proof == nil {
		t.Fatalf("RecoverSliver: %v, proof %v", err, proof)
	}
	wire, err := MarshalInconsistencyProof(proof)
	if err != nil {
		t.Fatal(err)
	}
	got, err := UnmarshalInconsistencyProof(wire, redstuff.Primary)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyInconsistencyProof(enc, bad, got); err != nil {
		t.Fatalf("valid inconsistency proof rejected: %v", err)
	}
	// Against the honest metadata the same symbols rebuild a matching sliver: no proof.
	if err := VerifyInconsistencyProof(enc, m, got); !errors.Is(err, redstuff.ErrInvalidProof) {
		t.Fatalf("proof against honest metadata: err = %v", err)
	}
}
