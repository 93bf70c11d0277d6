package fanout

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// gauge counts calls in flight, overall and per node, and remembers the peaks.
type gauge struct {
	mu      sync.Mutex
	now     int
	peak    int
	perNode map[int]int
	peakPer int
	calls   []int // nodes, in the order calls started
}

func (g *gauge) enter(node int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.perNode == nil {
		g.perNode = map[int]int{}
	}
	g.now++
	g.perNode[node]++
	g.peak = max(g.peak, g.now)
	g.peakPer = max(g.peakPer, g.perNode[node])
	g.calls = append(g.calls, node)
}

func (g *gauge) leave(node int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.now--
	g.perNode[node]--
}

func tasksOn(nodes, perNode int) []Task {
	var ts []Task
	for n := range nodes {
		for k := range perNode {
			ts = append(ts, Task{Node: n, Key: n*perNode + k, Weight: 1})
		}
	}
	return ts
}

// drain runs a job to its end, accepting every success with its tasks' weight.
func drain[T any](t *testing.T, j *Job[T]) (results []*Result[T]) {
	t.Helper()
	for {
		r, err := j.Next(time.Time{})
		if errors.Is(err, ErrDone) {
			return results
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		if r.Err == nil {
			for _, tk := range r.Tasks {
				j.Add(tk.Weight)
			}
		}
		results = append(results, r)
	}
}

// TestLimits: every task runs once, never more than Limit calls at once nor PerNode on one
// node.
func TestLimits(t *testing.T) {
	var g gauge
	tasks := tasksOn(5, 6)
	j := Start(context.Background(), Config{Nodes: 5, Limit: 4, PerNode: 2}, tasks, func(ctx context.Context, node int, ts []Task) (int, error) {
		g.enter(node)
		defer g.leave(node)
		time.Sleep(time.Millisecond)
		return ts[0].Key, nil
	})
	defer j.Stop()
	res := drain(t, j)
	var keys []int
	for _, r := range res {
		keys = append(keys, r.Value)
	}
	slices.Sort(keys)
	if len(keys) != len(tasks) || keys[0] != 0 || keys[len(keys)-1] != len(tasks)-1 || slices.Compact(keys) == nil {
		t.Fatalf("ran %v, want each of %d tasks once", keys, len(tasks))
	}
	if g.peak > 4 || g.peakPer > 2 {
		t.Fatalf("peaks: %d calls, %d on one node; limits 4 and 2", g.peak, g.peakPer)
	}
	if g.peak < 2 {
		t.Fatalf("peak of %d calls: the job did not run calls in parallel", g.peak)
	}
}

// TestQuorumWithTail: like an upload, the job needs the weight of most nodes; once it has
// it, the stragglers get a tail, and the one that hangs is cancelled when the tail ends.
func TestQuorumWithTail(t *testing.T) {
	weights := []int{3, 3, 3, 1}
	var tasks []Task
	for n, w := range weights {
		tasks = append(tasks, Task{Node: n, Weight: w})
	}
	var cancelled atomic.Bool
	tail := 50 * time.Millisecond
	j := Start(context.Background(), Config{Nodes: 4, Need: 9, Tail: func(time.Duration) time.Duration { return tail }}, tasks,
		func(ctx context.Context, node int, ts []Task) (int, error) {
			if node == 3 {
				<-ctx.Done() // hangs
				cancelled.Store(true)
				return 0, ctx.Err()
			}
			return node, nil
		})
	start := time.Now()
	res := drain(t, j)
	took := time.Since(start)
	if !j.Reached() || j.Progress() != 9 || len(res) != 3 {
		t.Fatalf("reached %v with %d from %d results, want 9 from 3", j.Reached(), j.Progress(), len(res))
	}
	if took < tail {
		t.Fatalf("the job ended after %v, before its tail of %v", took, tail)
	}
	j.Stop()
	if !cancelled.Load() {
		t.Fatal("the hanging call was not cancelled by Stop")
	}
}

// TestTailEndsEarly: once every call is in after the quorum, the job ends without waiting
// for the rest of the tail.
func TestTailEndsEarly(t *testing.T) {
	tasks := tasksOn(3, 1)
	j := Start(context.Background(), Config{Nodes: 3, Need: 2, Tail: func(time.Duration) time.Duration { return time.Hour }}, tasks,
		func(ctx context.Context, node int, ts []Task) (int, error) { return node, nil })
	defer j.Stop()
	done := make(chan int)
	go func() { done <- len(drain(t, j)) }()
	select {
	case n := <-done:
		if n != 3 {
			t.Fatalf("%d results, want 3", n)
		}
	case <-time.After(time.Minute):
		t.Fatal("the job waited for its tail although nothing was left to run")
	}
}

// TestFrugalHedged: a frugal job sends only as many requests as it needs; a node that stalls
// is hedged after the hedge delay (OnHedge tells of it) and another node's task is sent in
// its stead; the job ends once the need is met.
func TestFrugalHedged(t *testing.T) {
	var g gauge
	tasks := tasksOn(6, 1)
	var hedged []int
	j := Start(context.Background(), Config{Nodes: 6, Scores: []float64{1, 2, 3, 4, 5, 6}, Need: 3, Frugal: true,
		Hedge:   func() time.Duration { return 30 * time.Millisecond },
		OnHedge: func(node int, _ []Task) { hedged = append(hedged, node) }},
		tasks, func(ctx context.Context, node int, ts []Task) (int, error) {
			g.enter(node)
			defer g.leave(node)
			if node == 0 { // the fastest by score, but it stalls
				<-ctx.Done()
				return 0, ctx.Err()
			}
			return node, nil
		})
	res := drain(t, j)
	j.Stop()
	if j.Progress() != 3 {
		t.Fatalf("progress %d, want 3", j.Progress())
	}
	g.mu.Lock()
	calls := slices.Clone(g.calls)
	g.mu.Unlock()
	if len(calls) != 4 {
		t.Fatalf("%d calls (%v), want 3 needed + 1 in place of the stalled node", len(calls), calls)
	}
	if !slices.Equal(hedged, []int{0}) {
		t.Fatalf("hedged %v, want [0]", hedged)
	}
	if slices.Contains(calls[:3], 3) || !slices.Contains(calls, 3) {
		t.Fatalf("calls in order %v: node 3 (4th by score) should be asked only after the hedge", calls)
	}
	for _, r := range res {
		if r.Node == 0 {
			t.Fatal("the stalled node delivered a result")
		}
	}
}

// TestFrugalBatch: a frugal job with batches asks each node for at most what is still
// needed, in one call.
func TestFrugalBatch(t *testing.T) {
	tasks := tasksOn(3, 5) // 15 sources, 5 per node
	var mu sync.Mutex
	var sizes []int
	j := Start(context.Background(), Config{Nodes: 3, Need: 7, Frugal: true, Batch: 100}, tasks,
		func(ctx context.Context, node int, ts []Task) (int, error) {
			mu.Lock()
			sizes = append(sizes, len(ts))
			mu.Unlock()
			return len(ts), nil
		})
	defer j.Stop()
	drain(t, j)
	total := 0
	for _, s := range sizes {
		total += s
	}
	if total != 7 || len(sizes) != 2 {
		t.Fatalf("calls carried %v tasks, want 7 in two calls (5 + 2)", sizes)
	}
}

// TestOrderedWindow: an ordered job with Hold dispatches tasks in order and never has more
// than Limit calls in flight or held; releasing frees a slot.
func TestOrderedWindow(t *testing.T) {
	const rows, window = 20, 3
	var tasks []Task
	for r := range rows {
		tasks = append(tasks, Task{Node: r % 4, Key: r, Prio: r})
	}
	var mu sync.Mutex
	var order []int
	j := Start(context.Background(), Config{Nodes: 4, Limit: window, PerNode: 1, Ordered: true, Hold: true}, tasks,
		func(ctx context.Context, node int, ts []Task) (int, error) {
			mu.Lock()
			order = append(order, ts[0].Key)
			mu.Unlock()
			if ts[0].Key%3 == 0 {
				time.Sleep(2 * time.Millisecond) // finish out of order
			}
			return ts[0].Key, nil
		})
	defer j.Stop()
	got := map[int]bool{}
	next := 0
	for next < rows {
		r, err := j.Next(time.Time{})
		if err != nil {
			t.Fatalf("Next: %v (next row %d)", err, next)
		}
		got[r.Value] = true
		if j.Running()+j.held > window {
			t.Fatalf("%d running + %d held > window %d", j.Running(), j.held, window)
		}
		for got[next] { // write rows in order, releasing their slots
			delete(got, next)
			next++
			j.Release()
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(order) != rows {
		t.Fatalf("%d rows ran, want %d", len(order), rows)
	}
	// Calls start in goroutines of their own, so their start order is only nearly that of
	// dispatch; but row r is dispatched only once rows up to r-window were written, so every
	// one of those started before it.
	for pos, r := range order {
		for _, earlier := range order[pos+1:] {
			if earlier <= r-window {
				t.Fatalf("row %d started before row %d (order %v, window %d)", r, earlier, order, window)
			}
		}
	}
}

// TestRequeueAndDrop: a retried task runs again; a dropped node gets no more calls.
func TestRequeueAndDrop(t *testing.T) {
	tasks := tasksOn(2, 3)
	var calls [2]atomic.Int32
	failOnce := map[int]bool{}
	j := Start(context.Background(), Config{Nodes: 2, PerNode: 1}, tasks, func(ctx context.Context, node int, ts []Task) (int, error) {
		calls[node].Add(1)
		if node == 1 {
			return 0, errors.New("bad node")
		}
		return ts[0].Key, nil
	})
	defer j.Stop()
	for {
		r, err := j.Next(time.Time{})
		if errors.Is(err, ErrDone) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case r.Node == 1:
			j.Drop(1)
		case !failOnce[r.Tasks[0].Key]:
			failOnce[r.Tasks[0].Key] = true
			j.Requeue(r.Tasks[0])
		}
	}
	if calls[0].Load() != 6 || calls[1].Load() != 1 {
		t.Fatalf("node 0 got %d calls (want 3 tasks twice), node 1 %d (want 1, then dropped)", calls[0].Load(), calls[1].Load())
	}
}

// TestMoveOrdered: in an ordered windowed job, rows that node 0 cannot serve are moved to node
// 1, behind none of its later rows, and written in order; Drop returns the tasks it dropped.
func TestMoveOrdered(t *testing.T) {
	const rows, window = 12, 3
	var tasks []Task
	for r := range rows {
		tasks = append(tasks, Task{Node: r % 2, Key: r, Prio: r})
	}
	j := Start(context.Background(), Config{Nodes: 3, Limit: window, PerNode: 1, Ordered: true, Hold: true}, tasks,
		func(ctx context.Context, node int, ts []Task) (int, error) {
			if node == 0 {
				return 0, errors.New("not found")
			}
			return ts[0].Key, nil
		})
	defer j.Stop()
	got := map[int]bool{}
	var written []int
	for len(written) < rows {
		r, err := j.Next(time.Time{})
		if err != nil {
			t.Fatalf("Next: %v (written %v)", err, written)
		}
		if r.Err != nil {
			j.Release()
			mv := r.Tasks[0]
			mv.Node = 1
			j.Move(mv)
			continue
		}
		got[r.Value] = true
		for got[len(written)] {
			delete(got, len(written))
			written = append(written, len(written))
			j.Release()
		}
	}
	j.Move(Task{Node: 2, Key: 100, Prio: 5})
	j.Move(Task{Node: 2, Key: 101, Prio: 1})
	j.Move(Task{Node: 2, Key: 102, Prio: 9})
	var keys []int
	for _, d := range j.Drop(2) {
		keys = append(keys, d.Key)
	}
	if !slices.Equal(keys, []int{101, 100, 102}) {
		t.Fatalf("Drop returned %v, want the moved tasks by priority [101 100 102]", keys)
	}
	j.Move(Task{Node: 2, Key: 103})
	if d := j.Drop(2); len(d) != 0 {
		t.Fatalf("a task moved to a dropped node was queued: %v", d)
	}
}

// TestDeadlineAndStop: Next returns ErrTimeout at its deadline; Stop cancels the calls in
// flight, and values that arrive after the consumer stopped listening are discarded.
func TestDeadlineAndStop(t *testing.T) {
	var discarded atomic.Int32
	j := Start(context.Background(), Config{Nodes: 1, Discard: func(v any) { discarded.Add(int32(v.(int))) }}, tasksOn(1, 1),
		func(ctx context.Context, node int, ts []Task) (int, error) {
			<-ctx.Done()
			return 7, ctx.Err()
		})
	if _, err := j.Next(time.Now().Add(20 * time.Millisecond)); !errors.Is(err, ErrTimeout) {
		t.Fatalf("Next: %v, want ErrTimeout", err)
	}
	j.Stop()
	if discarded.Load() != 7 {
		t.Fatalf("discarded %d, want the late value 7", discarded.Load())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	j2 := Start(ctx, Config{Nodes: 1}, tasksOn(1, 1), func(ctx context.Context, node int, ts []Task) (int, error) { return 0, nil })
	defer j2.Stop()
	if _, err := j2.Next(time.Time{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Next on a cancelled context: %v", err)
	}
}

// TestScoresAndPriorities: among free nodes the lowest priority goes first, then the lowest
// expected wait (score x (calls in flight + 1)).
func TestScoresAndPriorities(t *testing.T) {
	tasks := []Task{{Node: 0, Key: 0, Prio: 1}, {Node: 1, Key: 1, Prio: 1}, {Node: 2, Key: 2, Prio: 0}}
	var order []int
	j := Start(context.Background(), Config{Nodes: 3, Limit: 1, Scores: []float64{5, 1, 9}}, tasks,
		func(ctx context.Context, node int, ts []Task) (int, error) { return ts[0].Key, nil })
	defer j.Stop()
	for _, r := range drain(t, j) {
		order = append(order, r.Value)
	}
	if !slices.Equal(order, []int{2, 1, 0}) {
		t.Fatalf("order %v, want [2 1 0] (priority first, then score)", order)
	}
}

// TestFinish: Finish ends a job at once (a status fan-out that found its answer).
func TestFinish(t *testing.T) {
	j := Start(context.Background(), Config{Nodes: 3}, tasksOn(3, 1), func(ctx context.Context, node int, ts []Task) (int, error) {
		if node != 0 {
			<-ctx.Done()
		}
		return node, nil
	})
	defer j.Stop()
	r, err := j.Next(time.Time{})
	if err != nil || r.Node != 0 {
		t.Fatalf("Next: %v %v", r, err)
	}
	j.Finish()
	if _, err := j.Next(time.Time{}); !errors.Is(err, ErrDone) {
		t.Fatalf("Next after Finish: %v", err)
	}
}
