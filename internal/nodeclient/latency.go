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
	// floor and prevFloor are the least successful response times (seconds; 0: none) of
	// the current and of the previous floorWindow, floorAt when the current one began.
	floor, prevFloor float64
	floorAt          time.Time
}

// floorWindow is how long a response time stays in the floor (see Floor): between one and two
// windows.
const floorWindow = 30 * time.Second

// Observe records a request that took d and succeeded (ok) or failed to get an answer.
func (l *Latency) Observe(d time.Duration, ok bool) { l.observeAt(time.Now(), d, ok) }

// observeAt is Observe at time now.
func (l *Latency) observeAt(now time.Time, d time.Duration, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.last = now
	if !ok {
		l.fails++
		return
	}
	l.fails, l.slow = 0, time.Time{} // a node that answers is no longer slow
	s := d.Seconds()
	if l.last.Sub(l.floorAt) > floorWindow {
		l.prevFloor, l.floor, l.floorAt = l.floor, 0, l.last
	}
	if l.floor == 0 || s < l.floor {
		l.floor = s
	}
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

// Floor returns the least response time of the requests that succeeded in the last 30 to 60
// seconds (0 if none): the node's distance, round trip and service time, without the transfer
// times and queueing that the mean also holds.
func (l *Latency) Floor() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.floor
	if l.prevFloor > 0 && (f == 0 || l.prevFloor < f) {
		f = l.prevFloor
	}
	return time.Duration(f * float64(time.Second))
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
