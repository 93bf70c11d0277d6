package redstuff

// A lean encoding holds only the sliver bytes the blob does not hold already. Of the 2n
// slivers (about 4.5 times the blob at n = 1000), the systematic primary slivers (rows
// 0..K_p of the expanded matrix) are the blob's own rows and the systematic secondary slivers
// (columns 0..K_s) its columns; the secondary slivers past K_s are the columns of the right
// block, which the expansion computes row by row anyway. Only the bottom primary slivers
// (rows K_p..n, about twice the blob) must be written out. A store that sends the slivers
// from where they are, gathering the columns as it sends them, touches about half the
// memory Encode fills, and copies the blob twice less: on the virtual machines the devnet
// benchmarks run on, fresh memory costs more than the encoding itself.

// leanLayout is where EncodeLean's memory holds what it keeps, in bytes: the bottom primary
// slivers (rows K_p..n, each K_s symbols), then the right block (rows 0..K_p of the
// secondary-code recovery symbols, columns K_s..n, row by row), then the message rows
// full..K_p that the blob holds only in part, zero padded.
type leanLayout struct {
	bottom, right, tail int
	full                int // rows of the message the blob holds whole
}

func (l leanLayout) size() int { return l.bottom + l.right + l.tail }

// leanLayout returns the layout of a lean encoding with symbol size s of a blob of size bytes.
func (p Params) leanLayout(s int, size int64) leanLayout {
	n, kp, ks := p.NShards, p.PrimarySource, p.SecondarySource
	rowLen := ks * s
	full := min(int(size/int64(rowLen)), kp)
	return leanLayout{bottom: (n - kp) * rowLen, right: kp * (n - ks) * s, tail: (kp - full) * rowLen, full: full}
}

// LeanMemory returns how many bytes EncodeLean needs for a blob of size bytes: what it needs
// to reuse memory.
func (e *Encoder) LeanMemory(size uint64) (int, error) {
	s, err := e.p.SymbolSize(size)
	if err != nil {
		return 0, err
	}
	return e.p.leanLayout(s, int64(size)).size(), nil
}

// LeanEncoding is an encoded blob whose slivers are where EncodeLean left them: in the blob
// (which must not change while the encoding is used) or in its memory. Piece returns them.
type LeanEncoding struct {
	Commitment
	p    Params
	data []byte
	// primary[i] is primary sliver i; right, tail and full are expansion's.
	primary     [][]byte
	right, tail []byte
	full        int
	mem         []byte
}

// EncodeLean encodes data like Encode, but keeps only the slivers' bytes that data does not
// hold (see LeanEncoding), in mem if it can hold them (see LeanMemory; mem's contents are
// overwritten and the encoding aliases it), else in new memory. The encoding also aliases
// data: neither may change while it is used.
func (e *Encoder) EncodeLean(data, mem []byte) (*LeanEncoding, error) {
	x, err := e.expand(memorySource(data), keepLean, mem, nil, false)
	if err != nil {
		return nil, err
	}
	c := e.commitment(x, uint64(len(data)))
	return &LeanEncoding{Commitment: *c, p: e.p, data: data, primary: x.primary, right: x.right, tail: x.tail, full: x.full, mem: x.mem}, nil
}

// Memory returns the memory of the encoding (what LeanMemory counts), for a later
// EncodeLean to reuse once the encoding is not used any more.
func (l *LeanEncoding) Memory() []byte { return l.mem }

// Piece is Count runs of Run bytes, Stride bytes apart, from the start of B: a part of a
// sliver where the encoding holds it (a column of the blob, say).
type Piece struct {
	B                  []byte
	Run, Stride, Count int
}

// Len returns the piece's length.
func (pc Piece) Len() int { return pc.Run * pc.Count }

// Sliver appends the pieces of sliver index of axis a, in order, to dst: one or two.
func (l *LeanEncoding) Sliver(dst []Piece, a Axis, index int) []Piece {
	n, kp, ks := l.p.NShards, l.p.PrimarySource, l.p.SecondarySource
	s := l.SymbolSize
	if a == Primary {
		b := l.primary[index]
		return append(dst, Piece{B: b, Run: len(b), Stride: len(b), Count: 1})
	}
	rowLen := ks * s
	if index >= ks {
		stride := (n - ks) * s
		off := (index - ks) * s
		return append(dst, Piece{B: l.right[off:], Run: s, Stride: stride, Count: kp})
	}
	off := index * s
	if l.full > 0 {
		dst = append(dst, Piece{B: l.data[off:], Run: s, Stride: rowLen, Count: l.full})
	}
	if l.full < kp {
		dst = append(dst, Piece{B: l.tail[off:], Run: s, Stride: rowLen, Count: kp - l.full})
	}
	return dst
}

// AppendSliver appends the bytes of sliver index of axis a to dst.
func (l *LeanEncoding) AppendSliver(dst []byte, a Axis, index int) []byte {
	var pieces [2]Piece
	for _, pc := range l.Sliver(pieces[:0], a, index) {
		for i := range pc.Count {
			dst = append(dst, pc.B[i*pc.Stride:i*pc.Stride+pc.Run]...)
		}
	}
	return dst
}
