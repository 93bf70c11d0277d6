// Package fanout is the one scheduler of requests to the storage nodes of a committee: a job
// is a set of tasks, each served by one node; the job runs them as calls (one or a batch of a
// node's tasks each), bounded in all and per node, preferring the tasks of lower priority and
// the nodes expected to answer first, until the accepted weight reaches what the job needs.
// The SDK uses it for uploads (every node, until nodes holding n-f shards confirmed, then a
// tail for stragglers), streamed reads (rows in order, a window ahead of the writer), metadata
// fetches (the fastest nodes first, until one answers), and the sliver fetch of a decoding
// read; storage nodes use it for recovery (exactly as many sources as still missing, hedged
// when peers stall) and for collecting attestations.
//
// A Job is driven by one goroutine, its consumer: Next dispatches what the configuration
// allows and returns the next finished call; the consumer judges the outcome and tells the
// job (Add, Requeue, Drop, Finish, Release) before it calls Next again. The calls run on
// goroutines of their own and touch none of the job's state, so the bookkeeping of a fan-out
// is single-threaded however many requests it has in flight.
package fanout

import (
	"context"
	"errors"
	"iter"
	"math"
	"slices"
	"sync"
	"time"
)

// Errors returned by Next.
var (
	// ErrDone: the job is over: it reached what it needs (and its tail ended), the consumer
	// finished it, or nothing is left to run.
	ErrDone = errors.New("fanout: job over")
	// ErrTimeout: the deadline given to Next passed before a call finished.
	ErrTimeout = errors.New("fanout: deadline passed")
)

// Task is one unit of work, served by one node.
type Task struct {
	// Node is the index of the node that serves the task (0 <= Node < Config.Nodes).
	Node int
	// Key is the caller's name for the task (a row, a sliver pair, a source sliver, a member).
	Key int
	// Prio orders the tasks: a lower one is dispatched first.
	Prio int
	// Weight is what the task contributes towards Config.Need in a frugal job's bookkeeping of
	// calls in flight (the consumer says what a finished call achieved with Add).
	Weight int
}

// Config shapes a job. The zero value runs every task at once, one call each, and ends when
// all have finished.
type Config struct {
	// Nodes is the number of nodes; Scores, if not nil, their expected response times (lower
	// is preferred; equal scores go by node index).
	Nodes  int
	Scores []float64
	// Limit bounds the calls in flight (0: no bound); with Hold it counts held calls too.
	// PerNode bounds the calls in flight to one node (0: no bound).
	Limit   int
	PerNode int
	// Batch is the most tasks of one node one call carries (default 1).
	Batch int
	// Need is the weight (see Add) that completes the job; 0: the job runs every task.
	Need int
	// Frugal dispatches only while the weight accepted plus that of the calls in flight stays
	// below Need: no request is sent that could not be needed. A call running longer than
	// Hedge no longer counts as in flight, so others are sent in its stead (its answer still
	// counts when it comes); OnHedge is told of it once.
	Frugal  bool
	Hedge   func() time.Duration
	OnHedge func(node int, tasks []Task)
	// Ordered dispatches the tasks strictly in order (Prio, then the order they were given
	// in): a task waits while its node is busy even if later ones could run elsewhere.
	Ordered bool
	// Hold keeps a finished call's Limit slot until the consumer calls Release (a streamed
	// read's window: rows fetched but not yet written).
	Hold bool
	// Tail, if set, lets the calls in flight (and, unless Frugal, further tasks) run for
	// Tail(elapsed) more once Need is reached; without it the job ends at once.
	Tail func(elapsed time.Duration) time.Duration
	// Discard, if set, receives the values of calls that finished after the consumer stopped
	// listening (to recycle their buffers).
	Discard func(value any)
}

// Result is a finished call.
type Result[T any] struct {
	Node  int
	Tasks []Task
	Value T
	Err   error
	// Took is how long the call ran.
	Took time.Duration
}

type call struct {
	node   int
	tasks  []Task
	weight int
	start  time.Time
	hedged bool
}

