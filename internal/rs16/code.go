package rs16

import (
	"errors"
	"fmt"
	"math/bits"
	"sync"
)

// Errors returned by the code.
var (
	ErrUnsupported   = errors.New("rs16: unsupported shard counts")
	ErrShardSize     = errors.New("rs16: shard sizes differ or are not a positive multiple of 64")
	ErrTooFewShards  = errors.New("rs16: not enough shards to decode")
	ErrShardCount    = errors.New("rs16: wrong number of shards")
	ErrShardIndexDup = errors.New("rs16: duplicate shard index")
)

// sliceTarget is the approximate size in bytes of the work area one transform pass touches:
// large shards are processed in slices so that the work area stays in the L2 cache.
const sliceTarget = 1 << 20

// Code is a systematic Reed-Solomon code with k original and m recovery shards, identical to
// reed-solomon-simd 3.1.0's DefaultRate for (original_count = k, recovery_count = m).
// Codeword position i < k is original i; position k + r is recovery shard r. A Code is safe
// for concurrent use.
type Code struct {
	k, m  int
	high  bool
	chunk int
	eng   engine
	pool  sync.Pool // *[]byte work areas
}

func nextPow2(x int) int {
	if x <= 1 {
		return 1
	}
	return 1 << bits.Len(uint(x-1))
}

// UseHighRate reports reed-solomon-simd's DefaultRate choice for k originals and m recovery
// shards, or an error when it supports no code for them.
func UseHighRate(k, m int) (bool, error) {
	if k <= 0 || m <= 0 || k > order || m > order {
		return false, fmt.Errorf("%w: %d original, %d recovery", ErrUnsupported, k, m)
	}
	pk, pm := nextPow2(k), nextPow2(m)
	if min(pk, pm)+max(k, m) > order {
		return false, fmt.Errorf("%w: %d original, %d recovery", ErrUnsupported, k, m)
	}
	switch {
	case pk < pm:
		return false, nil
	case pk > pm:
		return true, nil
	default:
		return k <= m, nil
	}
}

// New returns the code with k original and m recovery shards, computed with the fastest
// kernels the CPU runs.
func New(k, m int) (*Code, error) {
	t := fieldTables()
	return newCode(k, m, engine{t: t, k: bestKernels(t)})
}

// KernelSets returns the names of the kernel sets (implementations of the field arithmetic)
// this CPU runs: "generic" first, the one New uses last. They compute the same bytes.
func KernelSets() []string {
	var names []string
	for _, ks := range allKernels(fieldTables()) {
		names = append(names, ks.name)
	}
	return names
}

// NewWithKernels is New with the named kernel set (one of KernelSets), to compare them.
func NewWithKernels(k, m int, name string) (*Code, error) {
	t := fieldTables()
	for _, ks := range allKernels(t) {
		if ks.name == name {
			return newCode(k, m, engine{t: t, k: ks})
		}
	}
	return nil, fmt.Errorf("%w: kernel set %q (this CPU runs %v)", ErrUnsupported, name, KernelSets())
}

func newCode(k, m int, eng engine) (*Code, error) {
	high, err := UseHighRate(k, m)
	if err != nil {
		return nil, err
	}
	c := &Code{k: k, m: m, high: high, eng: eng}
	if high {
		c.chunk = nextPow2(m)
		if c.chunk+k > order || k >= order || m >= order {
			return nil, fmt.Errorf("%w: %d original, %d recovery (high rate)", ErrUnsupported, k, m)
		}
	} else {
		c.chunk = nextPow2(k)
		if c.chunk+m > order || k >= order || m >= order {
			return nil, fmt.Errorf("%w: %d original, %d recovery (low rate)", ErrUnsupported, k, m)
		}
	}
	return c, nil
}

// K returns the number of original shards.
func (c *Code) K() int { return c.k }

// M returns the number of recovery shards.
func (c *Code) M() int { return c.m }

// HighRate reports whether the code uses reed-solomon-simd's high-rate construction.
func (c *Code) HighRate() bool { return c.high }

func (c *Code) encodeWorkCount() int {
	if c.high {
		return roundUp(c.k, c.chunk)
	}
	return roundUp(c.m, c.chunk)
}

func (c *Code) decodeWorkCount() int {
	if c.high {
		return nextPow2(c.chunk + c.k)
	}
	return nextPow2(c.chunk + c.m)
}

func roundUp(x, m int) int { return (x + m - 1) / m * m }

// sliceSize picks the bytes per shard processed in one pass for shards of size bytes.
func sliceSize(size, workCount int) int {
	s := sliceTarget / workCount
	s = max(s&^63, 64)
	if s >= size {
		return size
	}
	return s
}

func (c *Code) getWork(n int) *[]byte {
	if p, ok := c.pool.Get().(*[]byte); ok && cap(*p) >= n {
		*p = (*p)[:n]
		return p
	}
	b := make([]byte, n)
	return &b
}

