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

// fft2 is a radix-2 FFT butterfly on spans x and y; a zero skew factor leaves only y ^= x.
func (e *engine) fft2(x, y []byte, logM uint16) {
	if logM == modulus {
		xorInto(y, x)
		return
	}
	e.k.fft(x, y, logM)
}

// ifft2 is a radix-2 inverse FFT butterfly on spans x and y.
func (e *engine) ifft2(x, y []byte, logM uint16) {
	if logM == modulus {
		xorInto(y, x)
		return
	}
	e.k.ifft(x, y, logM)
}

// log2 returns log2(size) for a power of two.
func log2(size int) int {
	l := 0
	for 1<<l < size {
		l++
	}
	return l
}

// fft is the additive FFT (decimation in time) over shards pos..pos+size (a power of two),
// skipping groups that start at or after truncated. Layers are fused in pairs (radix 4): the
// layers of distances 2d and d are one pass over the data. With an odd number of layers, the
// widest (a single group) is done alone first.
func (e *engine) fft(d workArea, pos, size, truncated, skewDelta int) {
	e.fftWide(d, pos, size, truncated, skewDelta, 1)
}

// fftWide is fft's layers from the widest down to the pair of distances 2*minDist and
// minDist (minDist a power of 4); the others are left for later calls.
func (e *engine) fftWide(d workArea, pos, size, truncated, skewDelta, minDist int) {
	skew := &e.t.skew
	sz := d.size
	hi := size / 2
	if truncated <= 0 {
		return
	}
	if log2(size)%2 == 1 {
		e.fft2(d.span(pos, hi), d.span(pos+hi, hi), skew[hi+skewDelta-1])
		hi /= 4
	} else {
		hi /= 2
	}
	// hi is now the lower distance of the next pair of layers (distances 2*hi and hi).
	for dist := hi; dist >= minDist; dist /= 4 {
		for r := 0; r < truncated; r += 4 * dist {
			log01 := skew[r+dist+skewDelta-1]
			log02 := skew[r+2*dist+skewDelta-1]
			if r+2*dist < truncated {
				log23 := skew[r+3*dist+skewDelta-1]
				e.k.fft4(d.span(pos+r, 4*dist), dist*sz, log01, log23, log02)
				continue
			}
			// The group's second half is past the truncation: its last layer is skipped.
			e.fft2(d.span(pos+r, 2*dist), d.span(pos+r+2*dist, 2*dist), log02)
			e.fft2(d.span(pos+r, dist), d.span(pos+r+dist, dist), log01)
		}
	}
}

// ifft is the inverse additive FFT over shards pos..pos+size, its layers fused in pairs like
// fft's; with an odd number of layers the widest is done alone last.
func (e *engine) ifft(d workArea, pos, size, truncated, skewDelta int) {
	e.ifftFrom(d, pos, size, truncated, skewDelta, 1)
}

// ifftFrom is ifft's layers from the pair of distances dist0 and 4*dist0 (dist0 a power of
// 4) on, those below having been done.
func (e *engine) ifftFrom(d workArea, pos, size, truncated, skewDelta, dist0 int) {
	skew := &e.t.skew
	sz := d.size
	dist := dist0
	for ; 4*dist <= size; dist *= 4 {
		for r := 0; r < truncated; r += 4 * dist {
			log01 := skew[r+dist+skewDelta-1]
			log02 := skew[r+2*dist+skewDelta-1]
			if r+2*dist < truncated {
				log23 := skew[r+3*dist+skewDelta-1]
				e.k.ifft4(d.span(pos+r, 4*dist), dist*sz, log01, log23, log02)
				continue
			}
			// The group's second half is past the truncation (and zero): its first layer
			// would leave it unchanged.
			e.ifft2(d.span(pos+r, dist), d.span(pos+r+dist, dist), log01)
			e.ifft2(d.span(pos+r, 2*dist), d.span(pos+r+2*dist, 2*dist), log02)
		}
	}
	if dist < size {
		for r := 0; r < truncated; r += 2 * dist {
			e.ifft2(d.span(pos+r, dist), d.span(pos+r+dist, dist), skew[r+dist+skewDelta-1])
		}
	}
}

// ifftUncleared is ifft over shards pos..pos+size of which only the first truncated hold data:
// the others stand for zeros but need not be cleared. It clears only the few a radix-4
// butterfly reads, and runs the butterflies whose second span is all such shards as a copy and
// a multiply-add (ifft2 on (x, 0) gives (x ^ x*skew, x)).
//
// Why every other span read is valid: after the layers of groups of G shards, every group
// that starts below truncated is written, so the written prefix [0, w) has w a multiple of G
// (w >= the roundup of truncated to G), and a span of the next layers, aligned to its size, is
// either all written or all past w.
func (e *engine) ifftUncleared(d workArea, pos, size, truncated, skewDelta int) {
	e.ifftUnclearedFrom(d, pos, size, truncated, skewDelta, 1, truncated)
}

