//go:build !linux

package client

// mapSlivers maps nothing outside Linux: the encoder allocates sliver buffers itself.
func mapSlivers(size int) (buf, whole []byte) { return nil, nil }

func unmapSlivers(whole []byte) {}