func checkSizes(shards [][]byte) (int, error) {
	if len(shards) == 0 {
		return 0, ErrShardCount
	}
	size := -1
	for _, s := range shards {
		if s == nil {
			continue
		}
		if size < 0 {
			size = len(s)
		}
		if len(s) != size {
			return 0, ErrShardSize
		}
	}
	if size <= 0 || size%64 != 0 {
		return 0, ErrShardSize
	}
	return size, nil
}

// Encode computes the m recovery shards from the k originals. All shards are in work layout
// and of equal size, a positive multiple of 64 bytes.
func (c *Code) Encode(originals, recovery [][]byte) error {
	if len(originals) != c.k || len(recovery) != c.m {
		return fmt.Errorf("%w: got %d+%d, want %d+%d", ErrShardCount, len(originals), len(recovery), c.k, c.m)
	}
	size, err := checkSizes(append(append(make([][]byte, 0, c.k+c.m), originals...), recovery...))
	if err != nil {
		return err
	}
	for _, s := range originals {
		if s == nil {
			return ErrShardSize
		}
	}
	for _, s := range recovery {
		if s == nil {
			return ErrShardSize
		}
	}
	wc := c.encodeWorkCount()
	step := sliceSize(size, wc)
	wp := c.getWork(wc * step)
	defer c.pool.Put(wp)
	for off := 0; off < size; off += step {
		n := min(step, size-off)
		d := workArea{buf: (*wp)[:wc*n], size: n}
		for i, s := range originals {
			copy(d.at(i), s[off:off+n])
		}
		if c.high {
			c.encodeHigh(d)
		} else {
			c.encodeLow(d)
		}
		for r, s := range recovery {
			copy(s[off:off+n], d.at(r))
		}
	}
	return nil
}

func (c *Code) encodeHigh(d workArea) {
	e, k, m, C := &c.eng, c.k, c.m, c.chunk
	last := k % C
	first := min(k, C)
	e.ifftUncleared(d, 0, C, first, C)
	if k > C {
		cs := C
		for ; cs+C <= k; cs += C {
			e.ifft(d, cs, C, C, cs+C)
			xorInto(d.span(0, C), d.span(cs, C))
		}
		if last > 0 {
			if c.halfTail(last) {
				// The inverse transform of the chunk, truncated to last <= C/2 originals: all
				// but its widest layer stay within the lower half x, and the widest layer's
				// butterflies, on (x, 0), give (x ^ x*skew, x). Add those to the first
				// chunk directly.
				e.ifftUncleared(d, cs, C/2, last, cs+C)
				c.foldHalfChunk(d, cs)
			} else {
				e.ifftUncleared(d, cs, C, last, cs+C)
				xorInto(d.span(0, C), d.span(cs, C))
			}
		}
	}
	e.fft(d, 0, C, m, 0)
}

// halfTail reports whether a chunk of the code's size C (a power of two) truncated to last
// entries is transformed with its widest layer alone (an odd number of layers, see fft and
// ifft) and has only zeros, or only unused outputs, in its upper half, so that the widest
// layer can be folded into its neighbour step.
func (c *Code) halfTail(last int) bool {
	return c.chunk >= 2 && log2(c.chunk)%2 == 1 && last <= c.chunk/2
}

// foldHalfChunk adds the chunk at cs, its lower half x inverse-transformed but for the widest
// layer (whose butterflies on (x, 0) give (x ^ x*skew, x)), to the first chunk: its upper
// half gets x, its lower half x ^ x*skew = x * (1 + skew).
func (c *Code) foldHalfChunk(d workArea, cs int) {
	e, C := &c.eng, c.chunk
	h := C / 2
	x := d.span(cs, h)
	xorInto(d.span(h, h), x)
	if logM := e.t.skew[h+cs+C-1]; logM == modulus {
		xorInto(d.span(0, h), x)
	} else if l, ok := e.t.onePlusLog(logM); ok {
		e.k.mulAdd(d.span(0, h), x, l)
	}
}

// spreadFirstChunk copies the first chunk's inverse transform to every later chunk of the m
// outputs. With half, the last chunk is truncated to at most C/2 outputs: its widest fft
// layer's butterflies (x ^= y*skew; y ^= x) feed the later layers only through x, so that x
// is computed from the first chunk's halves instead of copying the chunk.
func (c *Code) spreadFirstChunk(d workArea, half bool) {
	e, m, C := &c.eng, c.m, c.chunk
	for cs := C; cs < m; cs += C {
		if half && cs+C > m {
			h := C / 2
			copy(d.span(cs, h), d.span(0, h))
			if logM := e.t.skew[h+cs+C-1]; logM != modulus {
				e.k.mulAdd(d.span(cs, h), d.span(h, h), logM)
			}
			continue
		}
		copy(d.span(cs, C), d.span(0, C))
	}
}

func (c *Code) encodeLow(d workArea) {
	e, k, m, C := &c.eng, c.k, c.m, c.chunk
	e.ifftUncleared(d, 0, C, k, 0)
	last := m % C
	half := m > C && last > 0 && c.halfTail(last)
	c.spreadFirstChunk(d, half)
	cs := 0
	for ; cs+C <= m; cs += C {
		e.fft(d, cs, C, C, cs+C)
	}
	if last > 0 {
		if half {
			e.fft(d, cs, C/2, last, cs+C)
		} else {
			e.fft(d, cs, C, last, cs+C)
		}
	}
}

