package redstuff

import (
	"fmt"
	"runtime"
	"sync"

	"github.com/floelabs/floe/internal/hugemem"
	"github.com/floelabs/floe/internal/merkle"
	"github.com/floelabs/floe/internal/rs16"
)

// checkSliverShape validates a sliver's index, symbol size and length for symbol size s.
func (e *Encoder) checkSliverShape(sl Sliver, s int) error {
	if sl.Axis != Primary && sl.Axis != Secondary {
		return fmt.Errorf("%w: unknown axis %d", ErrInvalidSliver, sl.Axis)
	}
	if sl.Index < 0 || sl.Index >= e.p.NShards {
		return fmt.Errorf("%w: %s sliver index %d out of range [0, %d)", ErrInvalidSliver, sl.Axis, sl.Index, e.p.NShards)
	}
	if sl.SymbolSize != s {
		return fmt.Errorf("%w: symbol size %d, want %d", ErrInvalidSliver, sl.SymbolSize, s)
	}
	if want := e.p.SliverLen(sl.Axis, s); len(sl.Data) != want {
		return fmt.Errorf("%w: %s sliver of %d bytes, want %d", ErrInvalidSliver, sl.Axis, len(sl.Data), want)
	}
	return nil
}

func checkSymbolSize(s int) error {
	if s <= 0 || s%SymbolAlignment != 0 || s > MaxSymbolSize {
		return fmt.Errorf("%w: %d", ErrSymbolSize, s)
	}
	return nil
}

// sliverScratch is what expanding one sliver needs besides its data: the encoding area and
// the per-symbol tables. Nodes verify thousands of slivers of the same shape per blob, so the
// scratch is pooled (per axis and symbol size) and a verification allocates nothing.
type sliverScratch struct {
	w      *rs16.EncodeWork
	leaves []merkle.Node // n leaf hashes
	orig   [][]byte      // k original symbols (alias the sliver's data; cleared on release)
	heads  [][]byte      // m recovery symbols' whole 64-byte blocks (alias w)
	tails  [][]byte      // m recovery symbols' joined tails (alias tailBuf), nil entries without tails
	tail   []byte        // m tails of s mod 64 bytes
}

// scratchKey identifies a pool of sliver scratch.
type scratchKey struct {
	axis Axis
	size int // symbol size
}

// scratch returns expansion scratch for slivers of axis a with symbols of s bytes, reusing
// pooled scratch when it can.
func (e *Encoder) scratch(a Axis, s int) (*sliverScratch, error) {
	if p, ok := e.works.Load(scratchKey{a, s}); ok {
		if sc, ok := p.(*sync.Pool).Get().(*sliverScratch); ok {
			return sc, nil
		}
	}
	code := e.code(a)
	k, m := code.K(), code.M()
	// The expansion area is the scratch's bulk (about a sliver's n symbols), walked for every
	// sliver verified: it is mapped with huge pages where the system has them (a storage
	// node verifying a blob's slivers shares the CPUs with other processes; see
	// internal/hugemem), and unmapped once the pool drops the scratch.
	size := rs16.WorkSize(s)
	var whole []byte
	var w *rs16.EncodeWork
	var err error
	if need := code.EncodeWorkBytes(size); need >= hugemem.MinSize {
		var buf []byte
		if buf, whole = hugemem.Map(need); buf != nil {
			if w, err = code.NewEncodeWorkIn(size, buf); err != nil {
				hugemem.Unmap(whole)
				return nil, err
			}
		}
	}
	if w == nil {
		if w, err = code.NewEncodeWork(size); err != nil {
			return nil, err
		}
	}
	sc := &sliverScratch{
		w:      w,
		leaves: make([]merkle.Node, k+m),
		orig:   make([][]byte, k),
		heads:  make([][]byte, m),
		tails:  make([][]byte, m),
	}
	if whole != nil {
		runtime.AddCleanup(sc, hugemem.Unmap, whole)
	}
	full := s &^ 63
	if t := s - full; t > 0 {
		sc.tail = make([]byte, m*t)
		for r := range m {
			sc.tails[r] = sc.tail[r*t : (r+1)*t : (r+1)*t]
		}
	}
	for r := range m {
		sc.heads[r] = w.Recovery(r)[:full:full]
	}
	return sc, nil
}

