package nodeclient

import (
	"sync"
	"time"
)

// failureMemory is how long a failure weighs on a node's score.
const failureMemory = time.Minute

// Latency is a node's smoothed response time, with a penalty for recent failures. Every
// request through a Client updates it; a node that answers (even with an error about the
// request) counts as alive.
type Latency struct {
	mu    sync.Mutex
	ewma  float64 // seconds; 0 = never measured
	fails int     // consecutive failures
	last  time.Time
	slow  time.Time // marked slow until then (see MarkSlow)
}

// Observe records a request that took d and succeeded (ok) or failed to get an answer.
func (l *Latency) Observe(d time.Duration, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.last = time.Now()
	if !ok {
		l.fails++
		return
	}
	l.fails, l.slow = 0, time.Time{} // a node that answers is no longer slow
	s := d.Seconds()
	if l.ewma == 0 {
		l.ewma = s
	} else {
		l.ewma = 0.8*l.ewma + 0.2*s
	}
}

// MarkSlow records that the node did not answer in time (a request still in flight that the
// caller stopped waiting for) or served invalid data: it ranks last for a minute, or until it
// answers a request.
func (l *Latency) MarkSlow() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.slow = time.Now().Add(failureMemory)
}

// Mean returns the smoothed response time (0 if never measured).
func (l *Latency) Mean() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return time.Duration(l.ewma * float64(time.Second))
}

// Failing reports whether the node failed, or was marked slow, within the last minute.
func (l *Latency) Failing() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	return (l.fails > 0 && now.Sub(l.last) < failureMemory) || now.Before(l.slow)
}

// Score orders nodes: lower is better. An unmeasured node ranks as fast as a small constant
// guess; each recent failure adds ten seconds, fading out after a minute.
func (l *Latency) Score() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.ewma
	if s == 0 {
		s = 0.005
	}
	now := time.Now()
	if l.fails > 0 && now.Sub(l.last) < failureMemory {
		s += float64(l.fails) * 10
	}
	if now.Before(l.slow) {
		s += 10
	}
	return s
}