// ifftUnclearedFrom is ifftUncleared's layers from the pair of distances dist0 and 4*dist0
// (dist0 a power of 4) on, those below having been done and having written shards
// [pos, pos+w). It returns how many shards from pos are written afterwards.
func (e *engine) ifftUnclearedFrom(d workArea, pos, size, truncated, skewDelta, dist0, w int) int {
	skew := &e.t.skew
	sz := d.size
	// shards [pos, pos+w) hold data
	// butterfly runs ifft2 on the spans of width shards at r and r+width.
	butterfly := func(r, width int, logM uint16) {
		x, y := d.span(pos+r, width), d.span(pos+r+width, width)
		if r+width < w {
			e.ifft2(x, y, logM)
			return
		}
		copy(y, x)
		if logM != modulus {
			// x ^= x*m, that is x *= 1 + m.
			if l, ok := e.t.onePlusLog(logM); ok {
				e.k.mul(x, l)
			} else {
				clear(x)
			}
		}
		w = max(w, r+2*width)
	}
	dist := dist0
	for ; 4*dist <= size; dist *= 4 {
		for r := 0; r < truncated; r += 4 * dist {
			log01 := skew[r+dist+skewDelta-1]
			log02 := skew[r+2*dist+skewDelta-1]
			if r+2*dist < truncated {
				if end := r + 4*dist; end > w {
					d.zero(pos+w, pos+end)
					w = end
				}
				log23 := skew[r+3*dist+skewDelta-1]
				e.k.ifft4(d.span(pos+r, 4*dist), dist*sz, log01, log23, log02)
				continue
			}
			butterfly(r, dist, log01)
			butterfly(r, 2*dist, log02)
		}
	}
	if dist < size {
		for r := 0; r < truncated; r += 2 * dist {
			butterfly(r, dist, skew[r+dist+skewDelta-1])
		}
	}
	return w
}

// onePlusLog returns the log of 1 + exp(logM) (logM < modulus), so that x ^ x*exp(logM) is
// one multiplication, and false when that sum is zero.
func (t *tables) onePlusLog(logM uint16) (uint16, bool) {
	v := t.exp[0] ^ t.exp[logM] // exp[0] is the field's one
	if v == 0 {
		return 0, false
	}
	return t.log[v], true
}

// formalDerivative replaces the shards with the formal derivative of the polynomial they hold.
func formalDerivative(d workArea, count int) {
	for i := 1; i < count; i++ {
		width := i & -i
		xorInto(d.span(i-width, width), d.span(i, width))
	}
}

// groupShards is the width of the aligned groups of shards the grouped transforms hand to
// their callers: the layer pairs of distances 1 and 2, 4 and 8, 16 and 32 stay within them.
const groupShards = 64

// subBlock returns the size of the aligned blocks a grouped transform of size shards (a
// power of two above groupShards) splits into: the largest power of 4 below size, so that
// the transform's layers up to the block size stay within blocks.
func subBlock(size int) int {
	b := groupShards
	for 4*b < size {
		b *= 4
	}
	return b
}

// The grouped transforms below run the same butterflies as ifftUncleared, ifft and fft, in
// another order: a block's layers below its size touch no other block, so each block of
// 256 shards, and within it each group of 64, is transformed as far as it can be before the
// next one, while it is in the caches. The inputs are written by fill a group at a time
// (fill(lo, hi) writes shards [lo, hi)), each just before its first layers; the outputs are
// handed to done a group at a time (done(lo, hi): shards [lo, hi) are final), each just
// after its last layers.

// ifftUnclearedGrouped is ifftUncleared with its inputs written by fill; it returns how many
// shards from pos are written afterwards.
func (e *engine) ifftUnclearedGrouped(d workArea, pos, size, truncated, skewDelta int, fill func(lo, hi int)) int {
	if size <= groupShards {
		fill(pos, pos+truncated)
		return e.ifftUnclearedFrom(d, pos, size, truncated, skewDelta, 1, truncated)
	}
	b := subBlock(size)
	w := 0
	for g := 0; g < truncated; g += b {
		w = g + e.ifftUnclearedGrouped(d, pos+g, b, min(b, truncated-g), skewDelta+g, fill)
	}
	return e.ifftUnclearedFrom(d, pos, size, truncated, skewDelta, b, w)
}

// ifftGrouped is ifft of size full shards (truncated == size) with its inputs written by
// fill.
func (e *engine) ifftGrouped(d workArea, pos, size, skewDelta int, fill func(lo, hi int)) {
	if size <= groupShards {
		fill(pos, pos+size)
		e.ifft(d, pos, size, size, skewDelta)
		return
	}
	b := subBlock(size)
	for g := 0; g < size; g += b {
		e.ifftGrouped(d, pos+g, b, skewDelta+g, fill)
	}
	e.ifftFrom(d, pos, size, size, skewDelta, b)
}

// fftGrouped is fft with its outputs handed to done.
func (e *engine) fftGrouped(d workArea, pos, size, truncated, skewDelta int, done func(lo, hi int)) {
	if size <= groupShards {
		e.fft(d, pos, size, truncated, skewDelta)
		done(pos, pos+truncated)
		return
	}
	b := subBlock(size)
	e.fftWide(d, pos, size, truncated, skewDelta, b)
	for g := 0; g < truncated; g += b {
		e.fftGrouped(d, pos+g, b, min(b, truncated-g), skewDelta+g, done)
	}
}
