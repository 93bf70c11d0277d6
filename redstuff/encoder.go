package redstuff

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/floelabs/floe/internal/merkle"
	"github.com/floelabs/floe/internal/rs16"
)

// Encoder encodes, decodes and recovers blobs for one number of shards. It is safe for
// concurrent use.
type Encoder struct {
	p       Params
	workers int
	// colCode is the primary code (k = K_p, n): it expands a column, i.e. a secondary sliver.
	colCode *rs16.Code
	// rowCode is the secondary code (k = K_s, n): it expands a row, i.e. a primary sliver.
	rowCode *rs16.Code
	// works pools the scratch of expanding single slivers (*sync.Pool of *sliverScratch), by
	// scratchKey.
	works sync.Map
	// memoryLimit bounds the working memory of one Encode or Commit (see WithMemoryLimit).
	memoryLimit uint64
	// kernels names the rs16 kernel set; empty for the fastest (tests compare them).
	kernels string
	// groupBytes is sinkGroupBytes (tests lower it to write rows one at a time).
	groupBytes int
	// clock, if not nil, times the phases of Encode and Commit (benchmarks).
	clock *phaseClock
	// leafBufs and right pool the n*n leaf hashes (*[]merkle.Node) and right blocks (*[]byte)
	// of expansions: every entry is written before it is read, so reusing them spares
	// zeroing and, on a fresh heap, page faults.
	leafBufs, right sync.Pool
}

// Option configures an Encoder.
type Option func(*Encoder)

// WithWorkers sets how many goroutines one call may use (default: GOMAXPROCS).
func WithWorkers(n int) Option { return func(e *Encoder) { e.workers = n } }

// DefaultMemoryLimit is the default bound on the working memory of one Encode or Commit.
const DefaultMemoryLimit = 8 << 30

// WithMemoryLimit bounds the working memory one Encode or Commit may allocate besides the blob
// itself (default DefaultMemoryLimit): the n*n leaf hashes, the right block of the expanded
// matrix and, for Encode, the slivers. A call that would need more fails with
// ErrWorkingSetTooLarge instead of exhausting the machine's memory (this matters for very
// large n, where the n*n leaf hashes alone take 32*n*n bytes).
func WithMemoryLimit(bytes uint64) Option { return func(e *Encoder) { e.memoryLimit = bytes } }

// New returns an Encoder for n shards.
func New(nShards int, opts ...Option) (*Encoder, error) {
	p, err := NewParams(nShards)
	if err != nil {
		return nil, err
	}
	e := &Encoder{p: p, workers: runtime.GOMAXPROCS(0), memoryLimit: DefaultMemoryLimit, groupBytes: sinkGroupBytes}
	for _, o := range opts {
		o(e)
	}
	e.workers = max(e.workers, 1)
	newCode := rs16.New
	if e.kernels != "" {
		newCode = func(k, m int) (*rs16.Code, error) { return rs16.NewWithKernels(k, m, e.kernels) }
	}
	if e.colCode, err = newCode(p.PrimarySource, nShards-p.PrimarySource); err != nil {
		return nil, fmt.Errorf("%w: %d: %w", ErrShardCount, nShards, err)
	}
	if e.rowCode, err = newCode(p.SecondarySource, nShards-p.SecondarySource); err != nil {
		return nil, fmt.Errorf("%w: %d: %w", ErrShardCount, nShards, err)
	}
	return e, nil
}

// Params returns the encoder's parameters.
func (e *Encoder) Params() Params { return e.p }

// code returns the code that expands a sliver of axis a (whose symbols are its originals).
func (e *Encoder) code(a Axis) *rs16.Code {
	if a == Primary {
		return e.rowCode
	}
	return e.colCode
}

// parallel runs fn(i) for i in [0, n) on up to e.workers goroutines; each goroutine gets its
// own worker index w for scratch buffers.
func (e *Encoder) parallel(n int, fn func(w, i int)) {
	workers := min(e.workers, n)
	if workers <= 1 {
		for i := 0; i < n; i++ {
			fn(0, i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				fn(w, i)
			}
		}()
	}
	wg.Wait()
}

