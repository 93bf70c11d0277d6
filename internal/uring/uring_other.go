//go:build !linux

package uring

// Ring is io_uring, which only Linux has.
type Ring struct{}

// New returns ErrUnsupported: only Linux has io_uring.
func New(uint32) (*Ring, error) { return nil, ErrUnsupported }

// Close does nothing.
func (r *Ring) Close() error { return nil }

// Run is never called: New returns no ring.
func (r *Ring) Run(...Op) ([]Result, error) { return nil, ErrUnsupported }

// Writev is pwritev(2) (Linux only).
func Writev(int, int64, [][]byte) Op { return Op{} }

// Fsync is fsync(2) (Linux only).
func Fsync(int, bool) Op { return Op{} }

// Openat is openat(2) (Linux only).
func Openat(int, string, int, uint32) (Op, error) { return Op{}, ErrUnsupported }

// Ftruncate is ftruncate(2) (Linux only).
func Ftruncate(int, int64) Op { return Op{} }

// Fallocate is fallocate(2) (Linux only).
func Fallocate(int, uint32, int64, int64) Op { return Op{} }
