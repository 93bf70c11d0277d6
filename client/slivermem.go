package client

import (
	"sync"
	"time"
	"unsafe"
)

// A store from memory encodes its blob into one buffer holding all the slivers (about 4.5
// times the blob) and the encoding's working memory (redstuff.Encoder.EncodeMemory: 0.6
// times the blob more, and the leaf hashes). A new buffer is fresh memory for the process: on the virtual machines the
// devnet benchmarks run on, the page faults and zeroing of the 1.2 GB of a 256 MiB blob's
// slivers took the client about 2.5 CPU seconds, twice the encoding itself (BenchmarkStoreCPU,
// perf: half of the client's samples in clear_page). The client keeps the buffer of its last
// in-memory store for keepSliverMemory (longer while memory is plentiful), and the next
// store of a blob no larger reuses it.
//
// A new buffer (the first store of a process, or one larger than the buffer held) is mapped
// outside the Go heap where the system allows (Linux: transparent huge pages, populated in one
// call, see mapSlivers): a Go allocation of 1.2 GB faulted in and zeroed 4 KiB at a time cost
// 6.4-7.0 CPU s on those machines, the mapping 4.2-4.5 s. It is unmapped when it is dropped.

// keepSliverMemory is how long the client keeps a finished store's sliver buffer for reuse;
// while the machine has memory to spare (plentyMemory), it keeps it for another
// keepSliverMemory, up to keepSliverMemoryMax after the buffer was given back. A client that
// stores every minute or two (a publisher, a benchmark waiting for its devnet to go idle
// between stores) paid for fresh memory at every store with the 30 s alone: 4.3 CPU s in a
// 256 MiB store that otherwise cost 2.5-3 (BenchmarkStoreCPU, 2026-12-02).
const (
	keepSliverMemory    = 30 * time.Second
	keepSliverMemoryMax = 5 * time.Minute
)

// sliverMemory holds at most one sliver buffer for reuse; it drops it keepSliverMemory after
// it was given back, or later while memory is plentiful (see keepSliverMemory).
type sliverMemory struct {
	mu    sync.Mutex
	buf   []byte
	given time.Time // when buf was given back
	timer *time.Timer
	// mapped are the buffers alloc mapped (by their first byte: a buffer handed out and given
	// back starts there) with their whole mappings, unmapped when dropped.
	mapped map[*byte][]byte

	// keep and keepMax replace keepSliverMemory and keepSliverMemoryMax, and plenty
	// plentyMemory, where set (tests).
	keep, keepMax time.Duration
	plenty        func(held int) bool
}

func (m *sliverMemory) keepFor() (keep, most time.Duration) {
	keep, most = keepSliverMemory, keepSliverMemoryMax
	if m.keep > 0 {
		keep = m.keep
	}
	if m.keepMax > 0 {
		most = m.keepMax
	}
	return keep, most
}

// plentyMemory reports whether the machine has memory to spare beside a held buffer of held
// bytes: at least four times as much available (Linux: MemAvailable) and a quarter of its
// memory. Where it cannot tell, no.
func plentyMemory(held int) bool {
	avail, total, ok := memAvailable()
	return ok && avail >= 4*uint64(held) && avail >= total/4
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
	m.given = time.Now()
	keep, _ := m.keepFor()
	if m.timer == nil {
		m.timer = time.AfterFunc(keep, m.drop)
	} else {
		m.timer.Reset(keep)
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

// drop frees the held buffer, or keeps it for another keep while memory is plentiful and
// the buffer was given back less than keepMax ago.
func (m *sliverMemory) drop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.buf == nil {
		return
	}
	keep, most := m.keepFor()
	plenty := m.plenty
	if plenty == nil {
		plenty = plentyMemory
	}
	if time.Since(m.given)+keep <= most && plenty(cap(m.buf)) {
		m.timer.Reset(keep)
		return
	}
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