// hashBatch is how many leaves a symHasher hashes at once (see merkle.LeafPartsMany).
const hashBatch = 256

// symHasher hashes symbols of s bytes given in raw or work layout, queueing them to hash
// hashBatch at a time. A queued symbol is read when the queue is flushed: it must not change
// before then.
type symHasher struct {
	s, full, t int // symbol size, its whole 64-byte blocks, its tail (s - full)
	n          int // queued symbols
	// Queued leaf i is H(0x00 || a[i] || b[i]), for *dst[i].
	a, b  [hashBatch][]byte
	dst   [hashBatch]*merkle.Node
	out   [hashBatch]merkle.Node
	tails [hashBatch][64]byte // re-laid-out tails of work-layout symbols
	clock *phaseClock
}

func newSymHasher(s int, clock *phaseClock) *symHasher {
	full := s &^ 63
	return &symHasher{s: s, full: full, t: s - full, clock: clock}
}

// raw queues raw symbol sym, whose leaf hash goes to *dst.
func (sh *symHasher) raw(dst *merkle.Node, sym []byte) {
	sh.push(dst, sym[:sh.full], sym[sh.full:sh.s])
}

// work queues work-layout symbol sym, whose leaf hash goes to *dst. Its tail holds t/2 bytes
// at sym[full:] and t/2 at sym[full+32:].
func (sh *symHasher) work(dst *merkle.Node, sym []byte) {
	full, t := sh.full, sh.t
	if t == 0 {
		sh.push(dst, sym[:full], nil)
		return
	}
	h := t / 2
	tail := sh.tails[sh.n][:t]
	copy(tail[:h], sym[full:full+h])
	copy(tail[h:], sym[full+32:full+32+h])
	sh.push(dst, sym[:full], tail)
}

func (sh *symHasher) push(dst *merkle.Node, a, b []byte) {
	sh.a[sh.n], sh.b[sh.n], sh.dst[sh.n] = a, b, dst
	sh.n++
	if sh.n == hashBatch {
		sh.flush()
	}
}

// flush hashes the queued symbols.
func (sh *symHasher) flush() {
	n := sh.n
	if n == 0 {
		return
	}
	start := sh.clock.now()
	merkle.LeafPartsMany(sh.out[:n], sh.a[:n], sh.b[:n])
	sh.clock.since(phaseLeaves, start)
	for i, d := range sh.dst[:n] {
		*d = sh.out[i]
	}
	clear(sh.a[:n])
	clear(sh.b[:n])
	clear(sh.dst[:n])
	sh.n = 0
}

// expansion holds what expanding a blob produces.
type expansion struct {
	s, ws  int
	leaves []merkle.Node // n*n leaf hashes, row-major
	// leavesPooled: leaves came from e.leafBufs and go back there (not from the caller's mem).
	leavesPooled bool
	// Encode only: raw slivers, all in mem.
	primary, secondary [][]byte
	mem                []byte
}

