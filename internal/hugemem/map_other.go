//go:build !linux

package hugemem

// Map maps nothing outside Linux: callers allocate their own memory.
func Map(size int) (buf, whole []byte) { return nil, nil }

// Populate does nothing outside Linux.
func Populate(buf []byte) {}

// Unmap does nothing outside Linux.
func Unmap(whole []byte) {}