// release gives scratch of axis a and symbol size s back to the pool; the caller must not use
// it (nor its leaves) afterwards.
func (e *Encoder) release(a Axis, s int, sc *sliverScratch) {
	clear(sc.orig) // do not keep the caller's data alive
	key := scratchKey{a, s}
	p, ok := e.works.Load(key)
	if !ok {
		p, _ = e.works.LoadOrStore(key, new(sync.Pool))
	}
	p.(*sync.Pool).Put(sc)
}

// expandSliver expands a sliver's symbols with the code of its axis into all n symbols of its
// row or column and computes their leaf hashes into sc.leaves. With rawSymbols it also returns
// the n raw symbols (the first ones alias data); without, it hashes the recovery symbols in
// the encoding area, in place, and returns nil.
//
// The encoding takes the originals and gives the recovery symbols a group (64) at a time
// (rs16.EncodeWork.EncodeFunc), so that the symbols are copied, transformed and hashed while
// they are in the core's caches: the sliver is read from memory once, and the first and last
// transform layers run on a group just copied or about to be hashed. (Copied all at once,
// encoded, then hashed, a sliver was read twice, and the encoding area passed through the
// caches more often, which cost most where other processes share the core and evict it
// between passes, as a storage node's do.)
func (e *Encoder) expandSliver(a Axis, data []byte, s int, rawSymbols bool, sc *sliverScratch) [][]byte {
	code := e.code(a)
	k, m := code.K(), code.M()
	w := sc.w
	leaves, orig := sc.leaves, sc.orig
	for i := 0; i < k; i++ {
		orig[i] = data[i*s : (i+1)*s : (i+1)*s]
	}
	fill := func(lo, hi int) {
		for i := lo; i < hi; i++ {
			rs16.ToWork(w.Original(i), orig[i], s)
		}
		merkle.LeafMany(leaves[lo:hi], orig[lo:hi])
	}
	if rawSymbols {
		n := k + m
		syms := make([][]byte, n)
		copy(syms, orig)
		rec := make([]byte, m*s)
		w.EncodeFunc(fill, func(lo, hi int) {
			for r := lo; r < hi; r++ {
				sym := rec[r*s : (r+1)*s]
				rs16.FromWork(sym, w.Recovery(r), s)
				syms[k+r] = sym
			}
			merkle.LeafMany(leaves[k+lo:k+hi], syms[k+lo:k+hi])
		})
		return syms
	}
	// Hash the recovery symbols in place: their whole 64-byte blocks are already raw bytes
	// (sc.heads); only a tail of t = s mod 64 bytes needs its two halves joined.
	full := s &^ 63
	t := s - full
	h := t / 2
	w.EncodeFunc(fill, func(lo, hi int) {
		if t == 0 {
			merkle.LeafMany(leaves[k+lo:k+hi], sc.heads[lo:hi])
			return
		}
		for r := lo; r < hi; r++ {
			sym := w.Recovery(r)
			tail := sc.tails[r]
			copy(tail[:h], sym[full:full+h])
			copy(tail[h:], sym[full+32:full+32+h])
		}
		merkle.LeafPartsMany(leaves[k+lo:k+hi], sc.heads[lo:hi], sc.tails[lo:hi])
	})
	return nil
}

// expandedRoot returns the Merkle root over the expansion of a sliver's data.
func (e *Encoder) expandedRoot(a Axis, data []byte, s int) (Node, error) {
	sc, err := e.scratch(a, s)
	if err != nil {
		return Node{}, err
	}
	defer e.release(a, s, sc)
	e.expandSliver(a, data, s, false, sc)
	return merkle.RootInPlace(sc.leaves), nil
}

// SliverHash returns the Merkle root over the expansion of the sliver.
func (e *Encoder) SliverHash(sl Sliver) (Node, error) {
	if err := checkSymbolSize(sl.SymbolSize); err != nil {
		return Node{}, err
	}
	if err := e.checkSliverShape(sl, sl.SymbolSize); err != nil {
		return Node{}, err
	}
	return e.expandedRoot(sl.Axis, sl.Data, sl.SymbolSize)
}

// VerifySliver checks a sliver's index, length and symbol size (for a blob of the given
// symbol size) and that its hash equals the one committed for its pair.
func (e *Encoder) VerifySliver(sl Sliver, symbolSize int, hashes []PairHashes) error {
	if len(hashes) != e.p.NShards {
		return fmt.Errorf("%w: %d, want %d", ErrHashCount, len(hashes), e.p.NShards)
	}
	if err := checkSymbolSize(symbolSize); err != nil {
		return err
	}
	if err := e.checkSliverShape(sl, symbolSize); err != nil {
		return err
	}
	h, err := e.SliverHash(sl)
	if err != nil {
		return err
	}
	if want := hashes[e.p.PairIndex(sl.Axis, sl.Index)].Hash(sl.Axis); h != want {
		return fmt.Errorf("%w: %s sliver %d does not match its hash", ErrInvalidSliver, sl.Axis, sl.Index)
	}
	return nil
}

