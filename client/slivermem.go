package client

import (
	"sync"
	"time"
	"unsafe"
)

// A store from memory encodes its blob into one buffer holding all the slivers (about 4.5
// times the blob). A new buffer is fresh memory for the process: on the virtual machines the
// devnet benchmarks run on, the page faults and zeroing of the 1.2 GB of a 256 MiB blob's
// slivers took the client about 2.5 CPU seconds, twice the encoding itself (BenchmarkStoreCPU,
// perf: half of the client's samples in clear_page). The client keeps the buffer of its last
// in-memory store for keepSliverMemory, and the next store of a blob no larger reuses it.
//
// A new buffer (the first store of a process, or one larger than the buffer held) is mapped
// outside the Go heap where the system allows (Linux: transparent huge pages, populated in one
// call, see mapSlivers): a Go allocation of 1.2 GB faulted in and zeroed 4 KiB at a time cost
// 6.4-7.0 CPU s on those machines, the mapping 4.2-4.5 s. It is unmapped when it is dropped.

// keepSliverMemory is how long the client keeps a finished store's sliver buffer for reuse.
const keepSliverMemory = 30 * time.Second

// sliverMemory holds at most one sliver buffer for reuse; it drops it keepSliverMemory after
// it was given back.
type sliverMemory struct {
	mu    sync.Mutex
	buf   []byte
	timer *time.Timer
	// mapped are the buffers alloc mapped (by their first byte: a buffer handed out and given
	// back starts there) with their whole mappings, unmapped when dropped.
	mapped map[*byte][]byte
}

// take returns the held buffer and forgets it if it has at least size bytes; else nil.
func (m *sliverMemory) take(size int) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	if cap(m.buf) < size {
		return nil
	}
	b := m.buf
	m.buf = nil
	return b
}

// alloc returns a new buffer of size bytes outside the Go heap, which give takes back, or nil
// where none can be mapped (the encoder then allocates its own).
func (m *sliverMemory) alloc(size int) []byte {
	if size <= 0 {
		return nil
	}
	b, whole := mapSlivers(size)
	if b == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.mapped == nil {
		m.mapped = map[*byte][]byte{}
	}
	m.mapped[unsafe.SliceData(b)] = whole
	return b
}

// give holds b (which nothing may use any more) in place of any buffer held, which is
// dropped.
func (m *sliverMemory) give(b []byte) {
	if cap(b) == 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.buf != nil && unsafe.SliceData(m.buf) != unsafe.SliceData(b) {
		m.free(m.buf)
	}
	m.buf = b
	if m.timer == nil {
		m.timer = time.AfterFunc(keepSliverMemory, m.drop)
	} else {
		m.timer.Reset(keepSliverMemory)
	}
}

// free unmaps b if alloc mapped it (else it is left to the garbage collector); m.mu is held.
func (m *sliverMemory) free(b []byte) {
	if cap(b) == 0 {
		return
	}
	p := unsafe.SliceData(b)
	if whole, ok := m.mapped[p]; ok {
		delete(m.mapped, p)
		unmapSlivers(whole)
	}
}

func (m *sliverMemory) drop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.free(m.buf)
	m.buf = nil
}

// release drops the held buffer at once (Client.Close).
func (m *sliverMemory) release() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.free(m.buf)
	m.buf = nil
	if m.timer != nil {
		m.timer.Stop()
	}
}

// memGuard keeps upload bodies from reading an encoding's slivers once its store has ended
// and its memory may be reused: an HTTP transport may still read a request's body after the
// request returned (a cancelled one, until it closes the connection). A body reads its
// slivers between begin and end; after revoke, begin fails.
type memGuard struct {
	mu      sync.RWMutex
	revoked bool
}

func (g *memGuard) begin() bool {
	g.mu.RLock()
	if g.revoked {
		g.mu.RUnlock()
		return false
	}
	return true
}

func (g *memGuard) end() { g.mu.RUnlock() }

// revoke waits for the reads in progress and makes later ones fail.
func (g *memGuard) revoke() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.revoked = true
}