// expand computes the expanded matrix's leaf hashes and, if keep, all slivers in memory (in
// mem if it is large enough, else in new memory), or, if sink is not nil, all slivers
// written to sink (see EncodeAt), or, if sink is not nil and rightOnly, only the secondary
// slivers K_s..n, the right block, which it reads back (see CommitAt). It works symbol by symbol
// in cache-sized encoding areas: the message is read in place, and besides the leaf hashes
// only the secondary-code expansion of the top rows (the right K_p x (n-K_s) block) is kept
// across phases, in memory or, with a sink, as the secondary slivers it writes.
func (e *Encoder) expand(src *blobSource, keep bool, mem []byte, sink ReaderWriterAt, rightOnly bool) (*expansion, error) {
	p := e.p
	n, kp, ks := p.NShards, p.PrimarySource, p.SecondarySource
	s, err := p.SymbolSize(uint64(src.size))
	if err != nil {
		return nil, err
	}
	ws := rs16.WorkSize(s)
	if need := e.workingSet(s, keep, sink != nil); need > e.memoryLimit {
		return nil, fmt.Errorf("%w: %d shards and symbols of %d bytes need %d bytes of working memory, over the limit of %d", ErrWorkingSetTooLarge, n, s, need, e.memoryLimit)
	}
	nRight := n - ks
	rowLen := ks * s
	x := &expansion{s: s, ws: ws}
	// right[r] holds the secondary-code recovery symbols of message row r (raw layout: for
	// small symbols the work layout would be up to 32 times larger). With a sink they are
	// the secondary slivers K_s..n, read back from it.
	var right []byte
	sliverBytes, rightBytes, leafBytes := encodeMemory(n, kp, ks, s)
	if keep && sink == nil && cap(mem) >= sliverBytes+rightBytes+leafBytes {
		// All in the caller's memory (EncodeMemory): the slivers, then the right block and
		// the leaf hashes, which are dead once the encoding is made.
		x.mem = mem[:cap(mem)]
		right = x.mem[sliverBytes : sliverBytes+rightBytes : sliverBytes+rightBytes]
		if leafBytes > 0 {
			x.leaves = unsafe.Slice((*merkle.Node)(unsafe.Pointer(&x.mem[sliverBytes+rightBytes])), n*n)
		}
	} else {
		x.leaves, x.leavesPooled = e.getLeaves(n*n), true
		if keep {
			x.mem = sliverMemory(mem, sliverBytes)
		}
		if sink == nil {
			rightBuf := e.getRight(kp * nRight * s)
			defer e.right.Put(rightBuf)
			right = *rightBuf
		}
	}
	if keep {
		x.primary = splitSlivers(x.mem[:n*ks*s], n, ks*s)
		x.secondary = splitSlivers(x.mem[n*ks*s:sliverBytes], n, kp*s)
	}
	// With a sink, phase 1 expands groups of rows and writes each secondary sliver's symbols
	// of a group at once: about sinkGroupBytes of symbols per group.
	group := 1
	if sink != nil {
		group = max(1, min(kp, e.groupBytes/(n*s)))
	}
	// firstCol is the first secondary sliver written to the sink.
	firstCol := 0
	if rightOnly {
		firstCol = ks
	}

	type rowScratch struct {
		raw  []byte
		work *rs16.EncodeWork
		sh   *symHasher
		rrow []byte // sink: the row's recovery symbols
		sec  []byte // sink: the group's symbols, by column: column c, row g at (c*group+g)*s
	}
	rows := make([]*rowScratch, e.workers)
	var firstErr error
	var errOnce sync.Once
	fail := func(err error) { errOnce.Do(func() { firstErr = err }) }

	// Phase 1: rows 0..K_p: secondary-code expansion, leaves of the top rows.
	e.parallel((kp+group-1)/group, func(w, gi int) {
		start := e.clock.now()
		defer e.clock.since(phaseExpand, start)
		sc := rows[w]
		if sc == nil {
			wk, err := e.rowCode.NewEncodeWork(ws)
			if err != nil {
				fail(err)
				return
			}
			sc = &rowScratch{raw: make([]byte, rowLen), work: wk, sh: newSymHasher(s, e.clock)}
			if sink != nil {
				sc.rrow = make([]byte, nRight*s)
				sc.sec = make([]byte, n*group*s)
			}
			rows[w] = sc
		}
		r0 := gi * group
		r1 := min(r0+group, kp)
		for r := r0; r < r1; r++ {
			if !e.expandRow(x, src, sc.raw, sc.work, sc.sh, right, sc.rrow, keep, r, fail) {
				return
			}
			if sink == nil {
				continue
			}
			raw := src.inPlace(r*rowLen, rowLen)
			if raw == nil {
				raw = sc.raw
			}
			if !rightOnly {
				if _, err := sink.WriteAt(raw, p.SliverOffset(Primary, r, s)); err != nil {
					fail(fmt.Errorf("redstuff: writing primary sliver %d: %w", r, err))
					return
				}
			}
			if group == 1 { // write the row's symbols where they are
				for c := firstCol; c < n; c++ {
					var sym []byte
					if c < ks {
						sym = raw[c*s : (c+1)*s]
					} else {
						sym = sc.rrow[(c-ks)*s : (c-ks+1)*s]
					}
					if _, err := sink.WriteAt(sym, p.SliverOffset(Secondary, c, s)+int64(r*s)); err != nil {
						fail(fmt.Errorf("redstuff: writing secondary sliver %d: %w", c, err))
						return
					}
				}
				return
			}
			g := r - r0
			for c := firstCol; c < ks; c++ {
				copy(sc.sec[(c*group+g)*s:(c*group+g+1)*s], raw[c*s:(c+1)*s])
			}
			for c := 0; c < nRight; c++ {
				copy(sc.sec[((ks+c)*group+g)*s:((ks+c)*group+g+1)*s], sc.rrow[c*s:(c+1)*s])
			}
		}
		if sink == nil {
			return
		}
		gl := (r1 - r0) * s
		for c := firstCol; c < n; c++ {
			if _, err := sink.WriteAt(sc.sec[c*group*s:c*group*s+gl], p.SliverOffset(Secondary, c, s)+int64(r0*s)); err != nil {
				fail(fmt.Errorf("redstuff: writing secondary sliver %d: %w", c, err))
				return
			}
		}
	})
	if firstErr != nil {
		return nil, firstErr
	}

	// Phase 2: columns, in batches of width columns that do not straddle K_s: primary-code
	// expansion into the bottom rows, their leaves, and (Encode, EncodeAt) the bottom primary
	// slivers. A blob read from an io.ReaderAt is read in strips of several batches' columns
	// (about stripBytes per row), one read per row and strip.
	width := max(1, 1024/ws)
	stripW := width
	if src.r != nil {
		stripW = width * max(1, stripBytes/(width*s))
	}
	type strip struct{ c0, c1 int }
	var strips []strip
	for c := 0; c < ks; c += stripW {
		strips = append(strips, strip{c, min(c+stripW, ks)})
	}
	for c := ks; c < n; c += width {
		strips = append(strips, strip{c, min(c+width, n)})
	}
	type colScratch struct {
		works  map[int]*rs16.EncodeWork // by batch width
		sh     *symHasher
		raw    []byte // a strip of the message's rows 0..K_p
		bottom []byte // sink: a strip of the bottom rows K_p..n
		cols   []byte // sink: the secondary slivers of a batch of columns past K_s
		seg    []byte // sink: one row of those
	}
	cols := make([]*colScratch, e.workers)
	e.parallel(len(strips), func(w, si int) {
		start := e.clock.now()
		defer e.clock.since(phaseExpand, start)
		sc := cols[w]
		if sc == nil {
			sc = &colScratch{works: map[int]*rs16.EncodeWork{}, sh: newSymHasher(s, e.clock)}
			cols[w] = sc
		}
		st := strips[si]
		stripLen := (st.c1 - st.c0) * s
		// inStrip returns symbols c0..c1 of message row r.
		inStrip := func(r, c0, c1 int) []byte {
			off := r*stripLen + (c0-st.c0)*s
			return sc.raw[off : off+(c1-c0)*s]
		}
		var rightSeg func(r, c0, c1 int) []byte
		switch {
		case st.c0 < ks:
			// The strip's message symbols, unless they are all read in place.
			if src.inPlace((kp-1)*rowLen+st.c0*s, stripLen) == nil {
				if cap(sc.raw) < kp*stripLen {
					sc.raw = make([]byte, kp*stripLen)
				}
				for r := 0; r < kp; r++ {
					if err := src.read(inStrip(r, st.c0, st.c1), int64(r*rowLen+st.c0*s)); err != nil {
						fail(err)
						return
					}
				}
			}
		case sink == nil:
			rightSeg = func(r, c0, c1 int) []byte {
				off := (r*nRight + c0 - ks) * s
				return right[off : off+(c1-c0)*s]
			}
		default:
			// Read the batch's secondary slivers back from the sink.
			cw := st.c1 - st.c0
			if cap(sc.cols) < cw*kp*s {
				sc.cols = make([]byte, cw*kp*s)
				sc.seg = make([]byte, cw*s)
			}
			for c := st.c0; c < st.c1; c++ {
				col := sc.cols[(c-st.c0)*kp*s : (c-st.c0+1)*kp*s]
				if k, err := sink.ReadAt(col, p.SliverOffset(Secondary, c, s)); k < len(col) {
					if err == nil || errors.Is(err, io.EOF) {
						err = io.ErrUnexpectedEOF
					}
					fail(fmt.Errorf("redstuff: reading back secondary sliver %d: %w", c, err))
					return
				}
			}
			rightSeg = func(r, c0, c1 int) []byte {
				seg := sc.seg[:(c1-c0)*s]
				for c := c0; c < c1; c++ {
					off := ((c-st.c0)*kp + r) * s
					copy(seg[(c-c0)*s:(c-c0+1)*s], sc.cols[off:off+s])
				}
				return seg
			}
		}
		var bottom []byte
		if sink != nil && !rightOnly && st.c0 < ks {
			if cap(sc.bottom) < (n-kp)*stripLen {
				sc.bottom = make([]byte, (n-kp)*stripLen)
			}
			bottom = sc.bottom[:(n-kp)*stripLen]
		}
		for c0 := st.c0; c0 < st.c1; c0 += width {
			if err := e.columnBatch(x, src, sc.works, sc.sh, inStrip, rightSeg, bottom, st.c0, stripLen, keep, s, c0, min(c0+width, st.c1)); err != nil {
				fail(err)
				return
			}
		}
		for r := kp; r < n && bottom != nil; r++ {
			if _, err := sink.WriteAt(bottom[(r-kp)*stripLen:(r-kp+1)*stripLen], p.SliverOffset(Primary, r, s)+int64(st.c0*s)); err != nil {
				fail(fmt.Errorf("redstuff: writing primary sliver %d: %w", r, err))
				return
			}
		}
	})
	if firstErr != nil {
		return nil, firstErr
	}
	return x, nil
}

