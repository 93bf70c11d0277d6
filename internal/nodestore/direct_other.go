//go:build !linux

package nodestore

// directWriter is Linux's direct I/O (direct_linux.go); elsewhere extents are written through
// the page cache.
type directWriter struct{}

func (d *directWriter) write(string, [][]byte) ([]uint64, error) { return nil, errDirectUnsupported }
