// Package uring runs file system calls through a Linux io_uring, so that the goroutine that
// waits for a slow one (an fsync, a direct write) parks like one waiting for the network
// instead of blocking its thread in a system call.
//
// A goroutine blocked in a system call made the usual way (syscall.Syscall) keeps its P until
// the runtime's monitor thread (sysmon) notices and hands the P to another thread; and a
// system call made when the process was idle wakes that monitor, which then polls every 20 µs
// for as long as it keeps finding such calls to take P's from. A storage node storing slivers
// made some five blocking calls per upload request (create a file, write it, sync it and its
// directory, sync Pebble's log), each a disk round trip long: on the VMs the devnet benchmarks
// run on, where a context switch is dear, the monitor's polls alone took about a tenth of the
// nodes' CPU in BenchmarkStoreCPU. Through a ring, a call is a submission (io_uring_enter,
// which does not wait) and a completion that the kernel signals on an eventfd which the
// network poller watches; neither is a blocking system call of the process.
//
// A Ring is safe for concurrent use. New returns ErrUnsupported where the kernel (or a
// sandbox) refuses io_uring, and callers then make their calls the usual way.
package uring

import (
	"errors"
	"syscall"
)

// ErrUnsupported: the operating system does not provide io_uring (or refused it).
var ErrUnsupported = errors.New("uring: io_uring not supported")

// ErrClosed: the ring was closed.
var ErrClosed = errors.New("uring: ring closed")

// Op is one operation to run. Build it with the functions below; the memory it refers to
// (buffers, paths) must stay unchanged until Run returns.
type Op struct {
	opcode uint8
	flags  uint8
	fd     int32
	off    uint64
	addr   uint64
	len    uint32
	opFlag uint32 // rw_flags, fsync_flags, open_flags
	// keep holds what the kernel reads through addr until the operation completes.
	keep any
	// link: the next operation of the same Run starts only once this one succeeded (else it
	// fails with ECANCELED).
	link bool
}

// Linked returns op such that the next operation of the same Run starts only after op
// succeeded; if op fails, the rest of the chain fails with ECANCELED.
func (op Op) Linked() Op { op.link = true; return op }

// Result is the outcome of one operation: its return value (a count of bytes, a file
// descriptor) or its error.
type Result struct {
	N   int
	Err error
}

func result(res int32) Result {
	if res < 0 {
		return Result{Err: syscall.Errno(-res)}
	}
	return Result{N: int(res)}
}