type queued struct {
	t   Task
	seq int
}

// Job is a running fan-out. Its methods are called by one goroutine (see the package doc).
type Job[T any] struct {
	cfg    Config
	ctx    context.Context
	cancel context.CancelFunc
	do     func(ctx context.Context, node int, tasks []Task) (T, error)

	queue    [][]queued // per node, in dispatch order
	seq      int
	inflight []int
	dropped  []bool
	running  []*call
	held     int
	progress int
	start    time.Time
	tailEnd  time.Time // set once Need is reached (zero: not reached or no tail)
	reached  bool
	finished bool

	results chan callResult[T]
	stop    chan struct{}
	stopped bool
	wg      sync.WaitGroup
}

type callResult[T any] struct {
	c     *call
	value T
	err   error
	took  time.Duration
}

// Start returns a job over tasks; do serves one call (tasks of one node) and must return when
// its context ends. Nothing runs before the first Next. Stop must be called when the consumer
// is done with the job.
func Start[T any](ctx context.Context, cfg Config, tasks []Task, do func(ctx context.Context, node int, tasks []Task) (T, error)) *Job[T] {
	if cfg.Batch <= 0 {
		cfg.Batch = 1
	}
	j := &Job[T]{cfg: cfg, do: do, queue: make([][]queued, cfg.Nodes), inflight: make([]int, cfg.Nodes),
		dropped: make([]bool, cfg.Nodes), results: make(chan callResult[T]), stop: make(chan struct{}), start: time.Now()}
	j.ctx, j.cancel = context.WithCancel(ctx)
	// Lower priorities first; the order given is kept among equals.
	sorted := slices.Clone(tasks)
	slices.SortStableFunc(sorted, func(a, b Task) int { return a.Prio - b.Prio })
	for _, t := range sorted {
		j.push(t)
	}
	return j
}

func (j *Job[T]) push(t Task) {
	j.queue[t.Node] = append(j.queue[t.Node], queued{t, j.seq})
	j.seq++
}

// Add records that a finished call achieved weight w towards Need.
func (j *Job[T]) Add(w int) {
	j.progress += w
	if !j.reached && j.cfg.Need > 0 && j.progress >= j.cfg.Need {
		j.reached = true
		if j.cfg.Tail != nil {
			j.tailEnd = time.Now().Add(j.cfg.Tail(time.Since(j.start)))
		}
	}
}

// Progress returns the weight added so far.
func (j *Job[T]) Progress() int { return j.progress }

// Reached reports whether the added weight reached Need.
func (j *Job[T]) Reached() bool { return j.reached }

// Requeue queues a task again (a retry of a task whose call failed), after the node's other
// tasks.
func (j *Job[T]) Requeue(t Task) {
	if !j.dropped[t.Node] {
		j.push(t)
	}
}

// Move queues t on t.Node (a task another node could not serve) ahead of that node's
// queued tasks of higher Prio, so that an Ordered job dispatches it in its turn.
func (j *Job[T]) Move(t Task) {
	if j.dropped[t.Node] {
		return
	}
	q := j.queue[t.Node]
	i := 0
	for i < len(q) && q[i].t.Prio <= t.Prio {
		i++
	}
	j.queue[t.Node] = slices.Insert(q, i, queued{t, j.seq})
	j.seq++
}

// Drop drops the tasks still queued for node and every later one (a node that served invalid
// data or cannot be reached); its calls in flight finish. It returns the tasks it dropped
// from the queue (the caller may Move them to other nodes).
func (j *Job[T]) Drop(node int) []Task {
	j.dropped[node] = true
	out := make([]Task, len(j.queue[node]))
	for i, q := range j.queue[node] {
		out[i] = q.t
	}
	j.queue[node] = nil
	return out
}

// Dropped reports whether node was dropped.
func (j *Job[T]) Dropped(node int) bool { return j.dropped[node] }

// Finish ends the job: Next returns ErrDone from now on.
func (j *Job[T]) Finish() { j.finished = true }

