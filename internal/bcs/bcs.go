// Package bcs encodes and decodes the subset of Binary Canonical Serialization (BCS) that
// Floe's wire formats use: little-endian unsigned integers, booleans, fixed byte arrays,
// ULEB128-prefixed sequences, options and enum variant indices.
//
// It follows the rules of the Rust bcs crate: ULEB128 values must be canonical (no redundant
// trailing zero groups) and fit in a u32, sequence lengths may not exceed MaxSequenceLength,
// booleans are exactly 0 or 1 and option tags exactly 0 or 1.
//
// An Encoder appends to a byte slice; a Decoder reads from one. Both record the first error
// and turn every later call into a no-op, so a whole structure can be written or read before
// checking a single error. Byte slices returned by a Decoder alias its input.
package bcs

import (
	"errors"
	"fmt"
	"math"
)

// MaxSequenceLength is the largest sequence length BCS accepts (2^31 - 1).
const MaxSequenceLength = math.MaxInt32

// MaxULEB128Len is the longest ULEB128 encoding of a u32.
const MaxULEB128Len = 5

// Errors reported by Encoder and Decoder, wrapped with the offset where they happened.
var (
	ErrEOF               = errors.New("bcs: unexpected end of input")
	ErrNonCanonicalULEB  = errors.New("bcs: non-canonical ULEB128 encoding")
	ErrULEBOverflow      = errors.New("bcs: ULEB128 value overflows u32")
	ErrLengthTooLarge    = errors.New("bcs: sequence length exceeds 2^31-1")
	ErrInvalidBool       = errors.New("bcs: boolean is neither 0 nor 1")
	ErrInvalidOption     = errors.New("bcs: option tag is neither 0 nor 1")
	ErrTrailingBytes     = errors.New("bcs: trailing bytes after the value")
	ErrSequenceTooLong   = errors.New("bcs: sequence longer than the remaining input allows")
	ErrIntegerOutOfRange = errors.New("bcs: integer out of range")
)

