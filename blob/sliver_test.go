package blob

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/floelabs/floe/internal/merkle"
	"github.com/floelabs/floe/redstuff"
)

func TestSliverDataBytes(t *testing.T) {
	s := redstuff.Sliver{Axis: redstuff.Secondary, Index: 0x0102, SymbolSize: 2, Data: []byte{1, 2, 3, 4}}
	want := unhex(t, ""+
		"04 01020304"+ // data: vector<u8>
		"0200"+ // symbol_size: u16
		"0201") // index: u16
	got, err := MarshalSliverData(s)
	if err != nil || !bytes.Equal(got, want) || SliverDataSize(s) != len(want) {
		t.Fatalf("MarshalSliverData = %x, %v; want %x", got, err, want)
	}
	back, err := UnmarshalSliverData(want, redstuff.Secondary)
	if err != nil || !reflect.DeepEqual(back, s) {
		t.Fatalf("UnmarshalSliverData = %+v, %v", back, err)
	}

	// The Sliver enum prefixes the axis.
	got, err = MarshalSliver(s)
	if err != nil || got[0] != 0x01 || !bytes.Equal(got[1:], want) {
		t.Fatalf("MarshalSliver = %x, %v", got, err)
	}
	back, err = UnmarshalSliver(got)
	if err != nil || !reflect.DeepEqual(back, s) {
		t.Fatalf("UnmarshalSliver = %+v, %v", back, err)
	}
	s.Axis = redstuff.Primary
	got, _ = MarshalSliver(s)
	if got[0] != 0x00 {
		t.Fatalf("primary Sliver variant = %x", got[0])
	}
	if _, err := UnmarshalSliver(append([]byte{0x02}, want...)); !errors.Is(err, ErrUnknownVariant) {
		t.Fatalf("Sliver variant 2: err = %v", err)
	}

	// A large sliver: 300-byte data has a two-byte length prefix.
	big := redstuff.Sliver{Axis: redstuff.Primary, Index: 7, SymbolSize: 6, Data: make([]byte, 300)}
	got, err = MarshalSliverData(big)
	if err != nil || got[0] != 0xac || got[1] != 0x02 || len(got) != 2+300+4 {
		t.Fatalf("300-byte sliver: %x..., %d bytes, %v", got[:2], len(got), err)
	}
}

