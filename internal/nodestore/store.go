package nodestore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/floelabs/floe/internal/uring"
)

// FormatVersion is the version of the key layout and record encodings this package writes and
// reads (see keys.go). Open refuses stores of any other version.
const FormatVersion uint32 = 1

// DefaultCacheSize is Pebble's block cache size when Options.CacheSize is zero.
const DefaultCacheSize = 64 << 20

// Sentinel errors. Every error the store returns wraps one of them or an I/O error.
var (
	// ErrNotFound: the record asked for is not stored.
	ErrNotFound = errors.New("nodestore: not found")
	// ErrFormatVersion: the directory holds a store of a format version this code does not
	// know, or something that is not a node store.
	ErrFormatVersion = errors.New("nodestore: unsupported store format")
	// ErrCorrupt: a stored record or key does not decode.
	ErrCorrupt = errors.New("nodestore: corrupt record")
	// ErrInvalid: an argument the store refuses to write (a malformed sliver, an unknown axis).
	ErrInvalid = errors.New("nodestore: invalid argument")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("nodestore: store is closed")
	// ErrFailed: Pebble hit a fatal error (such as a full disk or an I/O error on its log);
	// the store accepts nothing more until it is reopened.
	ErrFailed = errors.New("nodestore: store failed")
	// ErrEventApplied: ApplyEvent was given a sequence number at or below the cursor.
	ErrEventApplied = errors.New("nodestore: event already applied")
)

// Options configure Open. The zero value (or nil) is valid.
type Options struct {
	// Logger receives the store's logs and Pebble's; nil discards them.
	Logger *slog.Logger
	// CacheSize is the size of Pebble's block cache in bytes; 0 means DefaultCacheSize.
	CacheSize int64
	// FS is the file system to use; nil means the operating system's. Tests pass
	// vfs.NewMem() or an error-injecting file system.
	FS vfs.FS
	// MemTableSize is Pebble's memtable size in bytes; 0 keeps Pebble's default.
	MemTableSize uint64
	// ExtentThreshold is the size, in bytes of slivers of at least 64 KiB, from which a
	// committed batch writes those slivers to an extent file instead of through Pebble
	// (extents.go); 0 means DefaultExtentThreshold, < 0 never.
	ExtentThreshold int
}

// Store is a node's Pebble-backed store. It is safe for concurrent use.
type Store struct {
	db  *pebble.DB
	log *slog.Logger
	ext *extents
	// ring, if not nil, runs the system calls of the log and extent writes (walring.go,
	// direct_linux.go): stores on the operating system's file system where the kernel
	// provides io_uring.
	ring *uring.Ring

	// mu guards closed and active: every operation counts itself in active while it runs,
	// and Close waits (on idle) until active is zero. A plain count rather than a read lock,
	// so that an operation may call the store from its callback (Scrub's verify) while Close
	// waits.
	mu     sync.Mutex
	idle   *sync.Cond
	closed bool
	active int
	// failed is set, once, by a fatal Pebble error; see ErrFailed.
	failMu sync.Mutex
	failed error

	// eventMu serializes ApplyEvent and the blob-info decisions of CollectGarbage.
	eventMu sync.Mutex

	// sliverWrites counts the commits that may have changed which shards hold slivers
	// (see touchesSlivers); shards caches Shards' last answer with the count it was listed
	// at.
	sliverWrites atomic.Uint64
	shards       shardsCache
}

