package nodestore

import (
	"sync"

	"github.com/cockroachdb/pebble/v2"
)

// compactionScheduler lets the store's Pebble run as many compactions at once as it asks for
// (DBForCompaction.GetAllowedWithoutPermission), as Pebble's default scheduler does, but
// without the goroutine that default runs to look for a grant every 100 ms even when the
// store is idle: ten wake-ups a second of each node, each a context switch of its idle
// process, which on the VMs the devnet benchmarks run on is dear. A compaction Pebble could
// not start for want of a slot is granted when a running one ends (Done), and when Pebble
// reports that it allows more of them (UpdateGetAllowedWithoutPermission), which is what the
// periodic look covered.
type compactionScheduler struct {
	mu      sync.Mutex
	idle    *sync.Cond // signalled when a grant pass ends
	db      pebble.DBForCompaction
	running int
	allowed int // the last GetAllowedWithoutPermission seen
	closed  bool
	// granting: a grant pass runs (one at a time); again: a pass was asked for meanwhile.
	granting, again bool
}

var _ pebble.CompactionScheduler = (*compactionScheduler)(nil)

func newCompactionScheduler() *compactionScheduler {
	s := &compactionScheduler{}
	s.idle = sync.NewCond(&s.mu)
	return s
}

func (s *compactionScheduler) Register(_ int, db pebble.DBForCompaction) { s.db = db }

// Unregister stops the granting: it returns once no grant pass runs, and none runs after.
func (s *compactionScheduler) Unregister() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for s.granting {
		s.idle.Wait()
	}
}

// TrySchedule grants a compaction now if fewer than the allowed number run.
func (s *compactionScheduler) TrySchedule() (bool, pebble.CompactionGrantHandle) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false, nil
	}
	s.allowed = s.db.GetAllowedWithoutPermission()
	if s.running >= s.allowed {
		return false, nil
	}
	s.running++
	return true, s
}

// UpdateGetAllowedWithoutPermission grants waiting compactions if Pebble now allows more.
// Pebble may hold its own mutex when it calls this, which GetWaitingCompaction and Schedule
// take: the pass runs in a goroutine of its own.
func (s *compactionScheduler) UpdateGetAllowedWithoutPermission() {
	s.mu.Lock()
	a := s.db.GetAllowedWithoutPermission()
	more := a > s.allowed
	s.allowed = a
	s.mu.Unlock()
	if more {
		go s.grant()
	}
}

// The scheduler is its grants' handle.

func (s *compactionScheduler) Started()                                          {}
func (s *compactionScheduler) MeasureCPU(pebble.CompactionGoroutineKind)         {}
func (s *compactionScheduler) CumulativeStats(pebble.CompactionGrantHandleStats) {}

// Done ends a granted compaction and grants waiting ones in its place.
func (s *compactionScheduler) Done() {
	s.mu.Lock()
	s.running--
	s.mu.Unlock()
	s.grant()
}

// grant grants waiting compactions while fewer than the allowed number run. A call while a
// pass runs makes that pass look again instead.
func (s *compactionScheduler) grant() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.granting {
		s.again = true
		return
	}
	s.granting = true
	for again := true; again && !s.closed; {
		s.again = false
		for !s.closed {
			s.allowed = s.db.GetAllowedWithoutPermission()
			if s.running >= s.allowed {
				break
			}
			s.mu.Unlock()
			waiting, _ := s.db.GetWaitingCompaction()
			accepted := waiting && s.db.Schedule(s)
			s.mu.Lock()
			if !accepted {
				break
			}
			s.running++
		}
		again = s.again
	}
	s.granting = false
	s.idle.Broadcast()
}
