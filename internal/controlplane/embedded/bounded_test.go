package embedded

import (
	"context"
	"errors"
	"flag"
	"testing"
	"time"

	cpapi "github.com/floelabs/floe/api/controlplane"
	"github.com/floelabs/floe/internal/controlplane/cptest"
	"github.com/floelabs/floe/internal/controlplane/eventlog"
)

var boundedBlocks = flag.Int("blocks", 2000, "blocks TestLogsStayBounded makes (10000 for the figures in the README)")

// TestLogsStayBounded makes many small blocks (one transfer each) with a snapshot every 100
// blocks and 500 events retained, and checks that the block log and the event log on disk
// stop growing: once the retention window has filled, their size never exceeds their largest
// size over the first third of the rest of the run (plus an event segment of slack). Run with
// -blocks=10000 for the figures it logs.
func TestLogsStayBounded(t *testing.T) {
	n := *boundedBlocks
	const snapEvery, retain, segBytes = 100, 500, 16 << 10
	warm := retain + 2*snapEvery
	if n < 2*warm {
		t.Fatalf("-blocks=%d: at least %d", n, 2*warm)
	}
	ref := warm + (n-warm)/3
	net := cptest.NewNetwork(10, 4, 2, 1e15, nil, t0)
	clock := &fakeClock{}
	clock.ms.Store(t0.UnixMilli())
	c, err := Open(t.TempDir(), &Options{Genesis: net.Genesis, Clock: clock.now, TickInterval: time.Hour, Logger: quiet(),
		SnapshotInterval: snapEvery, RetainEvents: retain, EventSegmentBytes: segBytes})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	alice, bob := net.Users[0], net.Users[1]
	var maxBlocks, maxEvents, peakBlocks, peakEvents int64
	start := time.Now()
	for i := 1; i <= n; i++ {
		clock.add(time.Millisecond)
		o, err := c.Submit(ctx, net.Sign(alice, cpapi.Op{Transfer: &cpapi.TransferOp{To: cpapi.Address(bob.Address()), Amount: 1}}))
		if err != nil || !o.OK() {
			t.Fatalf("block %d: %v %+v", i, err, o)
		}
		blocks, events, err := c.DiskUsage()
		if err != nil {
			t.Fatal(err)
		}
		peakBlocks, peakEvents = max(peakBlocks, blocks), max(peakEvents, events)
		switch {
		case i > warm && i <= ref:
			maxBlocks, maxEvents = max(maxBlocks, blocks), max(maxEvents, events)
		case i > ref && (blocks > maxBlocks || events > maxEvents+segBytes):
			t.Fatalf("after %d blocks: block log %d bytes, event log %d; from %d to %d at most %d and %d",
				i, blocks, events, warm, ref, maxBlocks, maxEvents)
		}
		if i%1000 == 0 || i == n {
			t.Logf("after %5d blocks: block log %7d bytes (peak so far %7d), event log %7d bytes (peak so far %7d)",
				i, blocks, peakBlocks, events, peakEvents)
		}
	}
	t.Logf("%d blocks in %v", n, time.Since(start).Round(time.Millisecond))
	// The oldest events are gone; the retained window is served.
	_, err = c.Events(ctx, 0, 10)
	var pe *eventlog.PrunedError
	if !errors.As(err, &pe) {
		t.Fatalf("events from 0 after %d blocks: %v", n, err)
	}
	if pe.Oldest > uint64(n)-retain {
		t.Fatalf("oldest retained event %d: fewer than the %d newest kept", pe.Oldest, retain)
	}
	if evs, err := c.Events(ctx, pe.Oldest, 10); err != nil || len(evs) != 10 || evs[0].Seq != pe.Oldest {
		t.Fatalf("events from the oldest retained: %v %v", evs, err)
	}
}
