package bcs

import (
	"bytes"
	"errors"
	"math"
	"testing"
)

func TestULEB128Encode(t *testing.T) {
	tests := []struct {
		v    uint64
		want []byte
	}{
		{0, []byte{0x00}},
		{1, []byte{0x01}},
		{127, []byte{0x7f}},
		{128, []byte{0x80, 0x01}},
		{300, []byte{0xac, 0x02}},
		{1000, []byte{0xe8, 0x07}},
		{16383, []byte{0xff, 0x7f}},
		{16384, []byte{0x80, 0x80, 0x01}},
		{math.MaxInt32, []byte{0xff, 0xff, 0xff, 0xff, 0x07}},
		{math.MaxUint32, []byte{0xff, 0xff, 0xff, 0xff, 0x0f}},
	}
	for _, tc := range tests {
		got := AppendULEB128(nil, tc.v)
		if !bytes.Equal(got, tc.want) {
			t.Errorf("AppendULEB128(%d) = %x, want %x", tc.v, got, tc.want)
		}
		if n := ULEB128Size(tc.v); n != len(tc.want) {
			t.Errorf("ULEB128Size(%d) = %d, want %d", tc.v, n, len(tc.want))
		}
		if tc.v <= math.MaxUint32 {
			d := NewDecoder(tc.want)
			if v := d.ULEB128(); uint64(v) != tc.v || d.Finish() != nil {
				t.Errorf("decode %x = %d, %v; want %d", tc.want, v, d.Finish(), tc.v)
			}
		}
	}
}

func TestULEB128DecodeErrors(t *testing.T) {
	tests := []struct {
		in   []byte
		want error
	}{
		{nil, ErrEOF},
		{[]byte{0x80}, ErrEOF},
		{[]byte{0xff, 0xff}, ErrEOF},
		{[]byte{0x80, 0x00}, ErrNonCanonicalULEB},
		{[]byte{0x81, 0x00}, ErrNonCanonicalULEB},
		{[]byte{0xff, 0x80, 0x00}, ErrNonCanonicalULEB},
		{[]byte{0x80, 0x80, 0x80, 0x80, 0x00}, ErrNonCanonicalULEB},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0x10}, ErrULEBOverflow},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0x7f}, ErrULEBOverflow},
		{[]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, ErrULEBOverflow},
	}
	for _, tc := range tests {
		d := NewDecoder(tc.in)
		if v := d.ULEB128(); v != 0 {
			t.Errorf("decode %x returned %d on error", tc.in, v)
		}
		if err := d.Err(); !errors.Is(err, tc.want) {
			t.Errorf("decode %x: err = %v, want %v", tc.in, err, tc.want)
		}
	}
}

func TestLen(t *testing.T) {
	d := NewDecoder([]byte{0xff, 0xff, 0xff, 0xff, 0x07})
	if n := d.Len(); n != math.MaxInt32 || d.Err() != nil {
		t.Fatalf("Len = %d, %v", n, d.Err())
	}
	d = NewDecoder([]byte{0x80, 0x80, 0x80, 0x80, 0x08})
	if d.Len(); !errors.Is(d.Err(), ErrLengthTooLarge) {
		t.Fatalf("2^31: err = %v, want ErrLengthTooLarge", d.Err())
	}
	// SeqLen bounds the length by the remaining input.
	d = NewDecoder([]byte{0x03, 1, 2, 3, 4, 5})
	if d.SeqLen(2); !errors.Is(d.Err(), ErrSequenceTooLong) {
		t.Fatalf("SeqLen(2) over 5 bytes for 3 elements: err = %v", d.Err())
	}
	d = NewDecoder([]byte{0x03, 1, 2, 3, 4, 5, 6})
	if n := d.SeqLen(2); n != 3 || d.Err() != nil {
		t.Fatalf("SeqLen(2) = %d, %v", n, d.Err())
	}

	var e Encoder
	e.Len(-1)
	if !errors.Is(e.Err(), ErrLengthTooLarge) {
		t.Fatalf("Encoder.Len(-1): err = %v", e.Err())
	}
	if math.MaxInt > math.MaxInt32 {
		var e Encoder
		big := math.MaxInt32 + 1
		e.Len(big)
		if !errors.Is(e.Err(), ErrLengthTooLarge) {
			t.Fatalf("Encoder.Len(2^31): err = %v", e.Err())
		}
	}
}

func TestEncoderPrimitives(t *testing.T) {
	e := NewEncoder([]byte{0xaa})
	e.U8(0x01)
	e.U16(0x0203)
	e.U32(0x04050607)
	e.U64(0x08090a0b0c0d0e0f)
	e.Bool(true)
	e.Bool(false)
	e.Option(true)
	e.Variant(200)
	e.ByteVec([]byte("hi"))
	e.Fixed([]byte{0xee, 0xff})
	e.IntU16(65535)
	want := []byte{
		0xaa,
		0x01,
		0x03, 0x02,
		0x07, 0x06, 0x05, 0x04,
		0x0f, 0x0e, 0x0d, 0x0c, 0x0b, 0x0a, 0x09, 0x08,
		0x01, 0x00,
		0x01,
		0xc8, 0x01,
		0x02, 'h', 'i',
		0xee, 0xff,
		0xff, 0xff,
	}
	got, err := e.Result()
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("got %x, %v\nwant %x", got, err, want)
	}

	d := NewDecoder(want[1:])
	if v := d.U8(); v != 1 {
		t.Errorf("U8 = %d", v)
	}
	if v := d.U16(); v != 0x0203 {
		t.Errorf("U16 = %#x", v)
	}
	if v := d.U32(); v != 0x04050607 {
		t.Errorf("U32 = %#x", v)
	}
	if v := d.U64(); v != 0x08090a0b0c0d0e0f {
		t.Errorf("U64 = %#x", v)
	}
	if !d.Bool() || d.Bool() {
		t.Errorf("Bool mismatch")
	}
	if !d.Option() {
		t.Errorf("Option mismatch")
	}
	if v := d.Variant(); v != 200 {
		t.Errorf("Variant = %d", v)
	}
	if v := d.ByteVec(); string(v) != "hi" {
		t.Errorf("ByteVec = %q", v)
	}
	var f [2]byte
	d.FixedInto(f[:])
	if f != [2]byte{0xee, 0xff} {
		t.Errorf("FixedInto = %x", f)
	}
	if d.Remaining() != 2 {
		t.Errorf("Remaining = %d, want 2", d.Remaining())
	}
	if err := d.Finish(); !errors.Is(err, ErrTrailingBytes) {
		t.Errorf("Finish with 2 bytes left: %v", err)
	}
	if v := d.IntU16(); v != 65535 {
		t.Errorf("IntU16 = %d", v)
	}
	if err := d.Finish(); err != nil {
		t.Errorf("Finish: %v", err)
	}
}

