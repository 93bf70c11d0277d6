package nodestore

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/floelabs/floe/internal/hugemem"
	"github.com/floelabs/floe/internal/uring"
)

// Extent files are written with direct I/O where the file system allows it: the slivers go
// from their own buffers (or, when those are not aligned, a reused staging buffer) to the
// disk without passing through the page cache.
// A buffered write copies every byte into page-cache pages that the kernel must find and
// fill, and on a fresh VM those pages are memory the host has not backed yet: storing 256 MiB
// on the default devnet spent 1.4 of the nodes' 9.8 CPU seconds in that copy alone, 3 to 5
// times what the same write costs into recycled pages. Nodes rarely read a sliver soon after
// storing it, so the page cache gains nothing from holding them.

const (
	// directAlign is the alignment of direct I/O's memory, offsets and lengths (the largest
	// logical block size in use).
	directAlign = 4096
	// directStage is the size of a staging buffer.
	directStage = 4 << 20
)

// directWriter writes files with O_DIRECT through staging buffers it recycles.
type directWriter struct {
	mu sync.Mutex
	// free holds up to maxFreeStages staging buffers (directStage bytes, directAlign-aligned).
	// Not a sync.Pool: a collection empties a pool, and a fresh buffer costs page faults and
	// zeroing every time, which is what the recycling is for.
	free [][]byte
	// ring, if not nil, runs the file's system calls (see directFile); dirFd, if >= 0, is
	// the directory of the files, which write then syncs with each file.
	ring  *uring.Ring
	dirFd int
	// mapped are the staging buffers mapped with huge pages (by first byte) with their
	// mappings, unmapped when a buffer is dropped.
	mapped map[*byte][]byte
}

const maxFreeStages = 2

func (d *directWriter) getStage() []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	if k := len(d.free); k > 0 {
		b := d.free[k-1]
		d.free = d.free[:k-1]
		return b
	}
	// Huge pages where the system has them: every sliver byte written is copied or read
	// here, by a process sharing the CPUs with others (see internal/hugemem).
	if b, whole := hugemem.Map(directStage); b != nil {
		if d.mapped == nil {
			d.mapped = map[*byte][]byte{}
		}
		d.mapped[&b[0]] = whole
		return b
	}
	return alignedBuffer(directStage)
}

func (d *directWriter) putStage(b []byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.free) < maxFreeStages {
		d.free = append(d.free, b)
		return
	}
	if whole, ok := d.mapped[&b[0]]; ok {
		delete(d.mapped, &b[0])
		hugemem.Unmap(whole)
	}
}

// alignedBuffer returns n bytes whose address is a multiple of directAlign.
func alignedBuffer(n int) []byte {
	b := make([]byte, n+directAlign)
	skip := (directAlign - int(uintptr(unsafe.Pointer(&b[0]))%directAlign)) % directAlign
	return b[skip : skip+n : skip+n]
}

// directFile is a file being written with direct I/O: through d's ring when it has one (see
// internal/uring: its goroutine parks instead of blocking a thread in a system call), else with
// the usual system calls.
type directFile struct {
	ring *uring.Ring
	fd   int
	f    *os.File // without a ring
}

func (d *directWriter) create(path string) (directFile, error) {
	const flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC | syscall.O_DIRECT
	if d.ring == nil {
		f, err := os.OpenFile(path, flags, 0o644)
		if err != nil {
			return directFile{}, err
		}
		return directFile{fd: int(f.Fd()), f: f}, nil
	}
	op, err := uring.Openat(unix.AT_FDCWD, path, flags, 0o644)
	if err != nil {
		return directFile{}, err
	}
	res, err := d.ring.Run(op)
	if err != nil {
		return directFile{}, err
	}
	if res[0].Err != nil {
		return directFile{}, &os.PathError{Op: "open", Path: path, Err: res[0].Err}
	}
	return directFile{ring: d.ring, fd: res[0].N}, nil
}

// pwritev writes iov at off.
func (f directFile) pwritev(off int64, iov [][]byte) (int, error) {
	if f.ring == nil {
		return unix.Pwritev(f.fd, iov, off)
	}
	res, err := f.ring.Run(uring.Writev(f.fd, off, iov))
	if err != nil {
		return 0, err
	}
	return res[0].N, res[0].Err
}