// Open opens the store in dir, creating it if it does not exist, and checks its format
// version.
func Open(dir string, opts *Options) (*Store, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "nodestore")
	cacheSize := o.CacheSize
	if cacheSize <= 0 {
		cacheSize = DefaultCacheSize
	}
	cache := pebble.NewCache(cacheSize)
	defer cache.Unref()
	po := &pebble.Options{
		Cache:              cache,
		FS:                 o.FS,
		Logger:             pebbleLogger{log: log},
		FormatMajorVersion: pebble.FormatNewest,
	}
	if o.MemTableSize > 0 {
		po.MemTableSize = o.MemTableSize
	}
	// Compactions are granted without a goroutine that looks for them every 100 ms.
	po.Experimental.CompactionScheduler = newCompactionScheduler()
	// Slivers are erasure-coded and mostly incompressible: compressing them costs CPU on every
	// flush and compaction and saves nothing.
	po.ApplyCompressionSettings(func() pebble.DBCompressionSettings { return pebble.DBCompressionNone })
	// Slivers are large values: keep them in blob files so that compactions move only keys
	// and pointers, instead of rewriting every sliver at every level. Sliver keys are
	// shard-major, so every flush's blob file spans the whole key space and they all overlap:
	// a low MaxBlobReferenceDepth (Pebble's examples use 10) made the L0 compactions of a
	// large upload rewrite every value again (measured: 11% of a committee's CPU while
	// storing 256 MiB). Values are rewritten only to reclaim garbage.
	po.Experimental.ValueSeparationPolicy = func() pebble.ValueSeparationPolicy {
		return pebble.ValueSeparationPolicy{
			Enabled:               true,
			MinimumSize:           4 << 10,
			MaxBlobReferenceDepth: 1000,
			RewriteMinimumAge:     10 * time.Minute,
			TargetGarbageRatio:    0.5,
		}
	}
	s := &Store{log: log}
	s.idle = sync.NewCond(&s.mu)
	if o.FS == nil {
		if r, err := uring.New(32); err == nil {
			s.ring = r
			po.FS = &ringFS{FS: vfs.Default, ring: r}
		} else {
			log.Info("writing without io_uring", "err", err)
		}
	}
	closeRing := func() {
		if s.ring != nil {
			_ = s.ring.Close()
		}
	}
	// Open may hit Pebble's fatal path too (it writes a manifest and a log).
	err := catchFatal(func() error {
		db, err := pebble.Open(dir, po)
		s.db = db
		return err
	})
	if err != nil {
		closeRing()
		return nil, fmt.Errorf("nodestore: open %s: %w", dir, err)
	}
	if err := s.checkFormat(); err != nil {
		_ = catchFatal(s.db.Close)
		closeRing()
		return nil, fmt.Errorf("nodestore: open %s: %w", dir, err)
	}
	fs := o.FS
	if fs == nil {
		fs = vfs.Default
	}
	if s.ext, err = openExtents(fs, dir, o.ExtentThreshold, s.ring); err == nil {
		if _, err = s.sweepExtents(); err != nil { // the files of batches a crash left uncommitted
			_ = s.ext.close()
		}
	}
	if err != nil {
		_ = catchFatal(s.db.Close)
		closeRing()
		return nil, fmt.Errorf("nodestore: open %s: %w", dir, err)
	}
	log.Info("store opened", "dir", dir, "format_version", FormatVersion)
	return s, nil
}

// checkFormat reads the format version, writing it if the database is empty.
func (s *Store) checkFormat() error {
	v, closer, err := s.db.Get(keyFormatVersion)
	switch {
	case err == nil:
		defer closer.Close()
		if len(v) != 4 {
			return fmt.Errorf("%w: format version record %x", ErrFormatVersion, v)
		}
		if got := binary.BigEndian.Uint32(v); got != FormatVersion {
			return fmt.Errorf("%w: version %d, this build reads version %d", ErrFormatVersion, got, FormatVersion)
		}
		return nil
	case !errors.Is(err, pebble.ErrNotFound):
		return fmt.Errorf("read format version: %w", err)
	}
	// No version: only an empty database may become a store.
	it, err := s.db.NewIter(nil)
	if err != nil {
		return fmt.Errorf("check empty: %w", err)
	}
	nonEmpty := it.First()
	var first []byte
	if nonEmpty {
		first = bytes.Clone(it.Key())
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return fmt.Errorf("check empty: %w", err)
	}
	if nonEmpty {
		return fmt.Errorf("%w: no format version record but key %x: not a node store", ErrFormatVersion, first)
	}
	var buf [4]byte
	binary.BigEndian.PutUint32(buf[:], FormatVersion)
	if err := s.write(func(b *pebble.Batch) error { return b.Set(keyFormatVersion, buf[:], nil) }); err != nil {
		return fmt.Errorf("write format version: %w", err)
	}
	return nil
}

// Close closes the store. Operations that start afterwards return ErrClosed; Close waits for
// running ones, and long ones (Scrub, CollectGarbage) stop early with ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.closed = true
	for s.active > 0 {
		s.idle.Wait()
	}
	s.mu.Unlock()
	if err := s.ext.close(); err != nil {
		s.log.Warn("closing the extents directory", "err", err)
	}
	if err := s.failure(); err != nil {
		// Pebble's commit pipeline is broken; closing it could block or panic. Its files are
		// left as they are, which is what a crash would leave, and the next Open recovers.
		// (The ring stays open too: Pebble's log writer may still use it.)
		s.log.Error("store closed after a fatal error; Pebble not closed", "err", err)
		return nil
	}
	if err := catchFatal(s.db.Close); err != nil {
		return fmt.Errorf("nodestore: close: %w", err)
	}
	if s.ring != nil {
		if err := s.ring.Close(); err != nil {
			return fmt.Errorf("nodestore: close: %w", err)
		}
	}
	s.log.Info("store closed")
	return nil
}

