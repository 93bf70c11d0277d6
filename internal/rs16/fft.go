package rs16

// workArea is a work area of count shards of size bytes each, stored contiguously.
type workArea struct {
	buf  []byte
	size int
}

func (s workArea) at(i int) []byte { return s.buf[i*s.size : (i+1)*s.size : (i+1)*s.size] }

// span returns shards i..i+count as one slice.
func (s workArea) span(i, count int) []byte { return s.buf[i*s.size : (i+count)*s.size] }

func (s workArea) zero(from, to int) { clear(s.buf[from*s.size : to*s.size]) }

// engine runs the transforms with the field tables and the fastest available kernels.
type engine struct {
	t *tables
	k kernels
}

// fft is the additive FFT (decimation in time) over shards pos..pos+size, skipping groups
// that start at or after truncated.
func (e *engine) fft(d workArea, pos, size, truncated, skewDelta int) {
	skew := &e.t.skew
	for dist := size / 2; dist > 0; dist /= 2 {
		for r := 0; r < truncated; r += 2 * dist {
			logM := skew[r+dist+skewDelta-1]
			if logM == modulus {
				// b ^= a for every pair of the group: one contiguous XOR.
				xorInto(d.span(pos+r+dist, dist), d.span(pos+r, dist))
				continue
			}
			e.k.fft(d.span(pos+r, dist), d.span(pos+r+dist, dist), logM)
		}
	}
}

// ifft is the inverse additive FFT over shards pos..pos+size.
func (e *engine) ifft(d workArea, pos, size, truncated, skewDelta int) {
	skew := &e.t.skew
	for dist := 1; dist < size; dist *= 2 {
		for r := 0; r < truncated; r += 2 * dist {
			logM := skew[r+dist+skewDelta-1]
			a, b := d.span(pos+r, dist), d.span(pos+r+dist, dist)
			if logM == modulus {
				xorInto(b, a)
				continue
			}
			e.k.ifft(a, b, logM)
		}
	}
}

// formalDerivative replaces the shards with the formal derivative of the polynomial they hold.
func formalDerivative(d workArea, count int) {
	for i := 1; i < count; i++ {
		width := i & -i
		xorInto(d.span(i-width, width), d.span(i, width))
	}
}