// expandRow expands message row r with the secondary code: the leaves of row r, its
// recovery symbols into right (in memory) or rrow (with a sink), and, if keep, its symbols
// into the slivers. It reports failures to fail and returns false after one.
func (e *Encoder) expandRow(x *expansion, src *blobSource, rawBuf []byte, wk *rs16.EncodeWork, sh *symHasher, right, rrow []byte, keep bool, r int, fail func(error)) bool {
	p := e.p
	n, ks := p.NShards, p.SecondarySource
	s := x.s
	nRight := n - ks
	rowLen := ks * s
	raw := src.inPlace(r*rowLen, rowLen)
	if raw == nil {
		raw = rawBuf
		if err := src.read(raw, int64(r*rowLen)); err != nil {
			fail(err)
			return false
		}
	}
	leaves := x.leaves[r*n : (r+1)*n]
	rs16.ToWork(wk.Originals(ks), raw, s)
	for c := 0; c < ks; c++ {
		sh.raw(&leaves[c], raw[c*s:(c+1)*s])
	}
	rsStart := e.clock.now()
	wk.Encode()
	e.clock.since(phaseRS, rsStart)
	if rrow == nil {
		rrow = right[r*nRight*s : (r+1)*nRight*s]
	}
	rs16.FromWork(rrow, wk.Recoveries(nRight), s)
	for c := 0; c < nRight; c++ {
		sym := rrow[c*s : (c+1)*s]
		sh.raw(&leaves[ks+c], sym)
		if keep {
			copy(x.secondary[ks+c][r*s:(r+1)*s], sym)
		}
	}
	sh.flush() // before the next row reuses rawBuf and rrow
	if keep {
		copy(x.primary[r], raw)
		for c := 0; c < ks; c++ {
			copy(x.secondary[c][r*s:(r+1)*s], raw[c*s:(c+1)*s])
		}
	}
	return true
}

