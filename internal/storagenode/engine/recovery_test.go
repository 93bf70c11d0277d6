package engine

import (
	"slices"
	"testing"
	"time"

	"github.com/floelabs/floe/blob"
)

func TestRecoveryQueue(t *testing.T) {
	q := newRecoveryQueue(2)
	t0 := time.Unix(1000, 0)
	a, b, c := blob.ID{1}, blob.ID{2}, blob.ID{3}
	if !q.add(a, t0.Add(time.Second)) || !q.add(b, t0) || q.add(c, t0) {
		t.Fatal("a queue of 2 took a third blob, or refused one of the first two")
	}
	ids, wake := q.next(t0, 10)
	if !slices.Equal(ids, []blob.ID{b}) || !wake.Equal(t0.Add(time.Second)) {
		t.Fatalf("next at t0: %v, wake %v", ids, wake)
	}
	// Queued again while running: it runs once more, at once.
	q.add(b, t0)
	q.done(b, false, t0, func(int) time.Duration { return time.Hour })
	if ids, _ := q.next(t0, 10); !slices.Equal(ids, []blob.ID{b}) {
		t.Fatalf("re-queued blob not run again: %v", ids)
	}
	// A failure backs off by the retry delay of the attempt count.
	var attempts []int
	retry := func(n int) time.Duration { attempts = append(attempts, n); return time.Duration(n) * time.Minute }
	q.done(b, true, t0, retry)
	if ids, _ := q.next(t0.Add(59*time.Second), 10); !slices.Equal(ids, []blob.ID{a}) {
		t.Fatalf("at t0+59s, want only the other blob: %v", ids)
	}
	if ids, _ := q.next(t0.Add(time.Minute), 10); !slices.Equal(ids, []blob.ID{b}) {
		t.Fatalf("at t0+1m, want the backed-off blob: %v", ids)
	}
	q.done(b, true, t0, retry)
	q.done(a, false, t0, retry)
	if !slices.Equal(attempts, []int{1, 2}) || q.len() != 1 {
		t.Fatalf("attempts %v, queue length %d", attempts, q.len())
	}
	q.remove(b)
	if q.len() != 0 {
		t.Fatal("remove left the blob queued")
	}
}
