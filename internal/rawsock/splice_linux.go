//go:build linux && !race

package rawsock

import (
	"net"
	"os"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// splicePipe is the pipe size asked for (the kernel caps it at fs.pipe-max-size, 1 MiB by
// default): each vmsplice moves at most this much.
const splicePipe = 1 << 20

// Splicer: see splice.go.
type Splicer struct {
	c  net.Conn
	rc syscall.RawConn

	mu     sync.Mutex // one Write at a time, and Close against it
	pr, pw int        // the pipe's ends, -1 until the first Write
	queued int        // bytes in the pipe, not yet in the socket
	err    error      // set once a Write failed (the pipe may hold bytes) or after Close
}

func newSplicer(c net.Conn) *Splicer {
	rc := rawConn(c)
	if rc == nil {
		return nil
	}
	return &Splicer{c: c, rc: rc, pr: -1, pw: -1}
}

// Write writes all of p to the socket, under the connection's write deadline; p must stay
// unchanged until the peer has read it.
func (s *Splicer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return 0, s.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if s.pr < 0 {
		var fds [2]int
		if err := unix.Pipe2(fds[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
			return 0, opError(s.c, "write", os.NewSyscallError("pipe2", err))
		}
		s.pr, s.pw = fds[0], fds[1]
		// Where the kernel refuses the size (a user past fs.pipe-user-pages-soft), the pipe
		// keeps its default and each round moves less.
		_, _ = unix.FcntlInt(uintptr(s.pw), unix.F_SETPIPE_SZ, splicePipe)
	}
	var (
		taken int // bytes of p moved into the pipe
		sent  int // bytes of p moved into the socket
		errno syscall.Errno
		op    string
	)
	// rc.Write calls the function again each time the poller reports the socket writable,
	// until it returns true. Raw system calls, as in writer: neither can block (the pipe and
	// the socket are non-blocking), so the scheduler need not hear of them.
	err := s.rc.Write(func(fd uintptr) bool {
		for {
			if s.queued == 0 {
				if taken == len(p) {
					return true
				}
				iov := unix.Iovec{Base: &p[taken]}
				iov.SetLen(len(p) - taken)
				r, _, e := syscall.RawSyscall6(unix.SYS_VMSPLICE, uintptr(s.pw), uintptr(unsafe.Pointer(&iov)), 1, unix.SPLICE_F_NONBLOCK, 0, 0)
				switch e {
				case 0:
					taken += int(r)
					s.queued = int(r)
				case syscall.EINTR:
					continue
				default:
					errno, op = e, "vmsplice"
					return true
				}
			}
			r, _, e := syscall.RawSyscall6(unix.SYS_SPLICE, uintptr(s.pr), 0, fd, 0, uintptr(s.queued), unix.SPLICE_F_MOVE|unix.SPLICE_F_NONBLOCK)
			switch e {
			case 0:
				s.queued -= int(r)
				sent += int(r)
			case syscall.EINTR:
			case syscall.EAGAIN:
				return false
			default:
				errno, op = e, "splice"
				return true
			}
		}
	})
	if err == nil && errno != 0 {
		err = os.NewSyscallError(op, errno)
	}
	if err != nil {
		// The pipe may hold bytes that never reached the socket: the stream is broken.
		s.err = opError(s.c, "write", err)
		s.closePipe()
		return sent, s.err
	}
	return sent, nil
}

// Close releases the pipe; later Writes fail. It does not close the connection.
func (s *Splicer) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.err = opError(s.c, "write", errSplicerClosed)
	}
	s.closePipe()
	return nil
}

func (s *Splicer) closePipe() {
	if s.pr >= 0 {
		unix.Close(s.pr)
		unix.Close(s.pw)
		s.pr, s.pw = -1, -1
	}
	s.queued = 0
}

const spliceSupported = true