// finish cuts the file to size (if size >= 0) and syncs it, and with it the directory dirFd
// (if >= 0) when it runs through a ring; it reports whether it synced the directory.
func (f directFile) finish(size int64, dirFd int) (dirSynced bool, err error) {
	if f.ring == nil {
		if size >= 0 {
			if err := f.f.Truncate(size); err != nil {
				return false, fmt.Errorf("extents: truncate: %w", err)
			}
		}
		if err := f.f.Sync(); err != nil {
			return false, fmt.Errorf("extents: sync: %w", err)
		}
		return false, nil
	}
	var (
		ops  []uring.Op
		what []string
	)
	if size >= 0 {
		ops, what = append(ops, uring.Ftruncate(f.fd, size).Linked()), append(what, "truncate")
	}
	ops, what = append(ops, uring.Fsync(f.fd, false)), append(what, "sync")
	if dirFd >= 0 {
		ops, what = append(ops, uring.Fsync(dirFd, false)), append(what, "sync dir")
	}
	res, err := f.ring.Run(ops...)
	if err != nil {
		return false, fmt.Errorf("extents: sync: %w", err)
	}
	if size >= 0 && errors.Is(res[0].Err, unix.EINVAL) {
		// A kernel before Linux 6.9 has no ftruncate in its rings.
		if err := unix.Ftruncate(f.fd, size); err != nil {
			return false, fmt.Errorf("extents: truncate: %w", err)
		}
		return f.finish(-1, dirFd)
	}
	for i, r := range res {
		if r.Err != nil {
			return false, fmt.Errorf("extents: %s: %w", what[i], r.Err)
		}
	}
	return dirFd >= 0, nil
}

func (f directFile) close() error {
	if f.ring == nil {
		return f.f.Close()
	}
	// Closing a file whose writes and sync are done does not block: a raw call, which does
	// not wake the runtime's monitor.
	if _, _, errno := syscall.RawSyscall(syscall.SYS_CLOSE, uintptr(f.fd), 0, 0); errno != 0 {
		return errno
	}
	return nil
}

// write creates (or truncates) path and writes bufs into it with direct I/O, each at an
// offset that is a multiple of directAlign (the gaps hold zeros), then syncs it (and, through
// a ring, the directory d.dirFd: dirSynced) and returns the offsets. A buffer whose address
// is aligned is written from where it is, but for its last partial block; the others are
// copied into the staging buffer first. It returns errDirectUnsupported, having removed the
// file, when the file system refuses direct I/O.
func (d *directWriter) write(path string, bufs [][]byte) (offs []uint64, dirSynced bool, err error) {
	f, err := d.create(path)
	if errors.Is(err, syscall.EINVAL) {
		return nil, false, errDirectUnsupported
	}
	if err != nil {
		return nil, false, fmt.Errorf("extents: create: %w", err)
	}
	defer func() {
		if cerr := f.close(); err == nil && cerr != nil {
			err = fmt.Errorf("extents: close: %w", cerr)
		}
		if errors.Is(err, errDirectUnsupported) {
			_ = os.Remove(path)
		}
	}()
	stage := d.getStage()
	defer d.putStage(stage)
	var (
		iov     [][]byte // the next writev's buffers, each aligned in memory and length
		fill    int      // bytes of stage that iov uses
		written int64
	)
	flush := func() error {
		want := 0
		for _, b := range iov {
			want += len(b)
		}
		for want > 0 {
			n, err := f.pwritev(written, iov)
			if err == unix.EINTR {
				continue
			}
			if errors.Is(err, unix.EINVAL) && written == 0 {
				return errDirectUnsupported // the file system wants another alignment
			}
			if err != nil {
				return fmt.Errorf("extents: write: %w", err)
			}
			if n != want {
				// Only a failing file system writes part of a direct write.
				return fmt.Errorf("extents: write: %w (%d of %d bytes)", io.ErrShortWrite, n, want)
			}
			written += int64(n)
			want = 0
		}
		iov, fill = iov[:0], 0
		return nil
	}
	// stageCopy appends a copy of b (at most len(stage) bytes), padded with zeros to the
	// alignment, to the next write.
	stageCopy := func(b []byte) error {
		need := alignUp(len(b))
		if need > len(stage)-fill || len(iov) == iovMax {
			if err := flush(); err != nil {
				return err
			}
		}
		blk := stage[fill : fill+need]
		clear(blk[copy(blk, b):])
		iov = append(iov, blk)
		fill += need
		return nil
	}
	var off uint64
	for _, b := range bufs {
		offs = append(offs, off)
		off += uint64(alignUp(len(b)))
		if len(b) >= directAlign && uintptr(unsafe.Pointer(&b[0]))%directAlign == 0 {
			head := b[:len(b)&^(directAlign-1)]
			if len(iov) >= iovMax-1 {
				if err := flush(); err != nil {
					return nil, false, err
				}
			}
			iov = append(iov, head)
			b = b[len(head):]
		}
		for len(b) > 0 {
			k := min(len(b), len(stage))
			if err := stageCopy(b[:k]); err != nil {
				return nil, false, err
			}
			b = b[k:]
		}
	}
	if err := flush(); err != nil {
		return nil, false, err
	}
	size := int64(-1)
	if k := len(bufs); k > 0 {
		// Cut the last buffer's padding off.
		if end := offs[k-1] + uint64(len(bufs[k-1])); end != off {
			size = int64(end)
		}
	}
	if dirSynced, err = f.finish(size, d.dirFd); err != nil {
		return nil, false, err
	}
	return offs, dirSynced, nil
}

// alignUp rounds n up to a multiple of directAlign.
func alignUp(n int) int { return (n + directAlign - 1) &^ (directAlign - 1) }
