// Package eventlog is a control-plane driver's event history on disk: a log of events
// numbered by their sequence numbers without gaps, kept in segments so that the oldest can be
// dropped, with the retained events in memory to serve followers. The embedded and the
// CometBFT drivers both use it.
//
// # Layout
//
// The log is a directory of segment files named events-<first sequence number, 20
// digits>.log. Each holds records
//
//	u32 LE payload length || u32 LE CRC-32C of the payload || payload (JSON array of the
//	events of one block, in sequence order)
//
// A segment is closed once it passes Options.SegmentBytes and a new one starts with the next
// record. Appends are not synced; Sync makes them durable, and a driver syncs before it
// writes a state snapshot, so the log always holds every retained event up to the snapshot.
// On Open, events at or after the snapshot's sequence number (which the driver re-derives by
// replaying its blocks) and a torn or corrupt tail are cut off.
//
// # Pruning
//
// Prune drops whole segments whose events all precede a sequence number; the driver calls it
// with the older of its last snapshot's sequence number and its retention window, so that the
// log stays bounded while every event a restart cannot re-derive, and the newest events, stay.
// Range asked for pruned events returns a *PrunedError naming the oldest retained one.
package eventlog

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

	cpapi "github.com/floelabs/floe/api/controlplane"
)

// ErrPruned is matched by a *PrunedError.
var ErrPruned = errors.New("eventlog: events pruned")

// ErrCorrupt: records that do not follow each other.
var ErrCorrupt = errors.New("eventlog: corrupt")

// PrunedError: the events asked for were pruned; Oldest is the oldest retained sequence
// number.
type PrunedError struct {
	From, Oldest uint64
}

func (e *PrunedError) Error() string {
	return fmt.Sprintf("eventlog: events from %d were pruned; the oldest retained is %d", e.From, e.Oldest)
}

// Is makes errors.Is(err, ErrPruned) true.
func (e *PrunedError) Is(target error) bool { return target == ErrPruned }

// Options configure a Log.
type Options struct {
	// SegmentBytes is the size after which a segment is closed and a new one started
	// (default 4 MiB).
	SegmentBytes int64
}

// DefaultSegmentBytes is the default of Options.SegmentBytes.
const DefaultSegmentBytes = 4 << 20

