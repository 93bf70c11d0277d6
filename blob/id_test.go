package blob

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

func TestIDFromBytes(t *testing.T) {
	b := make([]byte, 32)
	b[0], b[31] = 1, 2
	id, err := IDFromBytes(b)
	if err != nil || id[0] != 1 || id[31] != 2 {
		t.Fatalf("IDFromBytes = %x, %v", id, err)
	}
	for _, n := range []int{0, 31, 33} {
		if _, err := IDFromBytes(make([]byte, n)); !errors.Is(err, ErrInvalidID) {
			t.Errorf("IDFromBytes(%d bytes): err = %v, want ErrInvalidID", n, err)
		}
	}
}

func TestIDTextAndJSON(t *testing.T) {
	var id ID
	for i := range id {
		id[i] = byte(i * 8)
	}
	// 0x00 0x08 0x10 -> "AAgQ" in base64url; 0xf8 (last byte) ends the string.
	s := id.String()
	if len(s) != 43 || s[:4] != "AAgQ" {
		t.Fatalf("String = %q", s)
	}
	js, err := json.Marshal(map[string]ID{"blobId": id})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"blobId":"` + s + `"}`; string(js) != want {
		t.Fatalf("JSON = %s, want %s", js, want)
	}
	var back map[string]ID
	if err := json.Unmarshal(js, &back); err != nil || back["blobId"] != id {
		t.Fatalf("JSON round trip: %x, %v", back["blobId"], err)
	}
	if err := json.Unmarshal([]byte(`"AAgQ"`), &id); !errors.Is(err, ErrInvalidID) {
		t.Fatalf("short ID in JSON: err = %v", err)
	}
	// The last character carries 4 bits of data and 2 unused bits, which must be zero:
	// "kY" ends the canonical form, "kZ" differs only in an unused bit.
	const canonical = "RcU82Mwf-CFkv1LaI_2qcpANwpGUuG3TMwnVzZxD2kY"
	if id, err := ParseID(canonical); err != nil || id.String() != canonical {
		t.Fatalf("ParseID(%q) = %s, %v", canonical, id, err)
	}
	if _, err := ParseID(canonical[:42] + "Z"); !errors.Is(err, ErrInvalidID) {
		t.Fatalf("non-canonical last character accepted: %v", err)
	}
	if _, err := ParseID(s[:42] + "+"); !errors.Is(err, ErrInvalidID) {
		t.Fatalf("standard base64 alphabet accepted: %v", err)
	}
}

func TestDecimal(t *testing.T) {
	var id ID
	if got := id.Decimal(); got != "0" {
		t.Errorf("zero ID = %s", got)
	}
	id[0] = 1 // little-endian: value 1
	if got := id.Decimal(); got != "1" {
		t.Errorf("first byte 1 = %s, want 1", got)
	}
	id = ID{}
	id[1] = 1 // 256
	id[0] = 0x2c
	if got := id.Decimal(); got != "300" {
		t.Errorf("bytes 2c 01 = %s, want 300", got)
	}
	back, err := IDFromDecimal("300")
	if err != nil || back != id {
		t.Errorf("IDFromDecimal(300) = %x, %v", back, err)
	}
	var top ID
	for i := range top {
		top[i] = 0xff
	}
	const maxU256 = "115792089237316195423570985008687907853269984665640564039457584007913129639935"
	if got := top.Decimal(); got != maxU256 {
		t.Errorf("max = %s", got)
	}
	if back, err := IDFromDecimal(maxU256); err != nil || back != top {
		t.Errorf("IDFromDecimal(max) = %x, %v", back, err)
	}
	for _, bad := range []string{"", "-1", "+1", "-0", "1_000", "0x10", "abc",
		"115792089237316195423570985008687907853269984665640564039457584007913129639936"} {
		if _, err := IDFromDecimal(bad); !errors.Is(err, ErrInvalidID) {
			t.Errorf("IDFromDecimal(%q): err = %v, want ErrInvalidID", bad, err)
		}
	}
}

func TestParseEncodingType(t *testing.T) {
	for _, s := range []string{"RS2", "rs2", "reed-solomon", "Reed-Solomon", "redstuff/reed-solomon", "REDSTUFF/REED-SOLOMON"} {
		if got, err := ParseEncodingType(s); err != nil || got != RS2 {
			t.Errorf("ParseEncodingType(%q) = %v, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "RS", "raptorq", "redstuff", "RS2 ", "reed_solomon"} {
		if _, err := ParseEncodingType(s); !errors.Is(err, ErrUnsupportedEncoding) {
			t.Errorf("ParseEncodingType(%q): err = %v", s, err)
		}
	}
}

func TestEncodingTypeJSON(t *testing.T) {
	js, err := json.Marshal(struct{ T EncodingType }{RS2})
	if err != nil || !bytes.Equal(js, []byte(`{"T":"RS2"}`)) {
		t.Fatalf("JSON = %s, %v", js, err)
	}
	if _, err := json.Marshal(EncodingType(0)); !errors.Is(err, ErrUnsupportedEncoding) {
		t.Fatalf("marshal type 0: err = %v", err)
	}
	var v struct{ T EncodingType }
	if err := json.Unmarshal([]byte(`{"T":"reed-solomon"}`), &v); err != nil || v.T != RS2 {
		t.Fatalf("unmarshal alias = %v, %v", v.T, err)
	}
	if err := json.Unmarshal([]byte(`{"T":"RaptorQ"}`), &v); !errors.Is(err, ErrUnsupportedEncoding) {
		t.Fatalf("unmarshal RaptorQ: err = %v", err)
	}
	if RS2.String() != "RS2" || EncodingType(0).String() != "EncodingType(0)" {
		t.Fatalf("String: %s %s", RS2, EncodingType(0))
	}
}
