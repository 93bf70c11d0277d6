package nodestore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"golang.org/x/sys/unix"

	"github.com/floelabs/floe/internal/uring"
)

// Extents: the slivers of a large batch (an upload chunk) are written once, to an extent file
// of their own, instead of twice through Pebble (its write-ahead log, then a blob file at the
// memtable's flush). Storing 256 MiB on the default devnet spent about a third of the nodes'
// CPU on those two writes and their copies.
//
// Commit writes the batch's large slivers to a new file extents/<id>.ext (back to back, or
// each at a multiple of 4 KiB when written with direct I/O, see direct_linux.go), syncs it
// and the directory, then commits the Pebble batch in which each such sliver's record is an
// extent reference (extentRefLen bytes: extentMagic, the file id, offset and length of the
// sliver's bytes and their CRC-32C) instead of the bytes. A crash before the Pebble commit
// leaves a file nothing references; sweepExtents deletes such files, and files whose every
// reference was deleted or overwritten, at Open and after the store deletes slivers
// (CollectGarbage, DropShard, Scrub's quarantine). A file is kept whole while any of its
// slivers is referenced.
//
// An extent reference can never be a stored SliverData: its first five bytes (0xff) are a
// uleb128 length longer than any u32, which the SliverData decoder refuses and which
// PutSliverData therefore never stores.

const (
	// extentMagic starts every extent reference.
	extentMagic = "\xff\xff\xff\xff\xffext"
	// extentRefLen is the length of an extent reference record.
	extentRefLen = len(extentMagic) + 8 + 8 + 4 + 4
	// extentMinSliver is the size from which a sliver of a batch goes to an extent.
	extentMinSliver = 64 << 10
	// DefaultExtentThreshold is Options.ExtentThreshold's default.
	DefaultExtentThreshold = 1 << 20
	extentDir              = "extents"
	extentSuffix           = ".ext"
)

// extentRef locates a sliver's bytes in an extent file.
type extentRef struct {
	file   uint64
	off    uint64
	length uint32
	crc    uint32
}

func (r extentRef) encode() []byte {
	v := make([]byte, 0, extentRefLen)
	v = append(v, extentMagic...)
	v = binary.BigEndian.AppendUint64(v, r.file)
	v = binary.BigEndian.AppendUint64(v, r.off)
	v = binary.BigEndian.AppendUint32(v, r.length)
	return binary.BigEndian.AppendUint32(v, r.crc)
}

// parseExtentRef decodes v if it is an extent reference.
func parseExtentRef(v []byte) (extentRef, bool) {
	if len(v) != extentRefLen || !bytes.HasPrefix(v, []byte(extentMagic)) {
		return extentRef{}, false
	}
	v = v[len(extentMagic):]
	return extentRef{
		file:   binary.BigEndian.Uint64(v),
		off:    binary.BigEndian.Uint64(v[8:]),
		length: binary.BigEndian.Uint32(v[16:]),
		crc:    binary.BigEndian.Uint32(v[20:]),
	}, true
}

// extentWrite is a sliver a batch will write to an extent, unless the batch is small.
type extentWrite struct {
	key, data []byte
	sum       uint32 // SliverSum(data), if summed
	summed    bool
}

// extents manages a store's extent files.
type extents struct {
	fs  vfs.FS
	dir string
	// threshold is the batch size (bytes of large slivers) from which Commit writes an
	// extent; < 0: never.
	threshold int

	// direct: write extent files with direct I/O (the operating system's file system, until
	// it refuses).
	direct atomic.Bool
	dw     directWriter
	// dir of the operating system's file system, open while the store is, for dw to sync
	// with each file it writes through its ring.
	dirFile *os.File

	mu       sync.Mutex
	next     uint64              // the next file id
	inflight map[uint64]struct{} // files written whose batch is not committed yet
	// sizes holds the size of each extent file on disk (stated once at Open, then known from
	// what write wrote and sweepExtents removed) and total their sum, which size returns: a
	// node's disk-usage gauge used to stat every file at each Prometheus scrape, some
	// thousands of blocking system calls a minute per node after a few stores (each of which
	// also woke the Go runtime's monitor thread of an idle node), and more with every file.
	sizes map[uint64]int64
	total int64
}

// openExtents opens the extents of the store in dbDir; ring, if not nil, is the store's ring,
// through which extent files on the operating system's file system are written and synced.
func openExtents(fs vfs.FS, dbDir string, threshold int, ring *uring.Ring) (*extents, error) {
	if threshold == 0 {
		threshold = DefaultExtentThreshold
	}
	x := &extents{fs: fs, dir: fs.PathJoin(dbDir, extentDir), threshold: threshold, next: 1, inflight: map[uint64]struct{}{},
		sizes: map[uint64]int64{}}
	x.direct.Store(fs == vfs.Default)
	if err := fs.MkdirAll(x.dir, 0o755); err != nil {
		return nil, fmt.Errorf("extents: %w", err)
	}
	// The directory's own entry must be durable before any file in it is.
	if err := syncDir(fs, dbDir); err != nil {
		return nil, err
	}
	ids, err := x.list()
	if err != nil {
		return nil, err
	}
	if len(ids) > 0 {
		x.next = slices.Max(ids) + 1
	}
	for _, id := range ids {
		st, err := fs.Stat(x.path(id))
		if err != nil {
			return nil, fmt.Errorf("extents: %w", err)
		}
		x.added(id, st.Size())
	}
	x.dw.dirFd = -1
	if ring != nil && x.direct.Load() {
		d, err := os.Open(x.dir)
		if err != nil {
			return nil, fmt.Errorf("extents: %w", err)
		}
		x.dw.ring, x.dw.dirFd, x.dirFile = ring, int(d.Fd()), d
	}
	return x, nil
}