// RecoverySymbols returns, for each target index, the recovery symbol that source contributes
// to rebuilding sliver target of the other axis: element target of source's expansion, with
// its Merkle proof against source's hash.
func (e *Encoder) RecoverySymbols(source Sliver, targets []int) ([]RecoverySymbol, error) {
	if err := checkSymbolSize(source.SymbolSize); err != nil {
		return nil, err
	}
	if err := e.checkSliverShape(source, source.SymbolSize); err != nil {
		return nil, err
	}
	sc, err := e.scratch(source.Axis, source.SymbolSize)
	if err != nil {
		return nil, err
	}
	syms := e.expandSliver(source.Axis, source.Data, source.SymbolSize, true, sc)
	tree := merkle.NewTree(sc.leaves) // copies the leaves
	e.release(source.Axis, source.SymbolSize, sc)
	out := make([]RecoverySymbol, 0, len(targets))
	for _, t := range targets {
		if t < 0 || t >= e.p.NShards {
			return nil, fmt.Errorf("%w: target index %d out of range", ErrInvalidSymbol, t)
		}
		proof, err := tree.Proof(t)
		if err != nil {
			return nil, err
		}
		out = append(out, RecoverySymbol{
			Target:      source.Axis.Other(),
			SourceIndex: source.Index,
			TargetIndex: t,
			Data:        append([]byte(nil), syms[t]...),
			Proof:       proof,
		})
	}
	return out, nil
}

// VerifyRecoverySymbol checks a recovery symbol's axis, indices, size and Merkle proof against
// the hash of the sliver it was taken from.
func (e *Encoder) VerifyRecoverySymbol(sym RecoverySymbol, symbolSize int, hashes []PairHashes) error {
	n := e.p.NShards
	if len(hashes) != n {
		return fmt.Errorf("%w: %d, want %d", ErrHashCount, len(hashes), n)
	}
	if sym.Target != Primary && sym.Target != Secondary {
		return fmt.Errorf("%w: unknown axis %d", ErrInvalidSymbol, sym.Target)
	}
	if sym.SourceIndex < 0 || sym.SourceIndex >= n || sym.TargetIndex < 0 || sym.TargetIndex >= n {
		return fmt.Errorf("%w: indices %d, %d out of range [0, %d)", ErrInvalidSymbol, sym.SourceIndex, sym.TargetIndex, n)
	}
	if len(sym.Data) != symbolSize {
		return fmt.Errorf("%w: %d bytes, want %d", ErrInvalidSymbol, len(sym.Data), symbolSize)
	}
	src := sym.Target.Other()
	root := hashes[e.p.PairIndex(src, sym.SourceIndex)].Hash(src)
	if err := sym.Proof.Verify(root, sym.TargetIndex, n, sym.Data); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidSymbol, err)
	}
	return nil
}

// RecoverSliver rebuilds sliver index of axis target from recovery symbols. Symbols that fail
// verification, target another sliver or repeat a source are skipped; the first K valid ones
// are used (K = the sliver's symbol count). If the rebuilt sliver does not match its hash, it
// returns an InconsistencyProof built from those K symbols, and ErrInconsistent.
func (e *Encoder) RecoverSliver(target Axis, index, symbolSize int, symbols []RecoverySymbol, hashes []PairHashes) (Sliver, *InconsistencyProof, error) {
	n := e.p.NShards
	if err := checkSymbolSize(symbolSize); err != nil {
		return Sliver{}, nil, err
	}
	if len(hashes) != n {
		return Sliver{}, nil, fmt.Errorf("%w: %d, want %d", ErrHashCount, len(hashes), n)
	}
	if index < 0 || index >= n || (target != Primary && target != Secondary) {
		return Sliver{}, nil, fmt.Errorf("%w: %s sliver %d", ErrInvalidSliver, target, index)
	}
	k := e.p.SymbolCount(target)
	seen := make(map[int]bool, k)
	used := make([]RecoverySymbol, 0, k)
	for _, sym := range symbols {
		if len(used) == k {
			break
		}
		if sym.Target != target || sym.TargetIndex != index || seen[sym.SourceIndex] {
			continue
		}
		if e.VerifyRecoverySymbol(sym, symbolSize, hashes) != nil {
			continue
		}
		seen[sym.SourceIndex] = true
		used = append(used, sym)
	}
	if len(used) < k {
		return Sliver{}, nil, fmt.Errorf("%w: %d valid, need %d", ErrNotEnoughSymbols, len(used), k)
	}
	sl, err := e.decodeSliver(target, index, symbolSize, used)
	if err != nil {
		return Sliver{}, nil, err
	}
	h, err := e.SliverHash(sl)
	if err != nil {
		return Sliver{}, nil, err
	}
	if h != hashes[e.p.PairIndex(target, index)].Hash(target) {
		proof := &InconsistencyProof{Target: target, TargetIndex: index, Symbols: used}
		return Sliver{}, proof, fmt.Errorf("%w: rebuilt %s sliver %d does not match its hash", ErrInconsistent, target, index)
	}
	return sl, nil, nil
}

