//go:build !linux

package client

// mapSlivers maps nothing outside Linux: the encoder allocates sliver buffers itself.
func mapSlivers(size int) (buf, whole []byte) { return nil, nil }

func unmapSlivers(whole []byte) {}

// memAvailable cannot tell outside Linux.
func memAvailable() (avail, total uint64, ok bool) { return 0, 0, false }