const (
	prefix = "events-"
	suffix = ".log"
	// maxRecord bounds one record.
	maxRecord = 1 << 30
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

type segment struct {
	first uint64
	path  string
}

// Log is an open event log. It is not safe for concurrent use: drivers hold their own lock.
type Log struct {
	dir  string
	opts Options
	segs []segment
	f    *os.File // the last segment, open for appends (nil: the next append starts one)
	size int64
	// mem holds the retained events: mem[i].Seq == first+i; next == first+len(mem).
	mem   []cpapi.Event
	first uint64
}

func segPath(dir string, first uint64) string {
	return filepath.Join(dir, fmt.Sprintf("%s%020d%s", prefix, first, suffix))
}

// Open opens (creating) the log in dir, keeping the events before keep: the driver's state
// has emitted exactly keep events, and re-derives those after its snapshot. If the log holds
// fewer (it was lost, or a crash cut it before a snapshot it should cover), it restarts empty at
// keep; Reset reports it.
func Open(dir string, keep uint64, o *Options) (*Log, error) {
	l := &Log{dir: dir}
	if o != nil {
		l.opts = *o
	}
	if l.opts.SegmentBytes <= 0 {
		l.opts.SegmentBytes = DefaultSegmentBytes
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("eventlog: %w", err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("eventlog: %w", err)
	}
	for _, e := range ents {
		name := e.Name()
		if !strings.HasPrefix(name, prefix) || !strings.HasSuffix(name, suffix) {
			continue
		}
		first, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(name, prefix), suffix), 10, 64)
		if err != nil {
			continue
		}
		l.segs = append(l.segs, segment{first: first, path: filepath.Join(dir, name)})
	}
	slices.SortFunc(l.segs, func(a, b segment) int { return cmpU64(a.first, b.first) })
	if len(l.segs) > 0 {
		l.first = l.segs[0].first
	}
	if err := l.load(keep); err != nil {
		return nil, err
	}
	if l.next() < keep || l.first > keep {
		// A gap: the events before keep cannot be served. Start again at keep.
		if err := l.removeAll(); err != nil {
			return nil, err
		}
		l.first, l.mem = keep, nil
	}
	return l, nil
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// load reads the segments in order, cutting the log at the first event at or after keep, at
// a torn or corrupt record, or at a segment that does not follow.
func (l *Log) load(keep uint64) error {
	for i := 0; i < len(l.segs); i++ {
		sg := l.segs[i]
		if sg.first != l.next() {
			// Does not follow (a gap, or the log was cut before): drop it and what follows.
			return l.cutFrom(i)
		}
		f, err := os.OpenFile(sg.path, os.O_RDWR, 0o644)
		if err != nil {
			return fmt.Errorf("eventlog: %w", err)
		}
		off, cut, err := l.readSegment(f, keep)
		if err != nil {
			f.Close()
			return err
		}
		if cut {
			if err := f.Truncate(off); err != nil {
				f.Close()
				return fmt.Errorf("eventlog: %w", err)
			}
			if off == 0 && i > 0 {
				f.Close()
				return l.cutFrom(i)
			}
			if _, err := f.Seek(off, io.SeekStart); err != nil {
				f.Close()
				return fmt.Errorf("eventlog: %w", err)
			}
			l.f, l.size = f, off
			return l.cutFrom(i + 1)
		}
		if i == len(l.segs)-1 {
			if _, err := f.Seek(off, io.SeekStart); err != nil {
				f.Close()
				return fmt.Errorf("eventlog: %w", err)
			}
			l.f, l.size = f, off
			if off >= l.opts.SegmentBytes {
				l.f = nil
				f.Close()
			}
			return nil
		}
		f.Close()
	}
	return nil
}

// readSegment reads f's records into mem; cut reports that the segment must be truncated at
// off (a torn, corrupt or non-following record, or one reaching keep).
func (l *Log) readSegment(f *os.File, keep uint64) (off int64, cut bool, err error) {
	var hdr [8]byte
	for {
		if _, err := f.ReadAt(hdr[:], off); err != nil {
			if errors.Is(err, io.EOF) {
				// A clean end, or a torn header (cut it).
				st, serr := f.Stat()
				if serr != nil {
					return 0, false, fmt.Errorf("eventlog: %w", serr)
				}
				return off, st.Size() != off, nil
			}
			return 0, false, fmt.Errorf("eventlog: %w", err)
		}
		n := binary.LittleEndian.Uint32(hdr[:4])
		if n > maxRecord {
			return off, true, nil
		}
		payload := make([]byte, n)
		if _, err := f.ReadAt(payload, off+8); err != nil {
			return off, true, nil
		}
		if crc32.Checksum(payload, crcTable) != binary.LittleEndian.Uint32(hdr[4:]) {
			return off, true, nil
		}
		var evs []cpapi.Event
		if err := json.Unmarshal(payload, &evs); err != nil || len(evs) == 0 || evs[0].Seq != l.next() {
			return off, true, nil
		}
		if evs[len(evs)-1].Seq >= keep {
			return off, true, nil
		}
		l.mem = append(l.mem, evs...)
		off += 8 + int64(n)
	}
}

// cutFrom deletes the segments from index i on.
func (l *Log) cutFrom(i int) error {
	for _, sg := range l.segs[i:] {
		if err := os.Remove(sg.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("eventlog: %w", err)
		}
	}
	l.segs = l.segs[:i]
	return syncDir(l.dir)
}

func (l *Log) removeAll() error {
	if l.f != nil {
		l.f.Close()
		l.f = nil
	}
	return l.cutFrom(0)
}

func (l *Log) next() uint64 { return l.first + uint64(len(l.mem)) }

// Next returns the sequence number of the next event to append.
func (l *Log) Next() uint64 { return l.next() }

// First returns the oldest retained sequence number (Next if none is retained).
func (l *Log) First() uint64 { return l.first }

// Append writes one block's events (not synced).
func (l *Log) Append(evs []cpapi.Event) error {
	if len(evs) == 0 {
		return nil
	}
	for i := range evs {
		if evs[i].Seq != l.next()+uint64(i) {
			return fmt.Errorf("%w: event %d appended after %d", ErrCorrupt, evs[i].Seq, l.next()+uint64(i)-1)
		}
	}
	payload, err := json.Marshal(evs)
	if err != nil {
		return fmt.Errorf("eventlog: %w", err)
	}
	if l.f == nil {
		path := segPath(l.dir, evs[0].Seq)
		f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
		if err != nil {
			return fmt.Errorf("eventlog: %w", err)
		}
		if err := syncDir(l.dir); err != nil {
			f.Close()
			return err
		}
		l.f, l.size = f, 0
		l.segs = append(l.segs, segment{first: evs[0].Seq, path: path})
	}
	rec := make([]byte, 8, 8+len(payload))
	binary.LittleEndian.PutUint32(rec[:4], uint32(len(payload)))
	binary.LittleEndian.PutUint32(rec[4:], crc32.Checksum(payload, crcTable))
	if _, err := l.f.Write(append(rec, payload...)); err != nil {
		return fmt.Errorf("eventlog: appending: %w", err)
	}
	l.size += int64(len(rec) + len(payload))
	l.mem = append(l.mem, evs...)
	if l.size >= l.opts.SegmentBytes {
		// Close the segment; the next append starts a new one.
		err := errors.Join(l.f.Sync(), l.f.Close())
		l.f = nil
		if err != nil {
			return fmt.Errorf("eventlog: closing a segment: %w", err)
		}
	}
	return nil
}

// Sync makes every appended event durable.
func (l *Log) Sync() error {
	if l.f == nil {
		return nil
	}
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("eventlog: %w", err)
	}
	return nil
}

