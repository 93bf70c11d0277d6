package blob

import (
	"bytes"
	"testing"

	"github.com/floelabs/floe/redstuff"
)

// Every decoder of untrusted bytes has a fuzzer: decoding arbitrary input must not panic, and
// whatever decodes must re-encode to exactly the input (the encodings are canonical).

func roundTrip(t *testing.T, in []byte, encode func() ([]byte, error)) {
	t.Helper()
	out, err := encode()
	if err != nil {
		t.Fatalf("decoded %x but cannot re-encode: %v", in, err)
	}
	if !bytes.Equal(out, in) {
		t.Fatalf("not canonical:\n in %x\nout %x", in, out)
	}
}

func FuzzMetadata(f *testing.F) {
	m := Metadata{EncodingType: RS2, UnencodedLength: 17, Hashes: testHashes(4)}
	m.Hashes[1].Secondary = [32]byte{}
	b, _ := m.MarshalBCS()
	f.Add(b)
	f.Add([]byte{0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		var m Metadata
		if m.UnmarshalBCS(in) != nil {
			return
		}
		if m.BCSSize() != len(in) {
			t.Fatalf("BCSSize = %d for %d bytes", m.BCSSize(), len(in))
		}
		roundTrip(t, in, m.MarshalBCS)
	})
}

func FuzzMetadataWithID(f *testing.F) {
	m := MetadataWithID{Metadata: Metadata{EncodingType: RS2, UnencodedLength: 1 << 40, Hashes: testHashes(7)}}
	m.ID = m.Metadata.ID()
	b, _ := m.MarshalBCS()
	f.Add(b)
	f.Fuzz(func(t *testing.T, in []byte) {
		var m MetadataWithID
		if m.UnmarshalBCS(in) != nil {
			return
		}
		roundTrip(t, in, m.MarshalBCS)
		p, err := redstuff.NewParams(max(len(m.Metadata.Hashes), redstuff.MinShards))
		if err == nil {
			_ = m.Verify(p) // must not panic
		}
	})
}

func FuzzSliverData(f *testing.F) {
	b, _ := MarshalSliverData(redstuff.Sliver{Index: 3, SymbolSize: 4, Data: []byte("abcdefgh")})
	f.Add(b, false)
	f.Add([]byte{0, 0, 0, 0, 0}, true)
	f.Fuzz(func(t *testing.T, in []byte, secondary bool) {
		a := redstuff.Primary
		if secondary {
			a = redstuff.Secondary
		}
		s, err := UnmarshalSliverData(in, a)
		if err != nil {
			return
		}
		if s.Axis != a || s.SymbolSize <= 0 || s.SymbolSize%2 != 0 || len(s.Data)%s.SymbolSize != 0 {
			t.Fatalf("accepted invalid sliver %+v", s)
		}
		roundTrip(t, in, func() ([]byte, error) { return MarshalSliverData(s) })
	})
}

func FuzzSliver(f *testing.F) {
	b, _ := MarshalSliver(redstuff.Sliver{Axis: redstuff.Secondary, Index: 3, SymbolSize: 2, Data: []byte("abcd")})
	f.Add(b)
	f.Fuzz(func(t *testing.T, in []byte) {
		s, err := UnmarshalSliver(in)
		if err != nil {
			return
		}
		roundTrip(t, in, func() ([]byte, error) { return MarshalSliver(s) })
	})
}

func FuzzMerkleProof(f *testing.F) {
	b, _ := AppendMerkleProof(nil, testProof())
	f.Add(b)
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := UnmarshalMerkleProof(in)
		if err != nil {
			return
		}
		roundTrip(t, in, func() ([]byte, error) { return AppendMerkleProof(nil, p) })
	})
}

func FuzzDecodingSymbol(f *testing.F) {
	b, _ := DecodingSymbol{Index: 300, Data: []byte{1, 2}}.MarshalBCS()
	f.Add(b)
	f.Fuzz(func(t *testing.T, in []byte) {
		var s DecodingSymbol
		if s.UnmarshalBCS(in) != nil {
			return
		}
		roundTrip(t, in, s.MarshalBCS)
	})
}

func FuzzEitherDecodingSymbol(f *testing.F) {
	b, _ := EitherDecodingSymbol{Target: redstuff.Secondary, Symbol: DecodingSymbol{Index: 3, Data: []byte{1, 2}}}.MarshalBCS()
	f.Add(b)
	f.Fuzz(func(t *testing.T, in []byte) {
		var s EitherDecodingSymbol
		if s.UnmarshalBCS(in) != nil {
			return
		}
		roundTrip(t, in, s.MarshalBCS)
	})
}