func TestSliverDataErrors(t *testing.T) {
	encodeBad := []redstuff.Sliver{
		{SymbolSize: 0, Data: nil},
		{SymbolSize: 3, Data: make([]byte, 6)},
		{SymbolSize: 4, Data: make([]byte, 6)},
		{SymbolSize: 65536, Data: nil},
	}
	for _, s := range encodeBad {
		if _, err := MarshalSliverData(s); !errors.Is(err, ErrInvalidSymbols) {
			t.Errorf("MarshalSliverData(size %d, %d bytes): err = %v", s.SymbolSize, len(s.Data), err)
		}
	}
	for _, idx := range []int{-1, 65536} {
		s := redstuff.Sliver{Index: idx, SymbolSize: 2}
		if _, err := MarshalSliverData(s); !errors.Is(err, ErrIndexRange) {
			t.Errorf("MarshalSliverData(index %d): err = %v", idx, err)
		}
	}
	if _, err := MarshalSliver(redstuff.Sliver{Axis: 2, SymbolSize: 2}); !errors.Is(err, ErrInvalidAxis) {
		t.Errorf("MarshalSliver(axis 2): err = %v", err)
	}

	decodeBad := []struct {
		name string
		in   string
		want error
	}{
		{"symbol size 0", "00 0000 0000", ErrInvalidSymbols},
		{"symbol size 0 with data", "02 0102 0000 0000", ErrInvalidSymbols},
		{"odd symbol size", "03 010203 0300 0000", ErrInvalidSymbols},
		{"symbol size 65535", "00 ffff 0000", ErrInvalidSymbols},
		{"partial symbol", "03 010203 0200 0000", ErrInvalidSymbols},
		{"data beyond input", "05 0102 0200 0000", ErrMalformed},
		{"missing index", "02 0102 0200 00", ErrMalformed},
		{"trailing", "02 0102 0200 0000 00", ErrMalformed},
		{"non-canonical length", "8200 0102 0200 0000", ErrMalformed},
	}
	for _, tc := range decodeBad {
		_, err := UnmarshalSliverData(unhex(t, tc.in), redstuff.Primary)
		if !errors.Is(err, tc.want) || !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := UnmarshalSliverData(unhex(t, "00 0200 0000"), 3); !errors.Is(err, ErrInvalidAxis) {
		t.Errorf("axis 3: err = %v", err)
	}
	// An empty sliver is structurally fine (verification rejects it).
	if s, err := UnmarshalSliverData(unhex(t, "00 0200 0500"), redstuff.Primary); err != nil || s.Index != 5 || len(s.Data) != 0 {
		t.Errorf("empty sliver = %+v, %v", s, err)
	}
}

func TestMerkleProofBytes(t *testing.T) {
	p := merkle.Proof{fill(0x11), merkle.Empty, fill(0x22)}
	want := unhex(t, "03 01"+rep(0x11, 32)+"00 01"+rep(0x22, 32))
	got, err := AppendMerkleProof([]byte{0xff}, p)
	if err != nil || got[0] != 0xff || !bytes.Equal(got[1:], want) {
		t.Fatalf("AppendMerkleProof = %x, %v", got, err)
	}
	back, err := UnmarshalMerkleProof(want)
	if err != nil || !reflect.DeepEqual(back, p) {
		t.Fatalf("UnmarshalMerkleProof = %v, %v", back, err)
	}
	if back, err := UnmarshalMerkleProof([]byte{0}); err != nil || back != nil {
		t.Fatalf("empty proof = %v, %v", back, err)
	}
	if _, err := UnmarshalMerkleProof(append([]byte{65}, make([]byte, 65)...)); !errors.Is(err, ErrIndexRange) {
		t.Fatalf("65-node proof: err = %v", err)
	}
	if _, err := AppendMerkleProof(nil, make(merkle.Proof, 65)); !errors.Is(err, ErrIndexRange) {
		t.Fatalf("encode 65-node proof: err = %v", err)
	}
	if _, err := UnmarshalMerkleProof(unhex(t, "01 01"+rep(0, 32))); !errors.Is(err, ErrNonCanonicalNode) {
		t.Fatalf("Digest(0): err = %v", err)
	}
}

func TestDecodingSymbolBytes(t *testing.T) {
	ds := DecodingSymbol{Index: 999, Data: []byte{0xde, 0xad}}
	want := unhex(t, "e703 02 dead")
	got, err := ds.MarshalBCS()
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("DecodingSymbol = %x, %v", got, err)
	}
	var back DecodingSymbol
	if err := back.UnmarshalBCS(want); err != nil || !reflect.DeepEqual(back, ds) {
		t.Fatalf("round trip = %+v, %v", back, err)
	}
	if _, err := (DecodingSymbol{Index: 70000}).MarshalBCS(); !errors.Is(err, ErrIndexRange) {
		t.Fatalf("index 70000: err = %v", err)
	}

	eds := EitherDecodingSymbol{Target: redstuff.Secondary, Symbol: ds}
	got, err = eds.MarshalBCS()
	if err != nil || !bytes.Equal(got, append([]byte{1}, want...)) {
		t.Fatalf("EitherDecodingSymbol = %x, %v", got, err)
	}
	var eback EitherDecodingSymbol
	if err := eback.UnmarshalBCS(got); err != nil || !reflect.DeepEqual(eback, eds) {
		t.Fatalf("round trip = %+v, %v", eback, err)
	}
	if err := eback.UnmarshalBCS(append([]byte{2}, want...)); !errors.Is(err, ErrUnknownVariant) {
		t.Fatalf("variant 2: err = %v", err)
	}
	if !reflect.DeepEqual(eback, eds) {
		t.Fatal("failed decode changed the value")
	}
}

