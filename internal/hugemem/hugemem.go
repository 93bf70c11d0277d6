// Package hugemem hands out large byte buffers from memory mapped with transparent huge pages
// (Linux, where the system allows them to be asked for: transparent_hugepage set to
// "madvise" or "always"), and recycles them.
//
// Why: a storage node receiving a blob's slivers reads each into a buffer, verifies it there
// (expanding and hashing it) and writes it out; on the VMs the devnet benchmarks run on, ten
// nodes and a client share two cores, every switch between them empties the TLB, and with
// 4 KiB pages each sliver's 150-300 pages are walked again. The same devnet with the
// machine's transparent huge pages set to "always" stored 256 MiB for 1.23-1.33 node CPU s
// instead of 1.55-1.69 (BenchmarkStoreCPU, 2026-12-02). Go's heap does not ask for huge pages
// (transparent_hugepage is "madvise" on most systems), so the buffers that carry slivers come
// from here.
//
// An Arena maps memory in chunks, up to a limit, and never returns it to the system: a buffer
// given back (Put) goes to a free list of its size class. Buffers are handed out in size
// classes a quarter of a power of two apart (a 600 KB sliver takes a 640 KiB buffer), aligned
// on 4 KiB (good for direct I/O). Where the limit is reached, or no memory can be mapped
// (another system, a failed mmap), Get returns nil and the caller allocates as it would
// without an Arena.
package hugemem

import (
	"math/bits"
	"sync"
	"unsafe"
)

const (
	// MinSize is the smallest buffer an Arena hands out: smaller ones span few pages and
	// are better left to the Go heap.
	MinSize = 128 << 10
	// chunkSize is how much an Arena maps at a time (a larger buffer gets a chunk of its
	// own, rounded up to hugePage).
	chunkSize = 32 << 20
	// hugePage is the size of a transparent huge page (x86-64, arm64 with 4 KiB pages).
	hugePage = 2 << 20
)

// Arena: see the package comment. The zero Arena hands out nothing; use New.
type Arena struct {
	mu     sync.Mutex
	limit  int
	mapped int
	chunks []chunk
	rest   []byte           // the unused end of the last chunk
	free   map[int][][]byte // buffers given back, by class size
	out    int              // bytes handed out and not given back
	// bufs are the buffers carved from the chunks, by address.
	bufs map[uintptr]bufState
}

type bufState struct {
	size int
	out  bool // handed out, not given back
}

// chunk is a mapping of the Arena's: whole is the mapping, [lo, hi) the addresses buffers are
// carved from.
type chunk struct {
	whole  []byte
	lo, hi uintptr
}

// New returns an Arena that maps at most limit bytes.
func New(limit int) *Arena {
	return &Arena{limit: limit, free: map[int][][]byte{}, bufs: map[uintptr]bufState{}}
}

// ClassSize returns the size of the buffer Get hands out for n bytes (n >= MinSize).
func ClassSize(n int) int {
	if n <= MinSize {
		return MinSize
	}
	base := 1 << (bits.Len(uint(n-1)) - 1) // the power of two below n
	step := base / 4
	return base + (n-base+step-1)/step*step
}

// Get returns a buffer of n bytes (its capacity is ClassSize(n); its contents are whatever
// it last held), or nil if n is below MinSize, the Arena is at its limit, or no memory can be
// mapped: the caller then allocates its own.
func (a *Arena) Get(n int) []byte {
	if a == nil || n < MinSize {
		return nil
	}
	size := ClassSize(n)
	a.mu.Lock()
	defer a.mu.Unlock()
	if l := a.free[size]; len(l) > 0 {
		b := l[len(l)-1]
		a.free[size] = l[:len(l)-1]
		a.out += size
		a.bufs[uintptr(unsafe.Pointer(unsafe.SliceData(b)))] = bufState{size, true}
		return b[:n]
	}
	if len(a.rest) < size {
		want := max(chunkSize, (size+hugePage-1)/hugePage*hugePage)
		if a.mapped+want > a.limit {
			return nil
		}
		buf, whole := Map(want)
		if buf == nil {
			return nil
		}
		lo := uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
		a.chunks = append(a.chunks, chunk{whole: whole, lo: lo, hi: lo + uintptr(len(buf))})
		a.mapped += want
		a.rest = buf
	}
	b := a.rest[:size:size]
	a.rest = a.rest[size:]
	a.out += size
	a.bufs[uintptr(unsafe.Pointer(unsafe.SliceData(b)))] = bufState{size, true}
	return b[:n]
}

// Put gives back a buffer Get returned (with any length; the caller must not use it after),
// and reports whether it was the Arena's; a buffer that is not (one the caller allocated
// itself) is left alone.
func (a *Arena) Put(b []byte) bool {
	if a == nil || cap(b) < MinSize {
		return false
	}
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	a.mu.Lock()
	defer a.mu.Unlock()
	st, ok := a.bufs[p]
	if !ok {
		for _, c := range a.chunks {
			if p >= c.lo && p < c.hi {
				// Inside a chunk but not a buffer's start (a slice of one from an offset): a
				// caller's bug; the memory must not be handed out twice, so it is not taken.
				return true
			}
		}
		return false
	}
	if !st.out {
		return true // given back twice: once is enough
	}
	size := st.size
	a.bufs[p] = bufState{size, false}
	a.free[size] = append(a.free[size], unsafe.Slice(unsafe.SliceData(b), size))
	a.out -= size
	return true
}

// Stats returns the bytes mapped and the bytes handed out and not given back.
func (a *Arena) Stats() (mapped, out int) {
	if a == nil {
		return 0, 0
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.mapped, a.out
}
