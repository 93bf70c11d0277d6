package redstuff

import (
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/floelabs/floe/internal/rs16"
)

// decodeStripBytes is about how many work-layout bytes of each sliver DecodeRowsAt decodes
// at once: a strip costs about K_p times that per worker.
const decodeStripBytes = 32 << 10

// DecodeRowsAt rebuilds message rows (systematic primary slivers, indices below K_p) of a
// blob with symbol size s from any K_p primary slivers held outside memory: have maps a
// primary sliver index to a reader of its K_s*s bytes, dst maps each row to rebuild to the
// writer that receives its K_s*s bytes (at offsets 0..K_s*s). It decodes column strip by
// column strip, reading a few KiB of each of K_p slivers at a time, so its memory is about
// K_p*32 KiB per worker whatever the blob's size. The slivers are not verified here (verify
// them first); rows present in have are not written. Use CheckRowsAt for the consistency
// check of the rows it wrote.
func (e *Encoder) DecodeRowsAt(s int, have map[int]io.ReaderAt, dst map[int]io.WriterAt) error {
	p := e.p
	if err := checkSymbolSize(s); err != nil {
		return err
	}
	kp, ks := p.PrimarySource, p.SecondarySource
	var rows []int
	for r := range dst {
		if r < 0 || r >= kp {
			return fmt.Errorf("%w: row %d is not a systematic primary sliver (K_p = %d)", ErrInvalidSliver, r, kp)
		}
		if _, ok := have[r]; !ok {
			rows = append(rows, r)
		}
	}
	if len(rows) == 0 {
		return nil
	}
	slices.Sort(rows)
	var idx []int
	for i := range have {
		if i >= 0 && i < p.NShards {
			idx = append(idx, i)
		}
	}
	if len(idx) < kp {
		return fmt.Errorf("%w: %d primary (need %d)", ErrNotEnoughSlivers, len(idx), kp)
	}
	// K_p slivers, systematic ones first: each of them spares a decoded row.
	slices.Sort(idx)
	chosen := idx[:kp]
	code := e.colCode
	n := p.NShards
	ws := rs16.WorkSize(s)
	width := max(1, decodeStripBytes/ws)
	strips := (ks + width - 1) / width
	extra := 0
	for _, i := range chosen {
		if i >= kp {
			extra++
		}
	}
	type scratch struct {
		buf     []byte
		shards  [][]byte
		present []bool
		raw     []byte
	}
	scr := make([]*scratch, e.workers)
	errs := make([]error, strips)
	e.parallel(strips, func(w, si int) {
		c0 := si * width
		c1 := min(c0+width, ks)
		cw := c1 - c0
		sc := scr[w]
		if sc == nil {
			sc = &scratch{buf: make([]byte, (kp+extra)*width*ws), shards: make([][]byte, n), present: make([]bool, n), raw: make([]byte, width*s)}
			scr[w] = sc
		}
		shardLen := cw * ws
		clear(sc.shards)
		clear(sc.present)
		for i := 0; i < kp; i++ {
			sc.shards[i] = sc.buf[i*shardLen : (i+1)*shardLen]
		}
		next := kp
		raw := sc.raw[:cw*s]
		for _, i := range chosen {
			if sc.shards[i] == nil {
				sc.shards[i] = sc.buf[next*shardLen : (next+1)*shardLen]
				next++
			}
			if k, err := have[i].ReadAt(raw, int64(c0*s)); k < len(raw) {
				if err == nil || errors.Is(err, io.EOF) {
					err = io.ErrUnexpectedEOF
				}
				errs[si] = fmt.Errorf("%w: primary sliver %d, %d bytes at %d: %w", ErrBlobRead, i, len(raw), c0*s, err)
				return
			}
			rs16.ToWork(sc.shards[i], raw, s)
			sc.present[i] = true
		}
		if err := code.Decode(sc.shards, sc.present); err != nil {
			errs[si] = fmt.Errorf("redstuff: decoding from primary slivers: %w", err)
			return
		}
		for _, r := range rows {
			rs16.FromWork(raw, sc.shards[r], s)
			if _, err := dst[r].WriteAt(raw, int64(c0*s)); err != nil {
				errs[si] = fmt.Errorf("redstuff: writing row %d: %w", r, err)
				return
			}
		}
	})
	return errors.Join(errs...)
}

// CheckRowsAt is Walrus's default consistency check over rows held outside memory: each
// reader in rows holds the K_s*s bytes of a message row (systematic primary sliver) of a blob
// with symbol size s, rebuilt by a decode; its hash must equal the primary hash of its pair,
// else ErrInconsistent. It holds one row per worker at a time.
func (e *Encoder) CheckRowsAt(s int, rows map[int]io.ReaderAt, hashes []PairHashes) error {
	p := e.p
	if err := checkSymbolSize(s); err != nil {
		return err
	}
	if len(hashes) != p.NShards {
		return fmt.Errorf("%w: %d, want %d", ErrHashCount, len(hashes), p.NShards)
	}
	var idx []int
	for r := range rows {
		if r < 0 || r >= p.PrimarySource {
			return fmt.Errorf("%w: row %d is not a systematic primary sliver", ErrInvalidSliver, r)
		}
		idx = append(idx, r)
	}
	slices.Sort(idx)
	rowLen := p.PrimarySliverLen(s)
	bufs := make([][]byte, e.workers)
	errs := make([]error, len(idx))
	bad := make([]bool, len(idx))
	e.parallel(len(idx), func(w, j int) {
		if bufs[w] == nil {
			bufs[w] = make([]byte, rowLen)
		}
		buf := bufs[w]
		r := idx[j]
		if k, err := rows[r].ReadAt(buf, 0); k < rowLen {
			if err == nil || errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			errs[j] = fmt.Errorf("%w: row %d: %w", ErrBlobRead, r, err)
			return
		}
		root, err := e.expandedRoot(Primary, buf, s)
		if err != nil {
			errs[j] = err
			return
		}
		bad[j] = root != hashes[r].Primary
	})
	for j, r := range idx {
		if errs[j] != nil {
			return errs[j]
		}
		if bad[j] {
			return fmt.Errorf("%w: primary sliver %d rebuilt from the decoded blob does not match its hash", ErrInconsistent, r)
		}
	}
	return nil
}