// Prune drops the segments whose events all precede before (never the newest segment), and
// returns the oldest retained sequence number.
func (l *Log) Prune(before uint64) (uint64, error) {
	drop := 0
	for drop+1 < len(l.segs) && l.segs[drop+1].first <= before {
		drop++
	}
	if drop == 0 {
		return l.first, nil
	}
	for _, sg := range l.segs[:drop] {
		if err := os.Remove(sg.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return l.first, fmt.Errorf("eventlog: %w", err)
		}
	}
	newFirst := l.segs[drop].first
	l.segs = slices.Delete(l.segs, 0, drop)
	l.mem = slices.Clone(l.mem[newFirst-l.first:])
	l.first = newFirst
	return l.first, nil
}

// Range returns up to max events from sequence number from on (none if from is Next or
// later), or a *PrunedError if from is before the oldest retained event.
func (l *Log) Range(from uint64, max int) ([]cpapi.Event, error) {
	if from < l.first {
		return nil, &PrunedError{From: from, Oldest: l.first}
	}
	if from >= l.next() {
		return nil, nil
	}
	i := from - l.first
	end := min(uint64(len(l.mem)), i+uint64(max))
	return slices.Clone(l.mem[i:end]), nil
}

// Size returns the bytes the log's segments take on disk.
func (l *Log) Size() (int64, error) {
	var n int64
	for _, sg := range l.segs {
		st, err := os.Stat(sg.path)
		if err != nil {
			return 0, fmt.Errorf("eventlog: %w", err)
		}
		n += st.Size()
	}
	return n, nil
}

// Close syncs and closes the log.
func (l *Log) Close() error {
	if l.f == nil {
		return nil
	}
	err := errors.Join(l.f.Sync(), l.f.Close())
	l.f = nil
	if err != nil {
		return fmt.Errorf("eventlog: %w", err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("eventlog: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("eventlog: syncing %s: %w", dir, err)
	}
	return nil
}
