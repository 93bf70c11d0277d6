package engine

import (
	"context"
	"errors"
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

// TestSymbolSlotQueues: symbol requests beyond MaxSymbolRequests wait for a slot (up to
// SymbolWait), those beyond MaxSymbolWaiters are refused at once with ErrBusy, and a waiter
// that times out is refused with ErrBusy too.
func TestSymbolSlotQueues(t *testing.T) {
	rd := &Reads{core: &core{cfg: Options{MaxSymbolRequests: 1, MaxSymbolWaiters: 1, SymbolWait: time.Minute}},
		symbolSem: make(chan struct{}, 1)}
	ctx := context.Background()
	release, err := rd.symbolSlot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		rel, err := rd.symbolSlot(ctx)
		if err == nil {
			rel()
		}
		got <- err
	}()
	for rd.symbolWaiters.Load() != 1 { // the second request waits
		time.Sleep(time.Millisecond)
	}
	if _, err := rd.symbolSlot(ctx); !errors.Is(err, ErrBusy) {
		t.Fatalf("third request with the queue full: %v, want ErrBusy", err)
	}
	release()
	if err := <-got; err != nil {
		t.Fatalf("queued request after the slot was released: %v", err)
	}

	rd.cfg.SymbolWait = time.Millisecond
	release, err = rd.symbolSlot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if _, err := rd.symbolSlot(ctx); !errors.Is(err, ErrBusy) {
		t.Fatalf("request queued past SymbolWait: %v, want ErrBusy", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	rd.cfg.SymbolWait = time.Minute
	if _, err := rd.symbolSlot(cctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("request whose context ended while queued: %v, want context.Canceled", err)
	}
}