// stripBytes is about how many bytes of a row expand reads at once from an io.ReaderAt in phase 2.
const stripBytes = 16 << 10

// sinkGroupBytes is about how many bytes of symbols expand gathers per group of rows before
// writing them to a sink: each secondary sliver gets group*s bytes per write.
const sinkGroupBytes = 16 << 20

// columnBatch expands columns c0..c1 (not straddling K_s) with the primary code: the bottom
// rows' symbols, their leaves and, if keep, the bottom primary slivers, or, if bottom is not
// nil, their symbols into bottom (row K_p+r of the strip starting at column sc0, of stripLen
// bytes per row, at bottom[r*stripLen:]). Message symbols come in place from src or, if src
// does not hold them in memory, from inStrip; symbols past K_s from rightSeg.
func (e *Encoder) columnBatch(x *expansion, src *blobSource, works map[int]*rs16.EncodeWork, sh *symHasher, inStrip, rightSeg func(r, c0, c1 int) []byte,
	bottom []byte, sc0, stripLen int, keep bool, s, c0, c1 int) error {
	p := e.p
	n, kp, ks := p.NShards, p.PrimarySource, p.SecondarySource
	ws := rs16.WorkSize(s)
	rowLen := ks * s
	cw := c1 - c0
	wk := works[cw]
	if wk == nil {
		var err error
		if wk, err = e.colCode.NewEncodeWork(cw * ws); err != nil {
			return err
		}
		works[cw] = wk
	}
	for r := 0; r < kp; r++ {
		var seg []byte
		switch {
		case c0 >= ks:
			seg = rightSeg(r, c0, c1)
		default:
			if seg = src.inPlace(r*rowLen+c0*s, cw*s); seg == nil {
				seg = inStrip(r, c0, c1)
			}
		}
		rs16.ToWork(wk.Original(r), seg, s)
	}
	rsStart := e.clock.now()
	wk.Encode()
	e.clock.since(phaseRS, rsStart)
	for r := 0; r < n-kp; r++ {
		row := kp + r
		rec := wk.Recovery(r)
		for c := c0; c < c1; c++ {
			sh.work(&x.leaves[row*n+c], rec[(c-c0)*ws:(c-c0+1)*ws])
		}
		switch {
		case c0 >= ks:
		case keep:
			rs16.FromWork(x.primary[row][c0*s:c1*s], rec, s)
		case bottom != nil:
			off := r*stripLen + (c0-sc0)*s
			rs16.FromWork(bottom[off:off+cw*s], rec, s)
		}
	}
	sh.flush() // before the next batch's Encode
	return nil
}

