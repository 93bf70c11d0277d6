package uring

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The kernel's ABI (include/uapi/linux/io_uring.h).
const (
	opWritev    = 2
	opFsync     = 3
	opOpenat    = 18
	opFallocate = 17
	opFtruncate = 55 // Linux 6.9

	fsyncDatasync = 1 << 0
	sqeIOLink     = 1 << 2

	offSQRing = 0
	offCQRing = 0x8000000
	offSQEs   = 0x10000000

	registerEventfd = 4
)

type sqringOffsets struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
	userAddr                                                        uint64
}

type cqringOffsets struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
	userAddr                                                        uint64
}

type params struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFd uint32
	resv                                                                   [3]uint32
	sqOff                                                                  sqringOffsets
	cqOff                                                                  cqringOffsets
}

type sqe struct {
	opcode      uint8
	flags       uint8
	ioprio      uint16
	fd          int32
	off         uint64
	addr        uint64
	len         uint32
	opFlags     uint32
	userData    uint64
	bufIndex    uint16
	personality uint16
	spliceFdIn  int32
	addr3       uint64
	pad         uint64
}

type cqe struct {
	userData uint64
	res      int32
	flags    uint32
}

// Ring is an io_uring whose completions a goroutine of its own hands to the callers of Run.
type Ring struct {
	fd             int
	sqMem, cqMem   []byte
	sqeMem         []byte
	sqTail, sqMask *uint32
	sqArray        []uint32
	sqes           []sqe
	cqHead, cqTail *uint32
	cqMask         uint32
	cqes           []cqe
	efd            *os.File
	efdConn        syscall.RawConn
	reaped         chan struct{} // closed when the reaper ends
	slots          chan uint32   // free slots (user_data); at most len(sqes) operations in flight
	acquire        sync.Mutex    // taken to acquire the slots of one Run, so that Runs cannot starve each other
	mu             sync.Mutex    // guards the submission queue and closed
	closed         bool
	waiters        []chan int32 // by slot
	entries        uint32
}

// New sets up a ring of entries submission slots (a power of two, at most 4096).
func New(entries uint32) (*Ring, error) {
	var p params
	fd, _, errno := unix.RawSyscall(unix.SYS_IO_URING_SETUP, uintptr(entries), uintptr(unsafe.Pointer(&p)), 0)
	if errno != 0 {
		if errno == unix.ENOSYS || errno == unix.EPERM || errno == unix.EACCES {
			return nil, fmt.Errorf("%w: %w", ErrUnsupported, errno)
		}
		return nil, fmt.Errorf("uring: setup: %w", errno)
	}
	r := &Ring{fd: int(fd), entries: p.sqEntries, reaped: make(chan struct{})}
	ok := false
	defer func() {
		if !ok {
			r.release()
		}
	}()
	var err error
	sqSize := int(p.sqOff.array + p.sqEntries*4)
	if r.sqMem, err = unix.Mmap(r.fd, offSQRing, sqSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE); err != nil {
		return nil, fmt.Errorf("uring: map the submission ring: %w", err)
	}
	cqSize := int(p.cqOff.cqes + p.cqEntries*uint32(unsafe.Sizeof(cqe{})))
	if r.cqMem, err = unix.Mmap(r.fd, offCQRing, cqSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE); err != nil {
		return nil, fmt.Errorf("uring: map the completion ring: %w", err)
	}
	sqeSize := int(p.sqEntries) * int(unsafe.Sizeof(sqe{}))
	if r.sqeMem, err = unix.Mmap(r.fd, offSQEs, sqeSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE); err != nil {
		return nil, fmt.Errorf("uring: map the submission entries: %w", err)
	}
	u32 := func(mem []byte, off uint32) *uint32 { return (*uint32)(unsafe.Pointer(&mem[off])) }
	r.sqTail = u32(r.sqMem, p.sqOff.tail)
	r.sqMask = u32(r.sqMem, p.sqOff.ringMask)
	r.sqArray = unsafe.Slice(u32(r.sqMem, p.sqOff.array), p.sqEntries)
	r.sqes = unsafe.Slice((*sqe)(unsafe.Pointer(&r.sqeMem[0])), p.sqEntries)
	r.cqHead = u32(r.cqMem, p.cqOff.head)
	r.cqTail = u32(r.cqMem, p.cqOff.tail)
	r.cqMask = *u32(r.cqMem, p.cqOff.ringMask)
	r.cqes = unsafe.Slice((*cqe)(unsafe.Pointer(&r.cqMem[p.cqOff.cqes])), p.cqEntries)

	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("uring: eventfd: %w", err)
	}
	// A non-blocking descriptor: os.NewFile registers it with the network poller.
	r.efd = os.NewFile(uintptr(efd), "uring-eventfd")
	if r.efdConn, err = r.efd.SyscallConn(); err != nil {
		return nil, fmt.Errorf("uring: eventfd: %w", err)
	}
	e := int32(efd)
	if _, _, errno := unix.RawSyscall6(unix.SYS_IO_URING_REGISTER, uintptr(r.fd), registerEventfd, uintptr(unsafe.Pointer(&e)), 1, 0, 0); errno != 0 {
		return nil, fmt.Errorf("uring: register eventfd: %w", errno)
	}
	r.slots = make(chan uint32, p.sqEntries)
	r.waiters = make([]chan int32, p.sqEntries)
	for i := range p.sqEntries {
		r.slots <- i
		r.waiters[i] = make(chan int32, 1)
	}
	ok = true
	go r.reap()
	return r, nil
}

// release frees what New set up (the reaper must not run).
func (r *Ring) release() {
	for _, m := range [][]byte{r.sqeMem, r.cqMem, r.sqMem} {
		if m != nil {
			_ = unix.Munmap(m)
		}
	}
	if r.efd != nil {
		_ = r.efd.Close()
	}
	_ = unix.Close(r.fd)
}

