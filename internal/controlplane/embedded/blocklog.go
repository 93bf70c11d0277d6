package embedded

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/floelabs/floe/internal/controlplane"
)

// block is one record of the log.
type block struct {
	Height  uint64            `json:"height"`
	TimeMs  int64             `json:"time_ms"`
	Txs     [][]byte          `json:"txs"`
	AppHash controlplane.Hash `json:"app_hash"`
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// maxRecord bounds one record (a full block of maximal transactions, base64-encoded).
const maxRecord = 1 << 30

const (
	segPrefix = "blocks-"
	segSuffix = ".log"
)

// blockLog is the block log: segments blocks-<first height, 20 digits>.log, the last one open
// for appends. A new segment starts after each snapshot (rotate), and the segments the
// snapshot covers are deleted (dropBefore).
type blockLog struct {
	dir  string
	segs []uint64 // first heights, ascending
	f    *os.File
	next uint64 // the height the next append must have
}

func segName(dir string, first uint64) string {
	return filepath.Join(dir, fmt.Sprintf("%s%020d%s", segPrefix, first, segSuffix))
}

// listSegments returns the first heights of dir's segments, ascending.
func listSegments(dir string) ([]uint64, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("embedded: %w", err)
	}
	var out []uint64
	for _, e := range ents {
		n := e.Name()
		if !strings.HasPrefix(n, segPrefix) || !strings.HasSuffix(n, segSuffix) {
			continue
		}
		h, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(n, segPrefix), segSuffix), 10, 64)
		if err != nil {
			continue
		}
		out = append(out, h)
	}
	slices.Sort(out)
	return out, nil
}

// openBlockLog reads every complete record of dir's segments in order, calling apply for
// each, cuts a torn tail of the last segment, and opens it for appends. from is the height
// the log must hold blocks from (the snapshot's height + 1, or 1): a log that starts later has
// lost blocks.
func openBlockLog(dir string, from uint64, apply func(*block) error) (*blockLog, error) {
	segs, err := listSegments(dir)
	if err != nil {
		return nil, err
	}
	l := &blockLog{dir: dir, segs: segs, next: from}
	if len(segs) > 0 && segs[0] > from {
		return nil, fmt.Errorf("%w: the block log starts at height %d, the state needs blocks from %d (a snapshot is missing)", ErrCorrupt, segs[0], from)
	}
	expect := uint64(0) // the height the next record must have (0: any, before from)
	for i, first := range segs {
		last := i == len(segs)-1
		f, err := os.OpenFile(segName(dir, first), os.O_RDWR, 0o644)
		if err != nil {
			return nil, fmt.Errorf("embedded: %w", err)
		}
		off, err := readSegment(f, last, func(b *block) error {
			if expect != 0 && b.Height != expect {
				return fmt.Errorf("%w: block %d follows block %d", ErrCorrupt, b.Height, expect-1)
			}
			expect = b.Height + 1
			if b.Height < from {
				return nil // covered by the snapshot
			}
			if b.Height != l.next {
				return fmt.Errorf("%w: block %d where %d was expected", ErrCorrupt, b.Height, l.next)
			}
			l.next++
			return apply(b)
		})
		if err != nil {
			f.Close()
			return nil, err
		}
		if !last {
			f.Close()
			continue
		}
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			f.Close()
			return nil, fmt.Errorf("embedded: %w", err)
		}
		l.f = f
	}
	return l, nil
}

