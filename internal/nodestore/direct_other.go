//go:build !linux

package nodestore

import "github.com/floelabs/floe/internal/uring"

// directWriter is Linux's direct I/O (direct_linux.go); elsewhere extents are written through
// the page cache.
type directWriter struct {
	ring  *uring.Ring
	dirFd int
}

func (d *directWriter) write(string, [][]byte) ([]uint64, bool, error) {
	return nil, false, errDirectUnsupported
}