func TestIntU16Range(t *testing.T) {
	for _, v := range []int{-1, 65536} {
		var e Encoder
		e.IntU16(v)
		e.U8(1) // no-op after the error
		if _, err := e.Result(); !errors.Is(err, ErrIntegerOutOfRange) {
			t.Errorf("IntU16(%d): err = %v", v, err)
		}
		if len(e.Bytes()) != 0 {
			t.Errorf("IntU16(%d): wrote %x after the error", v, e.Bytes())
		}
	}
}

func TestBoolAndOptionStrict(t *testing.T) {
	d := NewDecoder([]byte{2})
	if d.Bool(); !errors.Is(d.Err(), ErrInvalidBool) {
		t.Errorf("Bool(2): %v", d.Err())
	}
	d = NewDecoder([]byte{0xff})
	if d.Option(); !errors.Is(d.Err(), ErrInvalidOption) {
		t.Errorf("Option(0xff): %v", d.Err())
	}
}

func TestStickyError(t *testing.T) {
	d := NewDecoder([]byte{0x05, 1, 2})
	b := d.ByteVec()
	if b != nil || !errors.Is(d.Err(), ErrEOF) {
		t.Fatalf("ByteVec over short input = %x, %v", b, d.Err())
	}
	first := d.Err()
	if d.U8() != 0 || d.U64() != 0 || d.Remaining() != 0 {
		t.Fatal("reads after an error must return zero values")
	}
	d.Fail(errors.New("later"))
	if d.Err() != first || d.Finish() != first {
		t.Fatalf("error changed: %v", d.Err())
	}
}

func TestFixedAliases(t *testing.T) {
	in := []byte{1, 2, 3}
	d := NewDecoder(in)
	b := d.Fixed(2)
	b[0] = 9
	if in[0] != 9 {
		t.Fatal("Fixed must alias the input")
	}
	// Appending to the result must not overwrite the rest of the input.
	_ = append(b, 7)
	if in[2] != 3 {
		t.Fatal("append to a decoded slice overwrote the input")
	}
}

// FuzzDecoder decodes a program of reads driven by the input and checks that a successful
// decode re-encodes to the same bytes.
func FuzzDecoder(f *testing.F) {
	f.Add([]byte{0, 1})
	f.Add([]byte{3, 0xac, 0x02, 0x80, 0x00})
	f.Add([]byte{5, 2, 'h', 'i', 1, 1, 9})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, in []byte) {
		d := NewDecoder(in)
		e := NewEncoder(nil)
		for d.Remaining() > 0 {
			switch op := d.U8(); op % 9 {
			case 0:
				e.U8(op)
				e.U8(d.U8())
			case 1:
				e.U8(op)
				e.U16(d.U16())
			case 2:
				e.U8(op)
				e.U32(d.U32())
			case 3:
				e.U8(op)
				e.U64(d.U64())
			case 4:
				e.U8(op)
				e.Variant(d.ULEB128())
			case 5:
				e.U8(op)
				e.ByteVec(d.ByteVec())
			case 6:
				e.U8(op)
				e.Bool(d.Bool())
			case 7:
				e.U8(op)
				e.Option(d.Option())
			case 8:
				e.U8(op)
				e.Len(d.SeqLen(1))
			}
		}
		if d.Finish() != nil {
			return
		}
		out, err := e.Result()
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		if !bytes.Equal(out, in) {
			t.Fatalf("round trip mismatch:\n in %x\nout %x", in, out)
		}
	})
}

// FuzzULEB128 checks that every accepted ULEB128 is the canonical encoding of its value.
func FuzzULEB128(f *testing.F) {
	f.Add([]byte{0x80, 0x01})
	f.Add([]byte{0x80, 0x00})
	f.Fuzz(func(t *testing.T, in []byte) {
		d := NewDecoder(in)
		v := d.ULEB128()
		if d.Err() != nil {
			return
		}
		if got := AppendULEB128(nil, uint64(v)); !bytes.Equal(got, in[:d.Offset()]) {
			t.Fatalf("accepted %x as %d, canonical form is %x", in[:d.Offset()], v, got)
		}
	})
}

func BenchmarkDecodeByteVec(b *testing.B) {
	buf := AppendULEB128(nil, 1<<16)
	buf = append(buf, make([]byte, 1<<16)...)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		d := NewDecoder(buf)
		_ = d.ByteVec()
		if d.Finish() != nil {
			b.Fatal(d.Finish())
		}
	}
}