// DiskUsage returns the bytes the store occupies on disk (tables, logs, manifests and extent
// files, including obsolete files not yet deleted).
func (s *Store) DiskUsage() (uint64, error) {
	if err := s.acquire(); err != nil {
		return 0, err
	}
	defer s.release()
	return s.db.Metrics().DiskSpaceUsage() + s.ext.size(), nil
}

// begin checks ctx and acquires the store for one operation. Callers defer release.
func (s *Store) begin(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.acquire()
}

// acquire counts one running operation, refusing if the store is closed or failed. Callers
// defer release.
func (s *Store) acquire() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if err := s.failure(); err != nil {
		return err
	}
	s.active++
	return nil
}

func (s *Store) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.active--
	if s.active == 0 {
		s.idle.Broadcast()
	}
}

// closing reports whether Close was called: long operations poll it to stop early.
func (s *Store) closing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

func (s *Store) failure() error {
	s.failMu.Lock()
	defer s.failMu.Unlock()
	return s.failed
}

// write builds a batch with fill and commits it synced. A fatal Pebble error marks the store
// failed.
func (s *Store) write(fill func(b *pebble.Batch) error) error {
	b := s.db.NewBatch()
	defer b.Close()
	if err := fill(b); err != nil {
		return err
	}
	return s.commit(b)
}

// commit applies b with pebble.Sync, turning Pebble's fatal errors into ErrFailed.
func (s *Store) commit(b *pebble.Batch) error {
	if b.Empty() {
		return nil
	}
	if touchesSlivers(b) {
		// Counted once the batch is applied (or failed): a listing that started before
		// then is not reused.
		defer s.sliverWrites.Add(1)
	}
	err := catchFatal(func() error { return s.db.Apply(b, pebble.Sync) })
	var fe *fatalError
	if errors.As(err, &fe) {
		s.failMu.Lock()
		if s.failed == nil {
			s.failed = fmt.Errorf("%w: %w", ErrFailed, err)
			s.log.Error("fatal storage error; the store refuses all further operations", "err", err)
		}
		err = s.failed
		s.failMu.Unlock()
		return err
	}
	if err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// get returns a copy of the value of key, or ErrNotFound.
func (s *Store) get(key []byte) ([]byte, error) {
	v, closer, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	out := bytes.Clone(v)
	if out == nil {
		out = []byte{}
	}
	return out, closer.Close()
}

// has reports whether key is stored.
func (s *Store) has(key []byte) (bool, error) {
	// An iterator positioned on the key does not load a separated value (a sliver lives in a
	// blob file), where Get would read the whole sliver just to say it exists.
	upper := make([]byte, len(key)+1)
	copy(upper, key)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: key, UpperBound: upper})
	if err != nil {
		return false, err
	}
	found := it.First()
	return found, it.Close()
}

// fatalError is what pebbleLogger.Fatalf panics with, so that a fatal error on the caller's
// goroutine becomes an error (see catchFatal).
type fatalError struct{ msg string }

func (e *fatalError) Error() string { return "pebble: fatal: " + e.msg }

// catchFatal runs f, turning a fatalError panic from Pebble's logger into an error. Other
// panics propagate.
func catchFatal(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			fe, ok := r.(*fatalError)
			if !ok {
				panic(r)
			}
			err = fe
		}
	}()
	return f()
}

// pebbleLogger adapts slog to Pebble's logger. Fatalf logs and panics with a *fatalError:
// Pebble requires that it not return.
type pebbleLogger struct{ log *slog.Logger }

func (l pebbleLogger) Infof(format string, args ...any) {
	l.log.Debug(fmt.Sprintf(format, args...), "source", "pebble")
}

func (l pebbleLogger) Errorf(format string, args ...any) {
	l.log.Error(fmt.Sprintf(format, args...), "source", "pebble")
}

func (l pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	l.log.Error(msg, "source", "pebble", "fatal", true)
	panic(&fatalError{msg: msg})
}

// closeAll closes c, joining its error into *err.
func closeAll(err *error, c io.Closer) {
	if cerr := c.Close(); cerr != nil && *err == nil {
		*err = cerr
	}
}
