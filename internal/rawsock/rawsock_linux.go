//go:build linux && !race

package rawsock

import (
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"
)

func rawConn(c net.Conn) syscall.RawConn {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

func opError(c net.Conn, op string, err error) error {
	return &net.OpError{Op: op, Net: c.LocalAddr().Network(), Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}

func writer(c net.Conn) func([]byte) (int, error) {
	rc := rawConn(c)
	if rc == nil {
		return c.Write
	}
	return func(b []byte) (int, error) {
		var (
			n     int
			errno syscall.Errno
		)
		// rc.Write calls the function again each time the poller reports the socket
		// writable, until it returns true, under the connection's write deadline.
		err := rc.Write(func(fd uintptr) bool {
			for n < len(b) {
				r, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&b[n])), uintptr(len(b)-n))
				switch e {
				case 0:
					n += int(r)
				case syscall.EINTR:
				case syscall.EAGAIN:
					return false
				default:
					errno = e
					return true
				}
			}
			return true
		})
		if err == nil && errno != 0 {
			err = os.NewSyscallError("write", errno)
		}
		if err != nil {
			return n, opError(c, "write", err)
		}
		return n, nil
	}
}

func reader(c net.Conn) func([]byte) (int, error) {
	rc := rawConn(c)
	if rc == nil {
		return c.Read
	}
	return func(b []byte) (int, error) {
		if len(b) == 0 {
			return 0, nil
		}
		var (
			n     int
			errno syscall.Errno
		)
		// rc.Read calls the function again each time the poller reports the socket
		// readable, until it returns true, under the connection's read deadline.
		err := rc.Read(func(fd uintptr) bool {
			for {
				r, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
				switch e {
				case 0:
					n = int(r)
					return true
				case syscall.EINTR:
				case syscall.EAGAIN:
					return false
				default:
					errno = e
					return true
				}
			}
		})
		if err == nil && errno != 0 {
			err = os.NewSyscallError("read", errno)
		}
		if err != nil {
			return 0, opError(c, "read", err)
		}
		if n == 0 {
			return 0, io.EOF
		}
		return n, nil
	}
}