// Release frees the Limit slot of one held call (see Config.Hold).
func (j *Job[T]) Release() {
	if j.held > 0 {
		j.held--
	}
}

// Running returns the number of calls in flight.
func (j *Job[T]) Running() int { return len(j.running) }

// Next dispatches the calls the configuration allows and returns the next one to finish. It
// returns ErrDone once the job is over, ErrTimeout if deadline (unless zero) passes first, and
// the context's error if it ends.
func (j *Job[T]) Next(deadline time.Time) (*Result[T], error) {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		if err := j.ctx.Err(); err != nil {
			return nil, err
		}
		now := time.Now()
		j.hedges(now)
		if j.over(now) {
			return nil, ErrDone
		}
		j.dispatch(now)
		if len(j.running) == 0 {
			return nil, ErrDone // nothing runs and nothing more may start
		}
		var wake time.Time
		if j.reached && !j.tailEnd.IsZero() {
			wake = j.tailEnd
		}
		if j.cfg.Frugal {
			// Calls that will stop counting as in flight may let more start.
			wake = earliest(wake, j.nextHedge())
		}
		wake = earliest(wake, deadline)
		var tc <-chan time.Time
		if !wake.IsZero() {
			d := max(time.Until(wake), time.Microsecond)
			if timer == nil {
				timer = time.NewTimer(d)
			} else {
				timer.Reset(d)
			}
			tc = timer.C
		}
		select {
		case r := <-j.results:
			return j.settle(r), nil
		case <-tc:
			if !deadline.IsZero() && !time.Now().Before(deadline) {
				return nil, ErrTimeout
			}
		case <-j.ctx.Done():
			return nil, j.ctx.Err()
		}
	}
}

// Results iterates over the finished calls (see Next) until the job is over; an error of
// Next other than ErrDone ends the iteration and is stored in *err (nil otherwise).
func (j *Job[T]) Results(err *error) iter.Seq[*Result[T]] {
	return func(yield func(*Result[T]) bool) {
		*err = nil
		for {
			r, e := j.Next(time.Time{})
			if e != nil {
				if !errors.Is(e, ErrDone) {
					*err = e
				}
				return
			}
			if !yield(r) {
				return
			}
		}
	}
}

// over reports whether the job has ended for the consumer.
func (j *Job[T]) over(now time.Time) bool {
	if j.finished {
		return true
	}
	if !j.reached {
		return false
	}
	if j.cfg.Tail == nil || !now.Before(j.tailEnd) {
		return true
	}
	return len(j.running) == 0 && (j.cfg.Frugal || !j.hasQueued())
}

func (j *Job[T]) hasQueued() bool {
	for n, q := range j.queue {
		if len(q) > 0 && !j.dropped[n] {
			return true
		}
	}
	return false
}

// hedge returns the current hedge delay (0: none).
func (j *Job[T]) hedge() time.Duration {
	if !j.cfg.Frugal || j.cfg.Hedge == nil {
		return 0
	}
	return j.cfg.Hedge()
}

// hedges marks the calls that ran past the hedge delay, telling OnHedge.
func (j *Job[T]) hedges(now time.Time) {
	h := j.hedge()
	if h <= 0 {
		return
	}
	for _, c := range j.running {
		if !c.hedged && now.Sub(c.start) >= h {
			c.hedged = true
			if j.cfg.OnHedge != nil {
				j.cfg.OnHedge(c.node, c.tasks)
			}
		}
	}
}

// nextHedge returns when the next call in flight passes the hedge delay (zero: none will).
func (j *Job[T]) nextHedge() time.Time {
	h := j.hedge()
	if h <= 0 {
		return time.Time{}
	}
	var t time.Time
	for _, c := range j.running {
		if !c.hedged {
			t = earliest(t, c.start.Add(h))
		}
	}
	return t
}

// live returns the weight of the calls in flight that have not passed the hedge delay.
func (j *Job[T]) live() int {
	w := 0
	for _, c := range j.running {
		if !c.hedged {
			w += c.weight
		}
	}
	return w
}

