package rs16

// WorkSize returns the work-layout size of one symbol of s bytes: s rounded up to 64.
func WorkSize(s int) int { return (s + 63) &^ 63 }

// ToWork converts count = len(src)/s symbols of s bytes (s even) into work layout in dst
// (len(dst) >= count*WorkSize(s)). Whole 64-byte blocks are copied as they are; a tail of
// t = s mod 64 bytes holds t/2 low bytes then t/2 high bytes, which go to the low and high
// halves of a zero-padded block, as reed-solomon-simd lays them out.
func ToWork(dst, src []byte, s int) {
	ws := WorkSize(s)
	full := s &^ 63
	t := s - full
	for i, o := 0, 0; i+s <= len(src); i, o = i+s, o+ws {
		sym := src[i : i+s]
		out := dst[o : o+ws]
		copy(out, sym[:full])
		if t > 0 {
			blk := out[full : full+64]
			h := t / 2
			copy(blk[:h], sym[full:full+h])
			clear(blk[h:32])
			copy(blk[32:32+h], sym[full+h:s])
			clear(blk[32+h:])
		}
	}
}

// FromWork converts work-layout symbols back to count = len(dst)/s symbols of s bytes.
func FromWork(dst, src []byte, s int) {
	ws := WorkSize(s)
	full := s &^ 63
	t := s - full
	for i, o := 0, 0; i+s <= len(dst); i, o = i+s, o+ws {
		sym := dst[i : i+s]
		in := src[o : o+ws]
		copy(sym[:full], in[:full])
		if t > 0 {
			h := t / 2
			copy(sym[full:full+h], in[full:full+h])
			copy(sym[full+h:s], in[full+32:full+32+h])
		}
	}
}
