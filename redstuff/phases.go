package redstuff

import "sync/atomic"

// phase is a part of an expansion's work, timed by a phaseClock.
type phase int

const (
	phaseExpand   phase = iota // all of expand's per-row and per-column work (the rest of which is copies and layout)
	phaseLeaves                // leaf hashing (part of phaseExpand)
	phaseRS                    // Reed-Solomon encoding (part of phaseExpand)
	phaseMerkle                // the 2n row and column Merkle roots
	phaseMetadata              // the root over the pair hashes
	numPhases
)

// phaseClock sums the time spent in each phase over all workers, as read by clock (in
// nanoseconds; a benchmark uses the calling thread's CPU time). A nil *phaseClock (the
// default) measures nothing; tests and benchmarks set one with withPhaseClock.
type phaseClock struct {
	clock func() int64
	ns    [numPhases]atomic.Int64
}

func (c *phaseClock) now() int64 {
	if c == nil {
		return 0
	}
	return c.clock()
}

func (c *phaseClock) since(p phase, start int64) {
	if c != nil {
		c.ns[p].Add(c.clock() - start)
	}
}

// withPhaseClock makes the Encoder add its phase times to c.
func withPhaseClock(c *phaseClock) Option { return func(e *Encoder) { e.clock = c } }