// dispatch starts the calls the configuration allows.
func (j *Job[T]) dispatch(now time.Time) {
	if j.finished || (j.reached && (j.cfg.Frugal || j.cfg.Tail == nil || !now.Before(j.tailEnd))) {
		return
	}
	for {
		if j.cfg.Limit > 0 && len(j.running)+j.held >= j.cfg.Limit {
			return
		}
		room := math.MaxInt
		if j.cfg.Frugal && j.cfg.Need > 0 {
			if room = j.cfg.Need - j.progress - j.live(); room <= 0 {
				return
			}
		}
		node := j.pick()
		if node < 0 {
			return
		}
		q := j.queue[node]
		k, w := 0, 0
		for k < len(q) && k < j.cfg.Batch && (k == 0 || w+q[k].t.Weight <= room) {
			w += q[k].t.Weight
			k++
		}
		tasks := make([]Task, k)
		for i := range k {
			tasks[i] = q[i].t
		}
		j.queue[node] = q[k:]
		c := &call{node: node, tasks: tasks, weight: w, start: now}
		j.running = append(j.running, c)
		j.inflight[node]++
		j.wg.Add(1)
		go j.run(c)
	}
}

// pick returns the node whose next task to dispatch, or -1.
func (j *Job[T]) pick() int {
	free := func(n int) bool { return j.cfg.PerNode <= 0 || j.inflight[n] < j.cfg.PerNode }
	if j.cfg.Ordered {
		best := -1
		for n, q := range j.queue {
			if len(q) == 0 || j.dropped[n] {
				continue
			}
			if best < 0 || q[0].t.Prio < j.queue[best][0].t.Prio ||
				(q[0].t.Prio == j.queue[best][0].t.Prio && q[0].seq < j.queue[best][0].seq) {
				best = n
			}
		}
		if best >= 0 && !free(best) {
			return -1
		}
		return best
	}
	best := -1
	var bestCost float64
	for n, q := range j.queue {
		if len(q) == 0 || j.dropped[n] || !free(n) {
			continue
		}
		cost := j.score(n) * float64(j.inflight[n]+1)
		if best < 0 || q[0].t.Prio < j.queue[best][0].t.Prio || (q[0].t.Prio == j.queue[best][0].t.Prio && cost < bestCost) {
			best, bestCost = n, cost
		}
	}
	return best
}

func (j *Job[T]) score(n int) float64 {
	if n < len(j.cfg.Scores) {
		return j.cfg.Scores[n]
	}
	return 1
}

func (j *Job[T]) run(c *call) {
	defer j.wg.Done()
	start := time.Now()
	v, err := j.do(j.ctx, c.node, c.tasks)
	r := callResult[T]{c: c, value: v, err: err, took: time.Since(start)}
	select {
	case j.results <- r:
	case <-j.stop:
		if j.cfg.Discard != nil {
			j.cfg.Discard(v)
		}
	}
}

// settle books a finished call and returns its result.
func (j *Job[T]) settle(r callResult[T]) *Result[T] {
	c := r.c
	j.running = slices.DeleteFunc(j.running, func(x *call) bool { return x == c })
	j.inflight[c.node]--
	if j.cfg.Hold {
		j.held++
	}
	return &Result[T]{Node: c.node, Tasks: c.tasks, Value: r.value, Err: r.err, Took: r.took}
}

// Stop cancels the calls in flight and waits for them to return. The job cannot be used
// afterwards.
func (j *Job[T]) Stop() {
	if j.stopped {
		return
	}
	j.stopped = true
	j.cancel()
	close(j.stop)
	j.wg.Wait()
}

// Elapsed returns the time since the job started.
func (j *Job[T]) Elapsed() time.Duration { return time.Since(j.start) }

func earliest(a, b time.Time) time.Time {
	switch {
	case a.IsZero():
		return b
	case b.IsZero() || a.Before(b):
		return a
	}
	return b
}
