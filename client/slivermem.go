package client

import (
	"sync"
	"time"
)

// A store from memory encodes its blob into one buffer holding all the slivers (about 4.5
// times the blob). A new buffer is fresh memory for the process: on the virtual machines the
// devnet benchmarks run on, the page faults and zeroing of the 1.2 GB of a 256 MiB blob's
// slivers took the client about 2.5 CPU seconds, twice the encoding itself (BenchmarkStoreCPU,
// perf: half of the client's samples in clear_page). The client keeps the buffer of its last
// in-memory store for keepSliverMemory, and the next store of a blob no larger reuses it.

// keepSliverMemory is how long the client keeps a finished store's sliver buffer for reuse.
const keepSliverMemory = 30 * time.Second

// sliverMemory holds at most one sliver buffer for reuse; it drops it keepSliverMemory after
// it was given back, leaving it to the garbage collector.
type sliverMemory struct {
	mu    sync.Mutex
	buf   []byte
	timer *time.Timer
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

// give holds b (which nothing may use any more) in place of any buffer held.
func (m *sliverMemory) give(b []byte) {
	if cap(b) == 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.buf = b
	if m.timer == nil {
		m.timer = time.AfterFunc(keepSliverMemory, m.drop)
	} else {
		m.timer.Reset(keepSliverMemory)
	}
}

func (m *sliverMemory) drop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.buf = nil
}

// release drops the held buffer at once (Client.Close).
func (m *sliverMemory) release() {
	m.mu.Lock()
	defer m.mu.Unlock()
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