// close closes the directory that dw syncs through the ring.
func (x *extents) close() error {
	if x.dirFile == nil {
		return nil
	}
	err := x.dirFile.Close()
	x.dw.ring, x.dw.dirFd, x.dirFile = nil, -1, nil
	return err
}

func (x *extents) path(id uint64) string {
	return x.fs.PathJoin(x.dir, strconv.FormatUint(id, 10)+extentSuffix)
}

// list returns the ids of the extent files on disk.
func (x *extents) list() ([]uint64, error) {
	names, err := x.fs.List(x.dir)
	if err != nil {
		return nil, fmt.Errorf("extents: list: %w", err)
	}
	var ids []uint64
	for _, n := range names {
		stem, ok := strings.CutSuffix(n, extentSuffix)
		if !ok {
			continue
		}
		if id, err := strconv.ParseUint(stem, 10, 64); err == nil {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// write writes the slivers of ws to a new extent file, synced with its directory entry, and
// returns their references and the file's id, which stays in flight (safe from sweeps) until
// done is called with it.
func (x *extents) write(ws []extentWrite) (refs [][]byte, id uint64, err error) {
	x.mu.Lock()
	id = x.next
	x.next++
	x.inflight[id] = struct{}{}
	x.mu.Unlock()
	defer func() {
		if err != nil {
			_ = x.fs.Remove(x.path(id))
			x.done(id)
		}
	}()
	bufs := make([][]byte, len(ws))
	crcs := make([]uint32, len(ws))
	for i, w := range ws {
		bufs[i], crcs[i] = w.data, w.sum
		if !w.summed {
			crcs[i] = SliverSum(w.data)
		}
	}
	var (
		offs      []uint64
		dirSynced bool
	)
	err = errDirectUnsupported
	if x.direct.Load() {
		if offs, dirSynced, err = x.dw.write(x.path(id), bufs); errors.Is(err, errDirectUnsupported) {
			x.direct.Store(false)
		}
	}
	if errors.Is(err, errDirectUnsupported) {
		offs, err = x.writeBuffered(x.path(id), bufs)
	}
	if err != nil {
		return nil, id, err
	}
	for i, w := range ws {
		r := extentRef{file: id, off: offs[i], length: uint32(len(w.data)), crc: crcs[i]}
		refs = append(refs, r.encode())
	}
	if !dirSynced {
		if err := syncDir(x.fs, x.dir); err != nil {
			return nil, id, err
		}
	}
	size := int64(0)
	if k := len(ws); k > 0 {
		size = int64(offs[k-1]) + int64(len(ws[k-1].data)) // either way, the file ends with the last sliver
	}
	x.added(id, size)
	return refs, id, nil
}

// added counts file id, of size bytes, in the extents' disk usage.
func (x *extents) added(id uint64, size int64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.total += size - x.sizes[id]
	x.sizes[id] = size
}

// removed stops counting file id (deleted) in the extents' disk usage.
func (x *extents) removed(id uint64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.total -= x.sizes[id]
	delete(x.sizes, id)
}

// writeBuffered creates path and writes bufs back to back into it through x.fs, then syncs
// it; it returns the buffers' offsets.
func (x *extents) writeBuffered(path string, bufs [][]byte) ([]uint64, error) {
	f, err := x.fs.Create(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		return nil, fmt.Errorf("extents: create: %w", err)
	}
	offs := make([]uint64, len(bufs))
	var off uint64
	for i, b := range bufs {
		offs[i] = off
		off += uint64(len(b))
	}
	if err := writeAll(f, append([][]byte(nil), bufs...)); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("extents: write: %w", err)
	}
	if err := errors.Join(f.Sync(), f.Close()); err != nil {
		return nil, fmt.Errorf("extents: sync: %w", err)
	}
	return offs, nil
}

// errDirectUnsupported: the file system refuses direct I/O.
var errDirectUnsupported = errors.New("direct I/O not supported")

// writeAll writes bufs back to back to f: with writev(2) when f is an operating-system file
// (one system call per iovMax buffers rather than one per sliver: each blocking call of a
// goroutine hands its P to another thread and wakes the runtime's monitor, which cost the
// nodes more CPU than the calls themselves), else buffer by buffer.
func writeAll(f vfs.File, bufs [][]byte) error {
	fd := f.Fd()
	if fd == vfs.InvalidFd {
		for _, b := range bufs {
			if _, err := f.Write(b); err != nil {
				return err
			}
		}
		return nil
	}
	for len(bufs) > 0 {
		batch := bufs[:min(len(bufs), iovMax)]
		n, err := unix.Writev(int(fd), batch)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n <= 0 {
			return io.ErrShortWrite
		}
		// Drop what was written (a short write leaves part of a buffer).
		for n > 0 && len(bufs) > 0 {
			if n < len(bufs[0]) {
				bufs[0] = bufs[0][n:]
				n = 0
				break
			}
			n -= len(bufs[0])
			bufs = bufs[1:]
		}
		for len(bufs) > 0 && len(bufs[0]) == 0 {
			bufs = bufs[1:]
		}
	}
	return nil
}

// iovMax is the most buffers one writev(2) takes (IOV_MAX on Linux).
const iovMax = 1024

func syncDir(fs vfs.FS, dir string) error {
	d, err := fs.OpenDir(dir)
	if err != nil {
		return fmt.Errorf("extents: open dir: %w", err)
	}
	if err := errors.Join(d.Sync(), d.Close()); err != nil {
		return fmt.Errorf("extents: sync dir: %w", err)
	}
	return nil
}

// done ends file id's time in flight.
func (x *extents) done(id uint64) {
	x.mu.Lock()
	delete(x.inflight, id)
	x.mu.Unlock()
}

// read returns the bytes r references. Bytes that do not match their checksum are returned
// with an error wrapping ErrCorrupt; a missing file is an error wrapping os.ErrNotExist.
func (x *extents) read(r extentRef) ([]byte, error) {
	f, err := x.fs.Open(x.path(r.file))
	if err != nil {
		return nil, fmt.Errorf("extent %d: %w", r.file, err)
	}
	defer f.Close()
	buf := make([]byte, r.length)
	if n, err := f.ReadAt(buf, int64(r.off)); n < len(buf) {
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("%w: extent %d: %d bytes at %d: %w", ErrCorrupt, r.file, r.length, r.off, err)
	}
	if SliverSum(buf) != r.crc {
		return buf, fmt.Errorf("%w: extent %d: %d bytes at %d: checksum mismatch", ErrCorrupt, r.file, r.length, r.off)
	}
	return buf, nil
}

// size returns the bytes of every extent file.
func (x *extents) size() uint64 {
	x.mu.Lock()
	defer x.mu.Unlock()
	return uint64(x.total)
}

// resolve returns a stored sliver value's SliverData: v itself, or the bytes of the extent it
// references. A missing extent file is reported as corruption.
func (s *Store) resolve(v []byte) ([]byte, error) {
	r, ok := parseExtentRef(v)
	if !ok {
		return v, nil
	}
	data, err := s.ext.read(r)
	if errors.Is(err, os.ErrNotExist) {
		err = fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return data, err
}

// getSliver returns the SliverData stored under key. A reference to an extent file that a
// sweep removed after the record was read (the sliver was deleted meanwhile) reads again.
func (s *Store) getSliver(key []byte) ([]byte, error) {
	for try := 0; ; try++ {
		v, err := s.get(key)
		if err != nil {
			return nil, err
		}
		data, err := s.resolve(v)
		if err == nil || try > 0 || !errors.Is(err, os.ErrNotExist) {
			return data, err
		}
	}
}

// sweepExtents deletes the extent files that no sliver record references and that are not in
// flight; it returns how many it deleted.
func (s *Store) sweepExtents() (int, error) {
	// Listing first, then the in-flight set, then the records' snapshot: a listed file not in
	// flight either was committed before the snapshot or never will be.
	ids, err := s.ext.list()
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	candidates := map[uint64]bool{}
	s.ext.mu.Lock()
	for _, id := range ids {
		if _, ok := s.ext.inflight[id]; !ok {
			candidates[id] = true
		}
	}
	s.ext.mu.Unlock()
	if len(candidates) == 0 {
		return 0, nil
	}
	lower, upper := prefixRange(prefixSliver)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return 0, err
	}
	for ok := it.First(); ok && len(candidates) > 0; ok = it.Next() {
		if lv := it.LazyValue(); lv.Len() != extentRefLen {
			continue // an inline sliver: not read
		}
		v, err := it.ValueAndErr()
		if err != nil {
			_ = it.Close()
			return 0, err
		}
		if r, ok := parseExtentRef(v); ok {
			delete(candidates, r.file)
		}
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return 0, err
	}
	n := 0
	for id := range candidates {
		if err := s.ext.fs.Remove(s.ext.path(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return n, fmt.Errorf("extents: remove %d: %w", id, err)
		}
		s.ext.removed(id)
		n++
	}
	return n, nil
}

// sweepAfterDelete sweeps after the store deleted slivers, logging rather than returning a
// failure: the deletion itself succeeded, and the next sweep retries.
func (s *Store) sweepAfterDelete(what string) {
	n, err := s.sweepExtents()
	if err != nil {
		s.log.Warn("sweeping extent files", "after", what, "err", err)
		return
	}
	if n > 0 {
		s.log.Debug("extent files deleted", "after", what, "files", n)
	}
}