// decodeSliver decodes sliver index of axis target from exactly K symbols with distinct
// sources; the symbols' source indices are their code positions.
func (e *Encoder) decodeSliver(target Axis, index, s int, syms []RecoverySymbol) (Sliver, error) {
	code := e.code(target)
	k, n := code.K(), code.K()+code.M()
	ws := rs16.WorkSize(s)
	shards := make([][]byte, n)
	present := make([]bool, n)
	buf := make([]byte, (k+len(syms))*ws)
	for i := 0; i < k; i++ {
		shards[i] = buf[i*ws : (i+1)*ws]
	}
	extra := k
	for _, sym := range syms {
		pos := sym.SourceIndex
		if shards[pos] == nil {
			shards[pos] = buf[extra*ws : (extra+1)*ws]
			extra++
		}
		rs16.ToWork(shards[pos], sym.Data, s)
		present[pos] = true
	}
	if err := code.Decode(shards, present); err != nil {
		return Sliver{}, fmt.Errorf("redstuff: decoding %s sliver %d: %w", target, index, err)
	}
	data := make([]byte, k*s)
	for i := 0; i < k; i++ {
		rs16.FromWork(data[i*s:(i+1)*s], shards[i], s)
	}
	return Sliver{Axis: target, Index: index, SymbolSize: s, Data: data}, nil
}

// VerifyInconsistencyProof checks an inconsistency proof against the pair hashes alone: it
// must hold exactly K valid symbols from distinct sources for its target, and the sliver they
// decode to must differ from the committed hash.
func (e *Encoder) VerifyInconsistencyProof(proof *InconsistencyProof, symbolSize int, hashes []PairHashes) error {
	if proof == nil {
		return fmt.Errorf("%w: no proof", ErrInvalidProof)
	}
	n := e.p.NShards
	if err := checkSymbolSize(symbolSize); err != nil {
		return err
	}
	if len(hashes) != n {
		return fmt.Errorf("%w: %d, want %d", ErrHashCount, len(hashes), n)
	}
	if proof.Target != Primary && proof.Target != Secondary || proof.TargetIndex < 0 || proof.TargetIndex >= n {
		return fmt.Errorf("%w: bad target %s %d", ErrInvalidProof, proof.Target, proof.TargetIndex)
	}
	k := e.p.SymbolCount(proof.Target)
	if len(proof.Symbols) != k {
		return fmt.Errorf("%w: %d symbols, want exactly %d", ErrInvalidProof, len(proof.Symbols), k)
	}
	seen := make(map[int]bool, k)
	for i, sym := range proof.Symbols {
		if sym.Target != proof.Target || sym.TargetIndex != proof.TargetIndex {
			return fmt.Errorf("%w: symbol %d targets %s %d", ErrInvalidProof, i, sym.Target, sym.TargetIndex)
		}
		if seen[sym.SourceIndex] {
			return fmt.Errorf("%w: duplicate source %d", ErrInvalidProof, sym.SourceIndex)
		}
		seen[sym.SourceIndex] = true
		if err := e.VerifyRecoverySymbol(sym, symbolSize, hashes); err != nil {
			return fmt.Errorf("%w: symbol %d: %w", ErrInvalidProof, i, err)
		}
	}
	sl, err := e.decodeSliver(proof.Target, proof.TargetIndex, symbolSize, proof.Symbols)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidProof, err)
	}
	h, err := e.SliverHash(sl)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidProof, err)
	}
	if h == hashes[e.p.PairIndex(proof.Target, proof.TargetIndex)].Hash(proof.Target) {
		return fmt.Errorf("%w: the symbols decode to the committed sliver", ErrInvalidProof)
	}
	return nil
}