// ULEB128Size returns the number of bytes of the ULEB128 encoding of v.
func ULEB128Size(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// AppendULEB128 appends the ULEB128 encoding of v to dst.
func AppendULEB128(dst []byte, v uint64) []byte {
	for v >= 0x80 {
		dst = append(dst, byte(v)|0x80)
		v >>= 7
	}
	return append(dst, byte(v))
}

// Encoder appends BCS values to a byte slice. The zero value is ready to use.
type Encoder struct {
	buf []byte
	err error
}

// NewEncoder returns an Encoder that appends to dst (which may be nil). Give dst enough
// capacity to avoid reallocation.
func NewEncoder(dst []byte) *Encoder { return &Encoder{buf: dst} }

// Bytes returns the encoded bytes (including those of the slice passed to NewEncoder).
func (e *Encoder) Bytes() []byte { return e.buf }

// Err returns the first error, if any.
func (e *Encoder) Err() error { return e.err }

// Result returns the encoded bytes, or nil and the first error.
func (e *Encoder) Result() ([]byte, error) {
	if e.err != nil {
		return nil, e.err
	}
	return e.buf, nil
}

// Fail records err (wrapped with the current length) if no error was recorded yet.
func (e *Encoder) Fail(err error) {
	if e.err == nil {
		e.err = fmt.Errorf("bcs: encoding at offset %d: %w", len(e.buf), err)
	}
}

// U8 appends v.
func (e *Encoder) U8(v uint8) {
	if e.err == nil {
		e.buf = append(e.buf, v)
	}
}

// U16 appends v little-endian.
func (e *Encoder) U16(v uint16) {
	if e.err == nil {
		e.buf = append(e.buf, byte(v), byte(v>>8))
	}
}

// U32 appends v little-endian.
func (e *Encoder) U32(v uint32) {
	if e.err == nil {
		e.buf = append(e.buf, byte(v), byte(v>>8), byte(v>>16), byte(v>>24))
	}
}

// U64 appends v little-endian.
func (e *Encoder) U64(v uint64) {
	if e.err == nil {
		e.buf = append(e.buf, byte(v), byte(v>>8), byte(v>>16), byte(v>>24),
			byte(v>>32), byte(v>>40), byte(v>>48), byte(v>>56))
	}
}

// IntU16 appends v as a u16, failing with ErrIntegerOutOfRange if it does not fit.
func (e *Encoder) IntU16(v int) {
	if v < 0 || v > math.MaxUint16 {
		e.Fail(fmt.Errorf("%w: %d does not fit in a u16", ErrIntegerOutOfRange, v))
		return
	}
	e.U16(uint16(v))
}

// Bool appends 1 for true and 0 for false.
func (e *Encoder) Bool(v bool) {
	if v {
		e.U8(1)
	} else {
		e.U8(0)
	}
}

// Len appends a sequence length, failing with ErrLengthTooLarge above MaxSequenceLength.
func (e *Encoder) Len(n int) {
	if n < 0 || uint64(n) > MaxSequenceLength {
		e.Fail(fmt.Errorf("%w: %d", ErrLengthTooLarge, n))
		return
	}
	if e.err == nil {
		e.buf = AppendULEB128(e.buf, uint64(n))
	}
}

// Variant appends an enum variant index.
func (e *Encoder) Variant(i uint32) {
	if e.err == nil {
		e.buf = AppendULEB128(e.buf, uint64(i))
	}
}

// Option appends an option tag: 1 if present, 0 if not. The caller appends the value after
// a tag of 1.
func (e *Encoder) Option(present bool) { e.Bool(present) }

// Fixed appends b without a length prefix (a fixed-size byte array).
func (e *Encoder) Fixed(b []byte) {
	if e.err == nil {
		e.buf = append(e.buf, b...)
	}
}

// ByteVec appends b as vector<u8>: its ULEB128 length, then its bytes.
func (e *Encoder) ByteVec(b []byte) {
	e.Len(len(b))
	e.Fixed(b)
}

// Decoder reads BCS values from a byte slice. After the first error every read returns a
// zero value; Err and Finish report that error.
type Decoder struct {
	buf []byte
	off int
	err error
}

// NewDecoder returns a Decoder over b. It does not copy b.
func NewDecoder(b []byte) *Decoder { return &Decoder{buf: b} }

// Err returns the first error, if any.
func (d *Decoder) Err() error { return d.err }

// Offset returns how many bytes have been consumed.
func (d *Decoder) Offset() int { return d.off }

// Remaining returns how many bytes are left (0 after an error).
func (d *Decoder) Remaining() int {
	if d.err != nil {
		return 0
	}
	return len(d.buf) - d.off
}

// Fail records err (wrapped with the current offset) if no error was recorded yet. Callers
// use it to report structural errors of the values they decode.
func (d *Decoder) Fail(err error) {
	if d.err == nil {
		d.err = fmt.Errorf("bcs: decoding at offset %d: %w", d.off, err)
	}
}

// Finish returns the first error, or ErrTrailingBytes if input is left over.
func (d *Decoder) Finish() error {
	if d.err != nil {
		return d.err
	}
	if d.off != len(d.buf) {
		return fmt.Errorf("bcs: decoding at offset %d: %w (%d bytes)", d.off, ErrTrailingBytes, len(d.buf)-d.off)
	}
	return nil
}

// take returns the next n bytes, or nil after recording ErrEOF.
func (d *Decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.buf)-d.off {
		d.Fail(fmt.Errorf("%w: need %d bytes, have %d", ErrEOF, n, len(d.buf)-d.off))
		return nil
	}
	b := d.buf[d.off : d.off+n : d.off+n]
	d.off += n
	return b
}

// U8 reads a u8.
func (d *Decoder) U8() uint8 {
	b := d.take(1)
	if b == nil {
		return 0
	}
	return b[0]
}

// U16 reads a little-endian u16.
func (d *Decoder) U16() uint16 {
	b := d.take(2)
	if b == nil {
		return 0
	}
	return uint16(b[0]) | uint16(b[1])<<8
}

