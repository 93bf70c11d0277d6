package redstuff

import (
	"fmt"

	"github.com/floelabs/floe/internal/rs16"
)

// Decode rebuilds a blob of the given length from slivers of one axis: any K_p distinct
// primary slivers or any K_s distinct secondary slivers (primary ones are used when both
// suffice). Slivers with a bad index, length or symbol size are dropped; duplicates are
// ignored. Slivers are not verified against hashes here (use VerifySliver first). If hashes
// is not nil, the default consistency check of Walrus runs: every systematic primary sliver
// that was not an input is rebuilt from the decoded blob and checked against its hash, and a
// mismatch returns ErrInconsistent.
func (e *Encoder) Decode(length uint64, slivers []Sliver, hashes []PairHashes) ([]byte, error) {
	p := e.p
	s, err := p.SymbolSize(length)
	if err != nil {
		return nil, err
	}
	if hashes != nil && len(hashes) != p.NShards {
		return nil, fmt.Errorf("%w: %d, want %d", ErrHashCount, len(hashes), p.NShards)
	}
	var byAxis [2]map[int][]byte
	for a := range byAxis {
		byAxis[a] = make(map[int][]byte)
	}
	for _, sl := range slivers {
		if e.checkSliverShape(sl, s) != nil {
			continue
		}
		if _, dup := byAxis[sl.Axis][sl.Index]; !dup {
			byAxis[sl.Axis][sl.Index] = sl.Data
		}
	}
	var data []byte
	var inputs map[int][]byte
	switch {
	case len(byAxis[Primary]) >= p.PrimarySource:
		inputs = byAxis[Primary]
		data, err = e.decodeAxis(Primary, inputs, s)
	case len(byAxis[Secondary]) >= p.SecondarySource:
		data, err = e.decodeAxis(Secondary, byAxis[Secondary], s)
	default:
		return nil, fmt.Errorf("%w: %d primary (need %d), %d secondary (need %d)", ErrNotEnoughSlivers,
			len(byAxis[Primary]), p.PrimarySource, len(byAxis[Secondary]), p.SecondarySource)
	}
	if err != nil {
		return nil, err
	}
	if hashes != nil {
		if err := e.checkConsistency(data, s, inputs, hashes); err != nil {
			return nil, err
		}
	}
	return data[:length], nil
}

// decodeAxis decodes the padded K_p x K_s message matrix (row-major) from slivers of axis a.
func (e *Encoder) decodeAxis(a Axis, slivers map[int][]byte, s int) ([]byte, error) {
	p := e.p
	// Primary slivers are rows: they are decoded column-wise with the primary (column) code,
	// secondary slivers with the secondary (row) code.
	code := e.code(a.Other())
	k, n := code.K(), p.NShards
	symbols := p.SymbolCount(a) // symbols per sliver
	ws := rs16.WorkSize(s)
	shardLen := symbols * ws
	rowLen := p.SecondarySource * s
	out := make([]byte, p.PrimarySource*rowLen)

	// Choose k slivers, systematic ones first.
	chosen := make([]int, 0, k)
	for i := 0; i < n && len(chosen) < k; i++ {
		if _, ok := slivers[i]; ok {
			chosen = append(chosen, i)
		}
	}
	allSystematic := chosen[len(chosen)-1] < k
	place := func(i int, raw []byte) { // writes original i (a sliver of axis a) into out
		if a == Primary {
			copy(out[i*rowLen:(i+1)*rowLen], raw)
			return
		}
		for r := 0; r < p.PrimarySource; r++ {
			copy(out[r*rowLen+i*s:r*rowLen+(i+1)*s], raw[r*s:(r+1)*s])
		}
	}
	if allSystematic {
		for _, i := range chosen {
			place(i, slivers[i])
		}
		return out, nil
	}
	shards := make([][]byte, n)
	present := make([]bool, n)
	extra := 0
	for _, i := range chosen {
		if i >= k {
			extra++
		}
	}
	buf := make([]byte, (k+extra)*shardLen)
	for i := 0; i < k; i++ {
		shards[i] = buf[i*shardLen : (i+1)*shardLen]
	}
	next := k
	for _, i := range chosen {
		if shards[i] == nil {
			shards[i] = buf[next*shardLen : (next+1)*shardLen]
			next++
		}
		rs16.ToWork(shards[i], slivers[i], s)
		present[i] = true
	}
	if err := e.parallelDecode(code, shards, present, shardLen); err != nil {
		return nil, fmt.Errorf("redstuff: decoding from %s slivers: %w", a, err)
	}
	raw := make([]byte, symbols*s)
	for i := 0; i < k; i++ {
		if present[i] {
			place(i, slivers[i])
			continue
		}
		rs16.FromWork(raw, shards[i], s)
		place(i, raw)
	}
	return out, nil
}

// checkConsistency rebuilds every systematic primary sliver that was not an input (inputs
// holds primary slivers by index, or is nil) and compares its hash with the metadata.
func (e *Encoder) checkConsistency(data []byte, s int, inputs map[int][]byte, hashes []PairHashes) error {
	p := e.p
	rowLen := p.SecondarySource * s
	var rows []int
	for i := 0; i < p.PrimarySource; i++ {
		if _, ok := inputs[i]; !ok {
			rows = append(rows, i)
		}
	}
	bad := make([]bool, len(rows))
	errs := make([]error, len(rows))
	e.parallel(len(rows), func(_, j int) {
		i := rows[j]
		root, err := e.expandedRoot(Primary, data[i*rowLen:(i+1)*rowLen], s)
		if err != nil {
			errs[j] = err
			return
		}
		bad[j] = root != hashes[i].Primary
	})
	for j := range rows {
		if errs[j] != nil {
			return errs[j]
		}
		if bad[j] {
			return fmt.Errorf("%w: primary sliver %d rebuilt from the decoded blob does not match its hash", ErrInconsistent, rows[j])
		}
	}
	return nil
}

// parallelDecode runs code.Decode over byte ranges of the shards on all workers: the code is
// element-wise, so each range decodes on its own.
func (e *Encoder) parallelDecode(code *rs16.Code, shards [][]byte, present []bool, shardLen int) error {
	const minPart = 16 << 10
	parts := min(e.workers*4, max(1, shardLen/minPart))
	step := (shardLen/parts + 63) &^ 63
	parts = (shardLen + step - 1) / step
	errs := make([]error, parts)
	e.parallel(parts, func(_, i int) {
		lo, hi := i*step, min((i+1)*step, shardLen)
		sub := make([][]byte, len(shards))
		for j, sh := range shards {
			if sh != nil {
				sub[j] = sh[lo:hi]
			}
		}
		errs[i] = code.Decode(sub, present)
	})
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