func FuzzRecoverySymbol(f *testing.F) {
	b, _ := MarshalRecoverySymbol(testSymbol(redstuff.Primary, 5))
	f.Add(b, uint16(5))
	f.Fuzz(func(t *testing.T, in []byte, target uint16) {
		s, err := UnmarshalRecoverySymbol(in, redstuff.Secondary, int(target))
		if err != nil {
			return
		}
		if s.Target != redstuff.Secondary || s.TargetIndex != int(target) {
			t.Fatalf("context lost: %+v", s)
		}
		roundTrip(t, in, func() ([]byte, error) { return MarshalRecoverySymbol(s) })
	})
}

func FuzzGeneralRecoverySymbol(f *testing.F) {
	b, _ := MarshalGeneralRecoverySymbol(testSymbol(redstuff.Secondary, 5))
	f.Add(b)
	f.Fuzz(func(t *testing.T, in []byte) {
		s, err := UnmarshalGeneralRecoverySymbol(in)
		if err != nil {
			return
		}
		roundTrip(t, in, func() ([]byte, error) { return MarshalGeneralRecoverySymbol(s) })
	})
}

func FuzzGeneralRecoverySymbols(f *testing.F) {
	b, _ := MarshalGeneralRecoverySymbols([]redstuff.RecoverySymbol{testSymbol(0, 1), testSymbol(1, 2)})
	f.Add(b)
	f.Fuzz(func(t *testing.T, in []byte) {
		s, err := UnmarshalGeneralRecoverySymbols(in)
		if err != nil {
			return
		}
		roundTrip(t, in, func() ([]byte, error) { return MarshalGeneralRecoverySymbols(s) })
	})
}

func FuzzInconsistencyProof(f *testing.F) {
	p := &redstuff.InconsistencyProof{Target: redstuff.Primary, TargetIndex: 4,
		Symbols: []redstuff.RecoverySymbol{testSymbol(redstuff.Primary, 4), testSymbol(redstuff.Primary, 4)}}
	b, _ := MarshalInconsistencyProof(p)
	f.Add(b, true)
	f.Fuzz(func(t *testing.T, in []byte, primary bool) {
		a := redstuff.Secondary
		if primary {
			a = redstuff.Primary
		}
		p, err := UnmarshalInconsistencyProof(in, a)
		if err != nil {
			return
		}
		roundTrip(t, in, func() ([]byte, error) { return MarshalInconsistencyProof(p) })
	})
}

func FuzzSymbolIDBCS(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4})
	f.Fuzz(func(t *testing.T, in []byte) {
		var s SymbolID
		if s.UnmarshalBCS(in) != nil {
			return
		}
		roundTrip(t, in, func() ([]byte, error) { return s.AppendBCS(nil), nil })
	})
}

func FuzzSliverTypeBCS(f *testing.F) {
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, in []byte) {
		var s SliverType
		if s.UnmarshalBCS(in) != nil {
			return
		}
		roundTrip(t, in, func() ([]byte, error) { return s.AppendBCS(nil) })
	})
}

// Text forms: what parses prints back to something that parses to the same value.

func FuzzParseSymbolID(f *testing.F) {
	f.Add("12-345")
	f.Add("0-65535")
	f.Fuzz(func(t *testing.T, in string) {
		s, err := ParseSymbolID(in)
		if err != nil {
			return
		}
		again, err := ParseSymbolID(s.String())
		if err != nil || again != s {
			t.Fatalf("%q -> %v -> %q -> %v, %v", in, s, s.String(), again, err)
		}
	})
}

func FuzzParseID(f *testing.F) {
	f.Add("RcU82Mwf-CFkv1LaI_2qcpANwpGUuG3TMwnVzZxD2kY")
	f.Add("RcU82Mwf-CFkv1LaI_2qcpANwpGUuG3TMwnVzZxD2kZ")
	f.Add("123")
	f.Fuzz(func(t *testing.T, in string) {
		if id, err := ParseID(in); err == nil && id.String() != in {
			t.Fatalf("ParseID(%q) prints as %q", in, id.String())
		}
		if id, err := IDFromDecimal(in); err == nil {
			if back, err := IDFromDecimal(id.Decimal()); err != nil || back != id {
				t.Fatalf("IDFromDecimal(%q) = %x, does not round trip: %v", in, id, err)
			}
		}
	})
}
