//go:build !linux || race

package rawsock

import "net"

// Splicer: see splice.go. Where splicing is not available, NewSplicer returns nil.
type Splicer struct{}

func newSplicer(net.Conn) *Splicer { return nil }

// Write is never called: NewSplicer returns no Splicer here.
func (s *Splicer) Write(p []byte) (int, error) { return 0, net.ErrClosed }

// Close does nothing.
func (s *Splicer) Close() error { return nil }

const spliceSupported = false