// Close stops the ring. Operations must not be running.
func (r *Ring) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return ErrClosed
	}
	r.closed = true
	r.mu.Unlock()
	// Closing the eventfd ends the reaper's wait.
	err := r.efd.Close()
	<-r.reaped
	r.efd = nil
	r.release()
	return err
}

// reap hands completions to their waiters until the eventfd is closed.
func (r *Ring) reap() {
	defer close(r.reaped)
	var buf [8]byte
	for {
		head := atomic.LoadUint32(r.cqHead)
		tail := atomic.LoadUint32(r.cqTail)
		for ; head != tail; head++ {
			c := r.cqes[head&r.cqMask]
			r.waiters[c.userData] <- c.res
		}
		atomic.StoreUint32(r.cqHead, head)
		// Wait until the kernel signals a completion (an eventfd read resets its counter; a
		// completion posted since the loads above left it non-zero).
		var errno syscall.Errno
		err := r.efdConn.Read(func(fd uintptr) bool {
			_, _, errno = syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&buf[0])), 8)
			return errno != syscall.EAGAIN
		})
		if err != nil {
			return // closed
		}
		if errno != 0 && errno != syscall.EINTR {
			panic(fmt.Sprintf("uring: reading the eventfd: %v", errno))
		}
	}
}

// Run submits ops (at most the ring's size) at once and waits for all of them; it returns
// their results in order.
func (r *Ring) Run(ops ...Op) ([]Result, error) {
	if len(ops) == 0 {
		return nil, nil
	}
	if len(ops) > int(r.entries) {
		return nil, fmt.Errorf("uring: %d operations, the ring takes %d", len(ops), r.entries)
	}
	slots := make([]uint32, len(ops))
	r.acquire.Lock()
	for i := range slots {
		slots[i] = <-r.slots
	}
	r.acquire.Unlock()
	defer func() {
		for _, s := range slots {
			r.slots <- s
		}
	}()
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, ErrClosed
	}
	tail := *r.sqTail
	mask := *r.sqMask
	for i, op := range ops {
		idx := tail & mask
		flags := op.flags
		if op.link && i < len(ops)-1 {
			flags |= sqeIOLink
		}
		r.sqes[idx] = sqe{opcode: op.opcode, flags: flags, fd: op.fd, off: op.off, addr: op.addr, len: op.len,
			opFlags: op.opFlag, userData: uint64(slots[i])}
		r.sqArray[idx] = idx
		tail++
	}
	atomic.StoreUint32(r.sqTail, tail)
	// io_uring_enter without IORING_ENTER_GETEVENTS does not wait for the operations: the
	// kernel starts them (or queues them to its workers) and returns.
	left := uint32(len(ops))
	for left > 0 {
		n, _, errno := unix.RawSyscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), uintptr(left), 0, 0, 0, 0)
		if errno == unix.EINTR || errno == unix.EAGAIN || errno == unix.EBUSY {
			runtime.Gosched()
			continue
		}
		if errno != 0 {
			// The kernel took none of the entries left: take them back, and wait for those
			// it took before failing.
			atomic.StoreUint32(r.sqTail, tail-left)
			r.mu.Unlock()
			for _, s := range slots[:uint32(len(ops))-left] {
				<-r.waiters[s]
			}
			runtime.KeepAlive(ops)
			return nil, fmt.Errorf("uring: submit: %w", errno)
		}
		left -= uint32(n)
	}
	r.mu.Unlock()
	out := make([]Result, len(ops))
	for i, s := range slots {
		out[i] = result(<-r.waiters[s])
	}
	runtime.KeepAlive(ops)
	return out, nil
}

// Writev writes bufs at off of fd (pwritev(2)).
func Writev(fd int, off int64, bufs [][]byte) Op {
	iov := make([]unix.Iovec, 0, len(bufs))
	for _, b := range bufs {
		if len(b) == 0 {
			continue
		}
		v := unix.Iovec{Base: &b[0]}
		v.SetLen(len(b))
		iov = append(iov, v)
	}
	op := Op{opcode: opWritev, fd: int32(fd), off: uint64(off), len: uint32(len(iov)), keep: [2]any{iov, bufs}}
	if len(iov) > 0 {
		op.addr = uint64(uintptr(unsafe.Pointer(&iov[0])))
	}
	return op
}

// Fsync syncs fd (fsync(2), or fdatasync(2) if datasync).
func Fsync(fd int, datasync bool) Op {
	op := Op{opcode: opFsync, fd: int32(fd)}
	if datasync {
		op.opFlag = fsyncDatasync
	}
	return op
}

// Openat opens path relative to dirfd (openat(2)); the result's N is the descriptor.
func Openat(dirfd int, path string, flags int, mode uint32) (Op, error) {
	p, err := unix.BytePtrFromString(path)
	if err != nil {
		return Op{}, err
	}
	return Op{opcode: opOpenat, fd: int32(dirfd), addr: uint64(uintptr(unsafe.Pointer(p))), len: mode,
		opFlag: uint32(flags | unix.O_CLOEXEC), keep: p}, nil
}

// Ftruncate sets fd's size (ftruncate(2)); kernels before Linux 6.9 fail it with EINVAL.
func Ftruncate(fd int, size int64) Op {
	return Op{opcode: opFtruncate, fd: int32(fd), off: uint64(size)}
}

// Fallocate allocates length bytes at offset of fd (fallocate(2) with mode).
func Fallocate(fd int, mode uint32, offset, length int64) Op {
	return Op{opcode: opFallocate, fd: int32(fd), off: uint64(offset), addr: uint64(length), len: mode}
}