// encodeHighGrouped is encodeHigh with the originals written by fill and the recovery shards
// handed to done a group at a time (see EncodeWork.EncodeFunc).
func (c *Code) encodeHighGrouped(d workArea, fill, done func(lo, hi int)) {
	e, k, m, C := &c.eng, c.k, c.m, c.chunk
	last := k % C
	first := min(k, C)
	e.ifftUnclearedGrouped(d, 0, C, first, C, fill)
	if k > C {
		cs := C
		for ; cs+C <= k; cs += C {
			e.ifftGrouped(d, cs, C, cs+C, fill)
			xorInto(d.span(0, C), d.span(cs, C))
		}
		if last > 0 {
			if c.halfTail(last) {
				// As in encodeHigh.
				e.ifftUnclearedGrouped(d, cs, C/2, last, cs+C, fill)
				c.foldHalfChunk(d, cs)
			} else {
				e.ifftUnclearedGrouped(d, cs, C, last, cs+C, fill)
				xorInto(d.span(0, C), d.span(cs, C))
			}
		}
	}
	e.fftGrouped(d, 0, C, m, 0, done)
}

// encodeLowGrouped is encodeLow with the originals written by fill and the recovery shards
// handed to done a group at a time (see EncodeWork.EncodeFunc).
func (c *Code) encodeLowGrouped(d workArea, fill, done func(lo, hi int)) {
	e, k, m, C := &c.eng, c.k, c.m, c.chunk
	e.ifftUnclearedGrouped(d, 0, C, k, 0, fill)
	last := m % C
	half := m > C && last > 0 && c.halfTail(last)
	c.spreadFirstChunk(d, half)
	cs := 0
	for ; cs+C <= m; cs += C {
		e.fftGrouped(d, cs, C, C, cs+C, done)
	}
	if last > 0 {
		if half {
			e.fftGrouped(d, cs, C/2, last, cs+C, done)
		} else {
			e.fftGrouped(d, cs, C, last, cs+C, done)
		}
	}
}

// Decode restores the missing original shards. shards holds the k+m shards in codeword order
// (originals, then recovery); present[i] says whether shards[i] holds valid data. Every
// shards[i] must be allocated with the common size; restored originals are written into
// shards[i] for missing i < k. Recovery shards that are missing are left untouched.
func (c *Code) Decode(shards [][]byte, present []bool) error {
	if len(shards) != c.k+c.m || len(present) != c.k+c.m {
		return fmt.Errorf("%w: got %d workArea, want %d", ErrShardCount, len(shards), c.k+c.m)
	}
	size, err := checkSizes(shards)
	if err != nil {
		return err
	}
	got, missingOrig := 0, 0
	for i, p := range present {
		if shards[i] == nil {
			if p || i < c.k {
				return ErrShardSize
			}
			continue
		}
		if p {
			got++
		} else if i < c.k {
			missingOrig++
		}
	}
	if got < c.k {
		return fmt.Errorf("%w: have %d, need %d", ErrTooFewShards, got, c.k)
	}
	if missingOrig == 0 {
		return nil
	}

	var erasures [order]uint16
	origBase, recBase := c.chunk, 0
	if !c.high {
		origBase, recBase = 0, c.chunk
	}
	for i := 0; i < c.k; i++ {
		if !present[i] {
			erasures[origBase+i] = 1
		}
	}
	for r := 0; r < c.m; r++ {
		if !present[c.k+r] {
			erasures[recBase+r] = 1
		}
	}
	var end int
	if c.high {
		for i := c.m; i < c.chunk; i++ {
			erasures[i] = 1
		}
		end = c.chunk + c.k
		c.eng.t.locator(&erasures, end, false)
	} else {
		end = c.chunk + c.m // every position from end on counts as erased
		c.eng.t.locator(&erasures, end, true)
	}

	wc := c.decodeWorkCount()
	step := sliceSize(size, wc)
	wp := c.getWork(wc * step)
	defer c.pool.Put(wp)
	e := &c.eng
	for off := 0; off < size; off += step {
		n := min(step, size-off)
		d := workArea{buf: (*wp)[:wc*n], size: n}
		clear(d.buf)
		for i := 0; i < c.k+c.m; i++ {
			if !present[i] {
				continue
			}
			pos := origBase + i
			if i >= c.k {
				pos = recBase + i - c.k
			}
			dst := d.at(pos)
			copy(dst, shards[i][off:off+n])
			e.k.mul(dst, erasures[pos])
		}
		e.ifft(d, 0, wc, end, 0)
		formalDerivative(d, wc)
		e.fft(d, 0, wc, end, 0)
		for i := 0; i < c.k; i++ {
			if present[i] {
				continue
			}
			pos := origBase + i
			dst := shards[i][off : off+n]
			copy(dst, d.at(pos))
			e.k.mul(dst, modulus-erasures[pos])
		}
	}
	return nil
}