// sliverMemory returns the first size bytes of mem if it has them, else size new bytes.
func sliverMemory(mem []byte, size int) []byte {
	if cap(mem) >= size {
		return mem[:size:size]
	}
	buf := make([]byte, size)
	if size > 0 {
		adviseHugePages(unsafe.Pointer(&buf[0]), uintptr(size))
	}
	return buf
}

// splitSlivers cuts buf into count slivers of size bytes.
func splitSlivers(buf []byte, count, size int) [][]byte {
	out := make([][]byte, count)
	for i := range out {
		out[i] = buf[i*size : (i+1)*size : (i+1)*size]
	}
	return out
}

// getLeaves returns a buffer for count leaf hashes, with arbitrary contents.
func (e *Encoder) getLeaves(count int) []merkle.Node {
	if p, ok := e.leafBufs.Get().(*[]merkle.Node); ok && len(*p) == count {
		return *p
	}
	l := make([]merkle.Node, count)
	if count > 0 {
		adviseHugePages(unsafe.Pointer(&l[0]), uintptr(count)*uintptr(len(l[0])))
	}
	return l
}

// getRight returns a buffer of size bytes, with arbitrary contents; put it back in e.right.
func (e *Encoder) getRight(size int) *[]byte {
	if p, ok := e.right.Get().(*[]byte); ok && cap(*p) >= size {
		*p = (*p)[:size]
		return p
	}
	b := make([]byte, size)
	if size > 0 {
		adviseHugePages(unsafe.Pointer(&b[0]), uintptr(size))
	}
	return &b
}

// colGroup is how many columns a commitment task gathers at once: the leaves of a row are
// contiguous, so a group reads colGroup*32 contiguous bytes per row.
const colGroup = 16