func TestRecoverySymbolBytes(t *testing.T) {
	sym := redstuff.RecoverySymbol{
		Target:      redstuff.Primary,
		SourceIndex: 3,
		TargetIndex: 0x0105,
		Data:        []byte{0xab, 0xcd},
		Proof:       merkle.Proof{fill(0x33), merkle.Empty},
	}
	proofHex := "02 01" + rep(0x33, 32) + "00"

	// RecoverySymbol { symbol: DecodingSymbol, proof }.
	want := unhex(t, "0300 02 abcd"+proofHex)
	got, err := MarshalRecoverySymbol(sym)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("RecoverySymbol = %x, %v\nwant %x", got, err, want)
	}
	back, err := UnmarshalRecoverySymbol(want, redstuff.Primary, 0x0105)
	if err != nil || !reflect.DeepEqual(back, sym) {
		t.Fatalf("round trip = %+v, %v", back, err)
	}

	// GeneralRecoverySymbol { symbol: EitherDecodingSymbol, target_index, proof }.
	want = unhex(t, "00 0300 02 abcd 0501"+proofHex)
	got, err = MarshalGeneralRecoverySymbol(sym)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("GeneralRecoverySymbol = %x, %v\nwant %x", got, err, want)
	}
	back, err = UnmarshalGeneralRecoverySymbol(want)
	if err != nil || !reflect.DeepEqual(back, sym) {
		t.Fatalf("round trip = %+v, %v", back, err)
	}

	sym2 := sym
	sym2.Target = redstuff.Secondary
	sym2.Proof = nil
	sym2.SourceIndex = 0
	list, err := MarshalGeneralRecoverySymbols([]redstuff.RecoverySymbol{sym, sym2})
	wantList := unhex(t, "02"+"00 0300 02 abcd 0501"+proofHex+"01 0000 02 abcd 0501 00")
	if err != nil || !bytes.Equal(list, wantList) {
		t.Fatalf("vector = %x, %v\nwant %x", list, err, wantList)
	}
	syms, err := UnmarshalGeneralRecoverySymbols(list)
	if err != nil || len(syms) != 2 || !reflect.DeepEqual(syms[0], sym) || !reflect.DeepEqual(syms[1], sym2) {
		t.Fatalf("vector round trip = %+v, %v", syms, err)
	}
	if syms, err := UnmarshalGeneralRecoverySymbols([]byte{0}); err != nil || len(syms) != 0 {
		t.Fatalf("empty vector = %v, %v", syms, err)
	}
	if _, err := UnmarshalGeneralRecoverySymbols([]byte{0x10, 0, 0}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("16 symbols in 2 bytes: err = %v", err)
	}
	bad := sym
	bad.TargetIndex = -1
	if _, err := MarshalGeneralRecoverySymbol(bad); !errors.Is(err, ErrIndexRange) {
		t.Fatalf("target index -1: err = %v", err)
	}
	bad = sym
	bad.Target = 5
	if _, err := MarshalGeneralRecoverySymbol(bad); !errors.Is(err, ErrInvalidAxis) {
		t.Fatalf("target axis 5: err = %v", err)
	}
	if _, err := UnmarshalRecoverySymbol(want, 2, 0); !errors.Is(err, ErrInvalidAxis) {
		t.Fatalf("UnmarshalRecoverySymbol axis 2: err = %v", err)
	}
}

