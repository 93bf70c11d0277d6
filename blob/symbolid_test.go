package blob

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/floelabs/floe/redstuff"
)

func TestSymbolID(t *testing.T) {
	id := SymbolID{Primary: 12, Secondary: 65535}
	if id.String() != "12-65535" {
		t.Fatalf("String = %q", id.String())
	}
	if got := id.AppendBCS(nil); !bytes.Equal(got, []byte{0x0c, 0x00, 0xff, 0xff}) {
		t.Fatalf("BCS = %x", got)
	}
	var back SymbolID
	if err := back.UnmarshalBCS([]byte{0x0c, 0x00, 0xff, 0xff}); err != nil || back != id {
		t.Fatalf("UnmarshalBCS = %v, %v", back, err)
	}
	for _, in := range [][]byte{{1, 2, 3}, {1, 2, 3, 4, 5}} {
		if err := back.UnmarshalBCS(in); !errors.Is(err, ErrMalformed) {
			t.Errorf("UnmarshalBCS(%x): err = %v", in, err)
		}
	}
	for s, want := range map[string]SymbolID{"0-0": {}, "1-2": {1, 2}, "65535-7": {65535, 7}, "007-08": {7, 8}} {
		if got, err := ParseSymbolID(s); err != nil || got != want {
			t.Errorf("ParseSymbolID(%q) = %v, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "1", "1-", "-1", "1-2-3", "+1-2", "1-+2", "65536-0", "a-1", "1 -2", "1--2"} {
		if _, err := ParseSymbolID(s); !errors.Is(err, ErrInvalidSymbolID) {
			t.Errorf("ParseSymbolID(%q): err = %v", s, err)
		}
	}
	js, err := json.Marshal([]SymbolID{id})
	if err != nil || string(js) != `["12-65535"]` {
		t.Fatalf("JSON = %s, %v", js, err)
	}
}

func TestSliverType(t *testing.T) {
	for _, tc := range []struct {
		text string
		t    SliverType
		a    redstuff.Axis
		bcs  byte
	}{{"primary", PrimarySliver, redstuff.Primary, 0}, {"secondary", SecondarySliver, redstuff.Secondary, 1}} {
		got, err := ParseSliverType(tc.text)
		if err != nil || got != tc.t || got.Axis() != tc.a || got.String() != tc.text {
			t.Errorf("ParseSliverType(%q) = %v, %v", tc.text, got, err)
		}
		if a, err := ParseAxis(tc.text); err != nil || a != tc.a {
			t.Errorf("ParseAxis(%q) = %v, %v", tc.text, a, err)
		}
		js, err := json.Marshal(tc.t)
		if err != nil || string(js) != `"`+tc.text+`"` {
			t.Errorf("JSON = %s, %v", js, err)
		}
		b, err := tc.t.AppendBCS(nil)
		if err != nil || !bytes.Equal(b, []byte{tc.bcs}) {
			t.Errorf("BCS = %x, %v", b, err)
		}
		var back SliverType
		if err := back.UnmarshalBCS(b); err != nil || back != tc.t {
			t.Errorf("UnmarshalBCS = %v, %v", back, err)
		}
	}
	for _, s := range []string{"", "Primary", "PRIMARY", "second", "0"} {
		if _, err := ParseSliverType(s); !errors.Is(err, ErrInvalidAxis) {
			t.Errorf("ParseSliverType(%q): err = %v", s, err)
		}
	}
	if _, err := json.Marshal(SliverType(2)); !errors.Is(err, ErrInvalidAxis) {
		t.Errorf("marshal SliverType(2): err = %v", err)
	}
	var st SliverType
	if err := json.Unmarshal([]byte(`"tertiary"`), &st); !errors.Is(err, ErrInvalidAxis) {
		t.Errorf("unmarshal tertiary: err = %v", err)
	}
	if err := st.UnmarshalBCS([]byte{2}); !errors.Is(err, ErrUnknownVariant) {
		t.Errorf("UnmarshalBCS(2): err = %v", err)
	}
}