// commitment builds the pair hashes and root from the leaf hashes, then releases them.
func (e *Encoder) commitment(x *expansion, length uint64) *Commitment {
	n := e.p.NShards
	hashes := make([]PairHashes, n)
	groups := (n + colGroup - 1) / colGroup
	scratch := make([][]merkle.Node, e.workers)
	e.parallel(n+groups, func(w, t int) {
		start := e.clock.now()
		defer e.clock.since(phaseMerkle, start)
		if scratch[w] == nil {
			scratch[w] = make([]merkle.Node, colGroup*n)
		}
		buf := scratch[w]
		if t < n { // row t: primary hash of pair t
			leaves := buf[:n]
			copy(leaves, x.leaves[t*n:(t+1)*n])
			hashes[t].Primary = merkle.RootInPlace(leaves)
			return
		}
		// Columns c0..c1: secondary hashes of pairs n-1-c.
		c0 := (t - n) * colGroup
		c1 := min(c0+colGroup, n)
		g := c1 - c0
		for r := 0; r < n; r++ {
			row := x.leaves[r*n+c0 : r*n+c1]
			for j, l := range row {
				buf[j*n+r] = l
			}
		}
		for j := 0; j < g; j++ {
			hashes[n-1-(c0+j)].Secondary = merkle.RootInPlace(buf[j*n : (j+1)*n])
		}
	})
	leaves := x.leaves
	x.leaves = nil
	if x.leavesPooled {
		e.leafBufs.Put(&leaves)
	}
	start := e.clock.now()
	root := RootHash(hashes)
	e.clock.since(phaseMetadata, start)
	return &Commitment{Length: length, SymbolSize: x.s, Hashes: hashes, Root: root}
}

// Encode encodes data into all 2n slivers and their commitment.
func (e *Encoder) Encode(data []byte) (*Encoding, error) {
	return e.EncodeInto(data, nil)
}

// EncodeInto is Encode with the slivers in mem if it can hold them (see SliverMemory), and
// its working memory too if mem can hold that besides (see EncodeMemory): mem's contents are
// overwritten and the encoding's slivers alias it. Reusing the memory of a
// previous encoding (Encoding.Memory) once it is no longer used spares a process the page
// faults and zeroing of a fresh allocation, which on some virtual machines cost several
// times the encoding itself. A smaller mem is not used.
func (e *Encoder) EncodeInto(data, mem []byte) (*Encoding, error) {
	x, err := e.expand(memorySource(data), true, mem, nil, false)
	if err != nil {
		return nil, err
	}
	c := e.commitment(x, uint64(len(data)))
	return &Encoding{Commitment: *c, Primary: x.primary, Secondary: x.secondary, mem: x.mem}, nil
}

// SliverMemory returns how many bytes the slivers of a blob of size bytes take: what
// EncodeInto needs to reuse memory for the slivers.
func (e *Encoder) SliverMemory(size uint64) (int, error) {
	s, err := e.p.SymbolSize(size)
	if err != nil {
		return 0, err
	}
	sl, _, _ := encodeMemory(e.p.NShards, e.p.PrimarySource, e.p.SecondarySource, s)
	return sl, nil
}

// EncodeMemory returns how many bytes EncodeInto uses of a mem that holds them: the slivers
// (SliverMemory), then the encoding's working memory, the right block of the expanded matrix
// and the n*n leaf hashes (about 0.6x the blob and 32 MB at n = 1000), which it otherwise
// takes from pools of the encoder's. A pool keeps its buffers only until the next garbage
// collections; memory given back to the system and taken again is fresh memory, whose page
// faults and zeroing cost, on the virtual machines the devnet benchmarks run on, a third of
// the encoding itself (BenchmarkStoreCPU, perf: clear_page in 22% of a client's samples).
func (e *Encoder) EncodeMemory(size uint64) (int, error) {
	s, err := e.p.SymbolSize(size)
	if err != nil {
		return 0, err
	}
	sl, right, leaves := encodeMemory(e.p.NShards, e.p.PrimarySource, e.p.SecondarySource, s)
	return sl + right + leaves, nil
}

// encodeMemory returns the bytes of the slivers, of the right block and of the leaf hashes
// of an encoding with symbols of s bytes.
func encodeMemory(n, kp, ks, s int) (slivers, right, leaves int) {
	return n * (kp + ks) * s, kp * (n - ks) * s, n * n * int(unsafe.Sizeof(merkle.Node{}))
}