func TestInconsistencyProofBytes(t *testing.T) {
	p := &redstuff.InconsistencyProof{
		Target:      redstuff.Secondary,
		TargetIndex: 9,
		Symbols: []redstuff.RecoverySymbol{
			{Target: redstuff.Secondary, SourceIndex: 1, TargetIndex: 9, Data: []byte{1, 2}, Proof: merkle.Proof{fill(0x44)}},
			{Target: redstuff.Secondary, SourceIndex: 2, TargetIndex: 9, Data: []byte{3, 4}},
		},
	}
	want := unhex(t, "0900 02"+"0100 02 0102 01 01"+rep(0x44, 32)+"0200 02 0304 00")
	got, err := MarshalInconsistencyProof(p)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("InconsistencyProof = %x, %v\nwant %x", got, err, want)
	}
	back, err := UnmarshalInconsistencyProof(want, redstuff.Secondary)
	if err != nil || !reflect.DeepEqual(back, p) {
		t.Fatalf("round trip = %+v, %v", back, err)
	}
	// The axis comes from the context.
	back, err = UnmarshalInconsistencyProof(want, redstuff.Primary)
	if err != nil || back.Target != redstuff.Primary || back.Symbols[1].Target != redstuff.Primary {
		t.Fatalf("as primary = %+v, %v", back, err)
	}

	mismatch := *p
	mismatch.Symbols = append([]redstuff.RecoverySymbol(nil), p.Symbols...)
	mismatch.Symbols[1].TargetIndex = 8
	if _, err := MarshalInconsistencyProof(&mismatch); !errors.Is(err, ErrTargetMismatch) {
		t.Fatalf("target index mismatch: err = %v", err)
	}
	mismatch.Symbols[1].TargetIndex = 9
	mismatch.Symbols[1].Target = redstuff.Primary
	if _, err := MarshalInconsistencyProof(&mismatch); !errors.Is(err, ErrTargetMismatch) {
		t.Fatalf("target axis mismatch: err = %v", err)
	}
	if _, err := UnmarshalInconsistencyProof(want[:len(want)-1], redstuff.Secondary); !errors.Is(err, ErrMalformed) {
		t.Fatalf("truncated: err = %v", err)
	}
	if _, err := UnmarshalInconsistencyProof(want, 7); !errors.Is(err, ErrInvalidAxis) {
		t.Fatalf("axis 7: err = %v", err)
	}
	empty, err := UnmarshalInconsistencyProof(unhex(t, "0100 00"), redstuff.Primary)
	if err != nil || empty.TargetIndex != 1 || len(empty.Symbols) != 0 {
		t.Fatalf("no symbols = %+v, %v", empty, err)
	}
}

// TestSliverDataParts: head || data || tail is the SliverData encoding, for data lengths whose
// ULEB128 prefix takes 1 to 3 bytes; invalid slivers are refused as AppendSliverData refuses
// them.
func TestSliverDataParts(t *testing.T) {
	for _, n := range []int{0, 2, 126, 128, 20000, 1 << 20} {
		s := redstuff.Sliver{Axis: redstuff.Secondary, Index: 513, SymbolSize: 2, Data: make([]byte, n)}
		for i := range s.Data {
			s.Data[i] = byte(i * 7)
		}
		head, tail, err := SliverDataParts(s)
		if err != nil {
			t.Fatal(err)
		}
		want, err := MarshalSliverData(s)
		if err != nil {
			t.Fatal(err)
		}
		got := append(append(append([]byte{}, head...), s.Data...), tail...)
		if !bytes.Equal(got, want) {
			t.Fatalf("%d bytes: parts differ from MarshalSliverData", n)
		}
	}
	for _, bad := range []redstuff.Sliver{
		{Axis: redstuff.Primary, Index: 1, SymbolSize: 3, Data: make([]byte, 9)},
		{Axis: redstuff.Primary, Index: 70000, SymbolSize: 2, Data: make([]byte, 4)},
		{Axis: redstuff.Primary, Index: 1, SymbolSize: 4, Data: make([]byte, 6)},
	} {
		if _, _, err := SliverDataParts(bad); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
}