// readSegment calls apply for every complete record of f and returns the offset after the
// last. In the last segment a torn tail (a crash in the middle of an append, never
// acknowledged) is cut off; anywhere else, a bad record is corruption.
func readSegment(f *os.File, last bool, apply func(*block) error) (int64, error) {
	info, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("embedded: %w", err)
	}
	size := info.Size()
	var off int64
	var hdr [8]byte
	torn := func() (int64, error) {
		if !last {
			return 0, fmt.Errorf("%w: %s: bad record at offset %d of %d bytes", ErrCorrupt, f.Name(), off, size)
		}
		// Only the last record can be torn: everything before it was fsync'd before the next
		// append started.
		if err := f.Truncate(off); err != nil {
			return 0, fmt.Errorf("embedded: truncating torn tail: %w", err)
		}
		if err := f.Sync(); err != nil {
			return 0, fmt.Errorf("embedded: %w", err)
		}
		return off, nil
	}
	for off < size {
		if _, err := f.ReadAt(hdr[:], off); err != nil {
			return torn()
		}
		n := binary.LittleEndian.Uint32(hdr[:4])
		sum := binary.LittleEndian.Uint32(hdr[4:])
		if n > maxRecord {
			return torn()
		}
		payload := make([]byte, n)
		if _, err := f.ReadAt(payload, off+8); err != nil {
			return torn()
		}
		if crc32.Checksum(payload, castagnoli) != sum {
			if off+8+int64(n) < size {
				// Valid-looking data follows: this is not a torn append but corruption of a
				// record that was acknowledged. Refuse to drop it silently.
				return 0, fmt.Errorf("%w: checksum mismatch in the record at offset %d of %d bytes", ErrCorrupt, off, size)
			}
			return torn()
		}
		var b block
		if err := json.Unmarshal(payload, &b); err != nil {
			return 0, fmt.Errorf("%w: record at %d: %w", ErrCorrupt, off, err)
		}
		if err := apply(&b); err != nil {
			return 0, err
		}
		off += 8 + int64(n)
	}
	return off, nil
}

// Append writes one record and fsyncs it.
func (l *blockLog) Append(b *block) error {
	if b.Height != l.next {
		return fmt.Errorf("embedded: appending block %d, the log is at %d", b.Height, l.next)
	}
	if l.f == nil {
		if err := l.startSegment(); err != nil {
			return err
		}
	}
	payload, err := json.Marshal(b)
	if err != nil {
		return fmt.Errorf("embedded: encoding block: %w", err)
	}
	rec := make([]byte, 8, 8+len(payload))
	binary.LittleEndian.PutUint32(rec[:4], uint32(len(payload)))
	binary.LittleEndian.PutUint32(rec[4:], crc32.Checksum(payload, castagnoli))
	rec = append(rec, payload...)
	if _, err := l.f.Write(rec); err != nil {
		return fmt.Errorf("embedded: appending block %d: %w", b.Height, err)
	}
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("embedded: syncing block %d: %w", b.Height, err)
	}
	l.next++
	return nil
}

// startSegment creates the segment of the next height and opens it for appends.
func (l *blockLog) startSegment() error {
	f, err := os.OpenFile(segName(l.dir, l.next), os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("embedded: %w", err)
	}
	if err := syncDir(l.dir); err != nil {
		f.Close()
		return err
	}
	l.f = f
	l.segs = append(l.segs, l.next)
	return nil
}

// rotate closes the current segment and starts the next one, which exists (empty) from now
// on: its name records the height the log continues from even when every block before it is
// dropped.
func (l *blockLog) rotate() error {
	if l.f != nil {
		err := l.f.Close()
		l.f = nil
		if err != nil {
			return fmt.Errorf("embedded: %w", err)
		}
	}
	if n := len(l.segs); n > 0 && l.segs[n-1] == l.next {
		// The last segment is already the next height's (and empty): reopen it.
		f, err := os.OpenFile(segName(l.dir, l.next), os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("embedded: %w", err)
		}
		l.f = f
		return nil
	}
	return l.startSegment()
}

// dropBefore deletes the segments that hold only blocks below height (never the open one).
func (l *blockLog) dropBefore(height uint64) error {
	keep := 0
	for keep < len(l.segs) {
		nextFirst := l.next
		if keep+1 < len(l.segs) {
			nextFirst = l.segs[keep+1]
		}
		open := l.f != nil && keep == len(l.segs)-1
		if open || nextFirst > height {
			break
		}
		if err := os.Remove(segName(l.dir, l.segs[keep])); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("embedded: %w", err)
		}
		keep++
	}
	l.segs = l.segs[keep:]
	return nil
}

// size returns the bytes the segments take on disk.
func (l *blockLog) size() (int64, error) {
	var n int64
	for _, first := range l.segs {
		st, err := os.Stat(segName(l.dir, first))
		if err != nil {
			return 0, fmt.Errorf("embedded: %w", err)
		}
		n += st.Size()
	}
	return n, nil
}

func (l *blockLog) Close() error {
	if l.f == nil {
		return nil
	}
	if err := l.f.Close(); err != nil {
		return fmt.Errorf("embedded: %w", err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("embedded: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("embedded: syncing %s: %w", dir, err)
	}
	return nil
}
