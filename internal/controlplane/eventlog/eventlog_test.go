package eventlog

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	cpapi "github.com/floelabs/floe/api/controlplane"
)

// block returns n events numbered from seq.
func block(seq uint64, n int) []cpapi.Event {
	evs := make([]cpapi.Event, n)
	for i := range evs {
		evs[i] = cpapi.Event{Seq: seq + uint64(i), Height: seq, Type: cpapi.EventTransfer, Amount: seq + uint64(i)}
	}
	return evs
}

func mustOpen(t *testing.T, dir string, keep uint64, seg int64) *Log {
	t.Helper()
	l, err := Open(dir, keep, &Options{SegmentBytes: seg})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestAppendReopenPruneRange(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, dir, 0, 2000)
	var seq uint64
	for range 100 {
		if err := l.Append(block(seq, 3)); err != nil {
			t.Fatal(err)
		}
		seq += 3
	}
	if err := l.Append(block(seq+1, 1)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("a gap appended: %v", err)
	}
	if len(l.segs) < 5 {
		t.Fatalf("%d segments; the log does not rotate", len(l.segs))
	}
	evs, err := l.Range(10, 5)
	if err != nil || len(evs) != 5 || evs[0].Seq != 10 || evs[4].Seq != 14 {
		t.Fatalf("range: %v %v", evs, err)
	}
	if evs, err := l.Range(seq, 5); err != nil || len(evs) != 0 {
		t.Fatalf("range at the end: %v %v", evs, err)
	}
	before, _ := l.Size()
	first, err := l.Prune(150)
	if err != nil {
		t.Fatal(err)
	}
	if first > 150 || first == 0 {
		t.Fatalf("pruned to %d", first)
	}
	after, _ := l.Size()
	if after >= before {
		t.Fatalf("pruning kept %d of %d bytes", after, before)
	}
	_, err = l.Range(first-1, 5)
	var pe *PrunedError
	if !errors.As(err, &pe) || !errors.Is(err, ErrPruned) || pe.Oldest != first {
		t.Fatalf("range below the pruned point: %v", err)
	}
	if evs, err := l.Range(first, 1); err != nil || evs[0].Seq != first {
		t.Fatalf("oldest retained: %v %v", evs, err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// Reopen keeping everything: the same events; keeping less: cut at a block boundary.
	l = mustOpen(t, dir, seq, 2000)
	if l.First() != first || l.Next() != seq {
		t.Fatalf("reopened at [%d, %d), want [%d, %d)", l.First(), l.Next(), first, seq)
	}
	l.Close()
	l = mustOpen(t, dir, 270, 2000)
	if l.First() != first || l.Next() != 270 {
		t.Fatalf("reopened keeping 270: [%d, %d)", l.First(), l.Next())
	}
	if err := l.Append(block(270, 3)); err != nil {
		t.Fatal(err)
	}
	l.Close()
	l = mustOpen(t, dir, 273, 2000)
	if evs, err := l.Range(268, 10); err != nil || len(evs) != 5 || evs[4].Seq != 272 {
		t.Fatalf("after re-append: %v %v", evs, err)
	}
	l.Close()
}

func TestTornTailAndGap(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, dir, 0, 1<<20)
	for s := uint64(0); s < 30; s += 3 {
		if err := l.Append(block(s, 3)); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	seg := segPath(dir, 0)
	fi, _ := os.Stat(seg)
	if err := os.Truncate(seg, fi.Size()-5); err != nil { // a torn last record
		t.Fatal(err)
	}
	l = mustOpen(t, dir, 27, 1<<20)
	if l.Next() != 27 {
		t.Fatalf("after a torn tail: next %d, want 27", l.Next())
	}
	l.Close()
	// The driver's state is at 40 but the log ends at 27 (lost): it restarts empty at 40.
	l = mustOpen(t, dir, 40, 1<<20)
	if l.First() != 40 || l.Next() != 40 {
		t.Fatalf("after a gap: [%d, %d)", l.First(), l.Next())
	}
	if _, err := l.Range(0, 1); !errors.Is(err, ErrPruned) {
		t.Fatalf("range in the lost part: %v", err)
	}
	if err := l.Append(block(40, 2)); err != nil {
		t.Fatal(err)
	}
	l.Close()
	files, _ := filepath.Glob(filepath.Join(dir, "events-*.log"))
	if len(files) != 1 {
		t.Fatalf("segments %v", files)
	}
}