// Commit computes only the commitment (pair hashes and root) of data. It needs far less memory
// than Encode: about 0.7x the blob besides data itself.
func (e *Encoder) Commit(data []byte) (*Commitment, error) {
	x, err := e.expand(memorySource(data), false, nil, nil, false)
	if err != nil {
		return nil, err
	}
	return e.commitment(x, uint64(len(data))), nil
}

// CommitReaderAt is Commit for the length bytes of r (a file, say), read as they are needed
// instead of held in memory: each message row once, then each column strip once, into
// per-worker buffers. r must not change during the call; a failed or short read returns
// ErrBlobRead.
func (e *Encoder) CommitReaderAt(r io.ReaderAt, length int64) (*Commitment, error) {
	if length < 0 {
		return nil, fmt.Errorf("%w: negative length %d", ErrBlobRead, length)
	}
	x, err := e.expand(&blobSource{r: r, size: length}, false, nil, nil, false)
	if err != nil {
		return nil, err
	}
	return e.commitment(x, uint64(length)), nil
}

// CommitAt is CommitReaderAt in memory bounded whatever the blob's size: the right block of
// the expanded matrix (the secondary slivers K_s..n, half the blob's size at n = 1000), which
// Commit and CommitReaderAt hold in memory, is written to scratch (a temporary file, say) and
// read back. Besides the n*n leaf hashes its memory is a few rows and strips per worker.
// scratch is written at EncodeAt's offsets of those slivers (SliverOffset), and left sparse
// elsewhere.
func (e *Encoder) CommitAt(r io.ReaderAt, length int64, scratch ReaderWriterAt) (*Commitment, error) {
	if length < 0 {
		return nil, fmt.Errorf("%w: negative length %d", ErrBlobRead, length)
	}
	x, err := e.expand(&blobSource{r: r, size: length}, false, nil, scratch, true)
	if err != nil {
		return nil, err
	}
	return e.commitment(x, uint64(length)), nil
}

// workingSet estimates the memory expand allocates for symbol size s.
func (e *Encoder) workingSet(s int, keep, sink bool) uint64 {
	p := e.p
	n, kp, ks := uint64(p.NShards), uint64(p.PrimarySource), uint64(p.SecondarySource)
	need := n * n * 32
	if !sink {
		need += kp * (n - ks) * uint64(s)
	}
	if keep {
		need += n * (kp + ks) * uint64(s)
	}
	return need
}

// ReaderWriterAt is where EncodeAt writes slivers and reads some of them back (a file).
type ReaderWriterAt interface {
	io.ReaderAt
	io.WriterAt
}

// SliverOffset returns where EncodeAt puts sliver index of axis a of a blob with symbol size
// s: the n primary slivers first, in index order, then the n secondary slivers, each
// contiguous. The whole encoding takes SliverOffset(Secondary, n, s) bytes.
func (p Params) SliverOffset(a Axis, index, s int) int64 {
	if a == Primary {
		return int64(index) * int64(p.PrimarySliverLen(s))
	}
	return int64(p.NShards)*int64(p.PrimarySliverLen(s)) + int64(index)*int64(p.SecondarySliverLen(s))
}

// EncodeAt encodes the length bytes of r (a file, say: read as CommitReaderAt reads it) and
// writes all 2n slivers to w at SliverOffset, returning the commitment. Unlike Encode it
// holds neither the blob nor its slivers: besides the n*n leaf hashes its memory is a few
// rows and strips per worker, whatever the blob's size. w must read back what was written
// (the secondary slivers past K_s are read back to expand their columns). r must not change
// during the call; a failed or short read returns ErrBlobRead.
func (e *Encoder) EncodeAt(r io.ReaderAt, length int64, w ReaderWriterAt) (*Commitment, error) {
	if length < 0 {
		return nil, fmt.Errorf("%w: negative length %d", ErrBlobRead, length)
	}
	x, err := e.expand(&blobSource{r: r, size: length}, false, nil, w, false)
	if err != nil {
		return nil, err
	}
	return e.commitment(x, uint64(length)), nil
}
