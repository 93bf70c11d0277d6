package nodestore

import (
	"fmt"
	"io"

	"github.com/cockroachdb/pebble/v2/vfs"
	"golang.org/x/sys/unix"

	"github.com/floelabs/floe/internal/uring"
)

// Pebble's write-ahead log is written and synced through the store's ring (internal/uring)
// when it has one: every upload's commit writes and syncs the log, and those system calls,
// made the usual way, blocked the committing thread for a disk round trip and woke the Go
// runtime's monitor thread, which then polled every 20 µs (see internal/uring). Other files
// (tables, the manifest) are written the usual way: they are written in the background, and
// far less often.

// walCategory is the write category Pebble creates its log files with.
const walCategory vfs.DiskWriteCategory = "pebble-wal"

// ringFS is the operating system's file system, but for the log files, whose writes and
// syncs go through ring.
type ringFS struct {
	vfs.FS
	ring *uring.Ring
}

func (fs *ringFS) Create(name string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.Create(name, category)
	if err != nil || category != walCategory {
		return f, err
	}
	return fs.wrap(f), nil
}

func (fs *ringFS) ReuseForWrite(oldname, newname string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.ReuseForWrite(oldname, newname, category)
	if err != nil || category != walCategory {
		return f, err
	}
	return fs.wrap(f), nil
}

func (fs *ringFS) wrap(f vfs.File) vfs.File {
	if f.Fd() == vfs.InvalidFd {
		return f
	}
	return &ringFile{File: f, ring: fs.ring, fd: int(f.Fd())}
}

// ringFile is a log file opened for writing from its start (Create truncates; ReuseForWrite
// overwrites a recycled log from its start): it writes at its own offset, through the ring.
type ringFile struct {
	vfs.File
	ring *uring.Ring
	fd   int
	off  int64
}

func (f *ringFile) Write(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		res, err := f.ring.Run(uring.Writev(f.fd, f.off, [][]byte{p[n:]}))
		if err != nil {
			return n, fmt.Errorf("nodestore: log write: %w", err)
		}
		if res[0].Err == unix.EINTR || res[0].Err == unix.EAGAIN {
			continue
		}
		if res[0].Err != nil {
			return n, fmt.Errorf("nodestore: log write: %w", res[0].Err)
		}
		if res[0].N == 0 {
			return n, io.ErrShortWrite
		}
		n += res[0].N
		f.off += int64(res[0].N)
	}
	return n, nil
}

func (f *ringFile) run(what string, op uring.Op) error {
	res, err := f.ring.Run(op)
	if err == nil {
		err = res[0].Err
	}
	if err != nil {
		return fmt.Errorf("nodestore: log %s: %w", what, err)
	}
	return nil
}

func (f *ringFile) Sync() error     { return f.run("sync", uring.Fsync(f.fd, false)) }
func (f *ringFile) SyncData() error { return f.run("sync", uring.Fsync(f.fd, true)) }

// SyncTo syncs all the data (the log's writer asks for no partial syncs: its bytes-per-sync
// is zero).
func (f *ringFile) SyncTo(int64) (bool, error) { return true, f.SyncData() }

func (f *ringFile) Preallocate(offset, length int64) error {
	return f.run("preallocate", uring.Fallocate(f.fd, unix.FALLOC_FL_KEEP_SIZE, offset, length))
}
