package blob

import (
	"bytes"
	"errors"
	"testing"

	"github.com/floelabs/floe/redstuff"
)

// TestDecodingSymbolsBCS: the map's bytes, with its keys in BCS order (by their little-endian
// bytes: 256 = 00 01 sorts before 1 = 01 00), and the decoder's refusals.
func TestDecodingSymbolsBCS(t *testing.T) {
	m := DecodingSymbols{
		1:   {{Target: redstuff.Primary, Symbol: DecodingSymbol{Index: 7, Data: []byte{0xaa, 0xbb}}}},
		256: {{Target: redstuff.Secondary, Symbol: DecodingSymbol{Index: 2, Data: []byte{0xcc}}}, {Target: redstuff.Secondary, Symbol: DecodingSymbol{Index: 3, Data: nil}}},
	}
	got, err := m.MarshalBCS()
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{
		2,             // two entries
		0x00, 0x01, 2, // key 256, two symbols
		1, 2, 0, 1, 0xcc, // Secondary { index 2, data [cc] }
		1, 3, 0, 0, // Secondary { index 3, data [] }
		0x01, 0x00, 1, // key 1, one symbol
		0, 7, 0, 2, 0xaa, 0xbb, // Primary { index 7, data [aa bb] }
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("BCS\n got %x\nwant %x", got, want)
	}
	var back DecodingSymbols
	if err := back.UnmarshalBCS(got); err != nil {
		t.Fatal(err)
	}
	if len(back) != 2 || len(back[256]) != 2 || back[256][0].Symbol.Index != 2 || back[1][0].Target != redstuff.Primary || !bytes.Equal(back[1][0].Symbol.Data, []byte{0xaa, 0xbb}) {
		t.Fatalf("decoded %+v", back)
	}
	// Keys out of order or repeated, a bad variant, trailing bytes, a huge count.
	swapped := append([]byte{2}, want[15:]...)
	swapped = append(swapped, want[1:15]...)
	for name, in := range map[string][]byte{
		"order":    swapped,
		"repeated": {2, 1, 0, 0, 1, 0, 0},
		"variant":  {1, 1, 0, 1, 2, 0, 0, 0},
		"trailing": append(append([]byte{}, want...), 0),
		"count":    {0xff, 0xff, 0x03},
	} {
		if err := back.UnmarshalBCS(in); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if empty, err := (DecodingSymbols{}).MarshalBCS(); err != nil || !bytes.Equal(empty, []byte{0}) {
		t.Fatalf("empty map %x %v", empty, err)
	}
	if _, err := (DecodingSymbols{70000: nil}).MarshalBCS(); !errors.Is(err, ErrIndexRange) {
		t.Fatalf("key beyond u16: %v", err)
	}
}

func FuzzDecodingSymbols(f *testing.F) {
	b, _ := DecodingSymbols{1: {{Target: redstuff.Primary, Symbol: DecodingSymbol{Index: 7, Data: []byte{1}}}}, 256: nil}.MarshalBCS()
	f.Add(b)
	f.Add([]byte{0})
	f.Fuzz(func(t *testing.T, in []byte) {
		var m DecodingSymbols
		if m.UnmarshalBCS(in) != nil {
			return
		}
		roundTrip(t, in, m.MarshalBCS)
	})
}