// U32 reads a little-endian u32.
func (d *Decoder) U32() uint32 {
	b := d.take(4)
	if b == nil {
		return 0
	}
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

// U64 reads a little-endian u64.
func (d *Decoder) U64() uint64 {
	b := d.take(8)
	if b == nil {
		return 0
	}
	var v uint64
	for i := 7; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}

// Bool reads a boolean, failing with ErrInvalidBool unless the byte is 0 or 1.
func (d *Decoder) Bool() bool {
	off := d.off
	b := d.U8()
	if b > 1 && d.err == nil {
		d.off = off
		d.Fail(fmt.Errorf("%w: 0x%02x", ErrInvalidBool, b))
	}
	return b == 1
}

// Option reads an option tag and reports whether a value follows, failing with
// ErrInvalidOption unless the tag is 0 or 1.
func (d *Decoder) Option() bool {
	off := d.off
	b := d.U8()
	if b > 1 && d.err == nil {
		d.off = off
		d.Fail(fmt.Errorf("%w: 0x%02x", ErrInvalidOption, b))
	}
	return b == 1
}

// ULEB128 reads a canonical ULEB128-encoded u32, as the Rust bcs crate does: at most five
// bytes, no redundant zero group at the end, and a value that fits in 32 bits.
func (d *Decoder) ULEB128() uint32 {
	if d.err != nil {
		return 0
	}
	start := d.off
	var v uint64
	for shift := uint(0); shift < 32; shift += 7 {
		if d.off >= len(d.buf) {
			d.Fail(fmt.Errorf("%w: in ULEB128 starting at %d", ErrEOF, start))
			return 0
		}
		b := d.buf[d.off]
		d.off++
		digit := b & 0x7f
		v |= uint64(digit) << shift
		if b&0x80 == 0 {
			if shift > 0 && digit == 0 {
				d.off = start
				d.Fail(ErrNonCanonicalULEB)
				return 0
			}
			if v > math.MaxUint32 {
				d.off = start
				d.Fail(ErrULEBOverflow)
				return 0
			}
			return uint32(v)
		}
	}
	d.off = start
	d.Fail(ErrULEBOverflow)
	return 0
}

// Variant reads an enum variant index (a ULEB128 u32).
func (d *Decoder) Variant() uint32 { return d.ULEB128() }

// Len reads a sequence length, failing with ErrLengthTooLarge above MaxSequenceLength.
func (d *Decoder) Len() int {
	off := d.off
	n := d.ULEB128()
	if d.err != nil {
		return 0
	}
	if n > MaxSequenceLength {
		d.off = off
		d.Fail(fmt.Errorf("%w: %d", ErrLengthTooLarge, n))
		return 0
	}
	return int(n)
}

// SeqLen reads a sequence length and checks that the remaining input could hold that many
// elements of at least minElemSize bytes each (minElemSize >= 1), so callers may allocate the
// sequence before decoding it without letting hostile input force a huge allocation.
func (d *Decoder) SeqLen(minElemSize int) int {
	off := d.off
	n := d.Len()
	if d.err != nil {
		return 0
	}
	if minElemSize < 1 {
		minElemSize = 1
	}
	if uint64(n)*uint64(minElemSize) > uint64(len(d.buf)-d.off) {
		d.off = off
		d.Fail(fmt.Errorf("%w: %d elements of at least %d bytes, %d bytes left", ErrSequenceTooLong, n, minElemSize, len(d.buf)-d.off))
		return 0
	}
	return n
}

// Fixed reads n bytes without a length prefix. The result aliases the input.
func (d *Decoder) Fixed(n int) []byte { return d.take(n) }

// FixedInto fills dst with the next len(dst) bytes.
func (d *Decoder) FixedInto(dst []byte) {
	if b := d.take(len(dst)); b != nil {
		copy(dst, b)
	}
}

// ByteVec reads a vector<u8>. The result aliases the input and may be nil for a zero
// length.
func (d *Decoder) ByteVec() []byte {
	n := d.Len()
	if d.err != nil {
		return nil
	}
	return d.take(n)
}

// IntU16 reads a u16 as an int.
func (d *Decoder) IntU16() int { return int(d.U16()) }
