package embedded

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	cpapi "github.com/floelabs/floe/api/controlplane"
	"github.com/floelabs/floe/internal/controlplane"
	"github.com/floelabs/floe/internal/controlplane/cptest"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// fakeClock is a settable clock.
type fakeClock struct{ ms atomic.Int64 }

func (c *fakeClock) now() time.Time      { return time.UnixMilli(c.ms.Load()) }
func (c *fakeClock) add(d time.Duration) { c.ms.Add(d.Milliseconds()) }

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func open(t *testing.T, dir string, net *cptest.Network, clock *fakeClock) *Chain {
	t.Helper()
	return openEvery(t, dir, net, clock, 3)
}

// openEvery opens the chain with a snapshot every snapEvery blocks.
func openEvery(t *testing.T, dir string, net *cptest.Network, clock *fakeClock, snapEvery int) *Chain {
	t.Helper()
	c, err := Open(dir, &Options{Genesis: net.Genesis, Clock: clock.now, TickInterval: 5 * time.Millisecond, Logger: quiet(), SnapshotInterval: snapEvery})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// lastSegment returns the path of the newest block log segment.
func lastSegment(t *testing.T, dir string) string {
	t.Helper()
	segs, err := listSegments(dir)
	if err != nil || len(segs) == 0 {
		t.Fatalf("no block log segment: %v", err)
	}
	return segName(dir, segs[len(segs)-1])
}

func TestSubmitPersistRestart(t *testing.T) {
	dir := t.TempDir()
	net := cptest.NewNetwork(10, 4, 2, 1e9, nil, t0)
	clock := &fakeClock{}
	clock.ms.Store(t0.UnixMilli())
	// No snapshot before Close: the whole log stays, and replays without a snapshot.
	c := openEvery(t, dir, net, clock, 1000)
	ctx := context.Background()
	alice, bob := net.Users[0], net.Users[1]
	for i := 0; i < 5; i++ {
		clock.add(time.Second)
		o, err := c.Submit(ctx, net.Sign(alice, cpapi.Op{Transfer: &cpapi.TransferOp{To: cpapi.Address(bob.Address()), Amount: 10}}))
		if err != nil || !o.OK() {
			t.Fatalf("submit %d: %v %+v", i, err, o)
		}
	}
	// Rejected at admission: replayed nonce, bad signature.
	net.SetNonce(alice, 0)
	if _, err := c.Submit(ctx, net.Sign(alice, cpapi.Op{Transfer: &cpapi.TransferOp{To: cpapi.Address(bob.Address()), Amount: 1}})); !errors.Is(err, controlplane.ErrBadNonce) {
		t.Fatalf("replay: %v", err)
	}
	net.SetNonce(alice, 5)
	raw := net.Sign(alice, cpapi.Op{Transfer: &cpapi.TransferOp{To: cpapi.Address(bob.Address()), Amount: 1}})
	raw[len(raw)-1] ^= 1
	if _, err := c.Submit(ctx, raw); !errors.Is(err, controlplane.ErrBadSignature) {
		t.Fatalf("bad signature: %v", err)
	}
	// Rejected at admission: a transfer the sender cannot pay.
	net.SetNonce(alice, 5)
	if _, err := c.Submit(ctx, net.Sign(alice, cpapi.Op{Transfer: &cpapi.TransferOp{To: cpapi.Address(bob.Address()), Amount: 2e9}})); !errors.Is(err, controlplane.ErrInsufficientBalance) {
		t.Fatalf("insufficient: %v", err)
	}
	// Executed but failed: included, nonce consumed, error reported.
	net.SetNonce(alice, 5)
	o, err := c.Submit(ctx, net.Sign(alice, cpapi.Op{DeleteBlob: &cpapi.DeleteBlobOp{BlobObjectID: cpapi.ObjectID{1}}}))
	if err != nil || o.Code != "not_found" {
		t.Fatalf("deleting an unknown blob: %v %+v", err, o)
	}
	var height uint64
	var hash controlplane.Hash
	var bal uint64
	c.View(func(s *controlplane.State, h controlplane.Hash) {
		height, hash, bal = s.Height(), h, s.Account(bob.Address()).Balance
	})
	evs, err := c.Events(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if bal != 1e9+50 || height != 6 {
		t.Fatalf("bob %d height %d", bal, height)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Submit(ctx, net.Sign(alice, cpapi.Op{Transfer: &cpapi.TransferOp{To: cpapi.Address(bob.Address()), Amount: 1}})); err == nil {
		t.Fatal("submit after close succeeded")
	}

	// A torn record at the end (a crash mid-append) is cut off on restart. Close wrote a
	// snapshot and dropped the segments it covers, so the torn record starts a new one.
	f, err := os.OpenFile(segName(dir, height+1), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{200, 0, 0, 0, 1, 2, 3, 4, '{', '"'})
	f.Close()

	c2 := open(t, dir, net, clock)
	c2.View(func(s *controlplane.State, h controlplane.Hash) {
		if s.Height() != height || h != hash || s.Account(bob.Address()).Balance != bal {
			t.Fatalf("after restart height %d hash %s, want %d %s", s.Height(), h, height, hash)
		}
	})
	evs2, _ := c2.Events(ctx, 0, 1000)
	if len(evs2) != len(evs) || evs2[len(evs2)-1] != evs[len(evs)-1] {
		t.Fatalf("events after restart: %d, before %d", len(evs2), len(evs))
	}
	// The chain goes on from where it stopped.
	net.SetNonce(alice, 6)
	clock.add(time.Second)
	if o, err := c2.Submit(ctx, net.Sign(alice, cpapi.Op{Transfer: &cpapi.TransferOp{To: cpapi.Address(bob.Address()), Amount: 1}})); err != nil || !o.OK() || o.Height != height+1 {
		t.Fatalf("after restart: %v %+v", err, o)
	}
	c2.Close()
	var wantHash controlplane.Hash
	var wantEvents int
	c3 := open(t, dir, net, clock)
	c3.View(func(s *controlplane.State, h controlplane.Hash) { wantHash = h })
	evs3, _ := c3.Events(ctx, 0, 10000)
	wantEvents = len(evs3)
	if wantEvents != len(evs)+1 {
		t.Fatalf("%d events after one more transfer, %d before", wantEvents, len(evs))
	}
	c3.Close()
	snapPath := filepath.Join(dir, "snapshot.json")
	snapBytes, err := os.ReadFile(snapPath)
	if err != nil {
		t.Fatalf("no snapshot after Close: %v", err)
	}
	// The snapshot covers every block: the log holds none, and losing the snapshot loses the
	// chain, which is refused rather than restarted from genesis.
	if segs, _ := listSegments(dir); len(segs) != 1 || segs[0] != height+2 {
		t.Fatalf("block log segments %v behind the snapshot at %d", segs, height+1)
	}
	if st, err := os.Stat(segName(dir, height+2)); err != nil || st.Size() != 0 {
		t.Fatalf("the segment after the snapshot: %v %v", st, err)
	}
	os.Remove(snapPath)
	if _, err := Open(dir, &Options{Logger: quiet()}); err == nil {
		t.Fatal("a chain without its snapshot and with its blocks pruned opened")
	}
	os.WriteFile(snapPath, snapBytes, 0o644)
	c4 := open(t, dir, net, clock)
	c4.View(func(s *controlplane.State, h controlplane.Hash) {
		if h != wantHash {
			t.Fatalf("reopened from the snapshot alone: hash %s, want %s", h, wantHash)
		}
	})
	if evs4, _ := c4.Events(ctx, 0, 10000); len(evs4) != wantEvents {
		t.Fatalf("reopened from the snapshot alone: %d events, want %d", len(evs4), wantEvents)
	}
	c4.Close()
	// A snapshot that does not match the log is refused.
	var snap map[string]json.RawMessage
	json.Unmarshal(snapBytes, &snap)
	snap["app_hash"] = json.RawMessage(`"` + strings.Repeat("00", 32) + `"`)
	bad, _ := json.Marshal(snap)
	os.WriteFile(snapPath, bad, 0o644)
	if _, err := Open(dir, &Options{Logger: quiet()}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("mismatched snapshot: %v", err)
	}
	os.Remove(snapPath)

	// A different genesis for the same directory is refused.
	other := cptest.NewNetwork(10, 4, 3, 1e9, nil, t0)
	if _, err := Open(dir, &Options{Genesis: other.Genesis, Logger: quiet()}); !errors.Is(err, ErrGenesisDiffs) {
		t.Fatalf("other genesis: %v", err)
	}
}

func TestCorruptLogDetected(t *testing.T) {
	dir := t.TempDir()
	net := cptest.NewNetwork(10, 4, 2, 1e9, nil, t0)
	clock := &fakeClock{}
	clock.ms.Store(t0.UnixMilli())
	c := openEvery(t, dir, net, clock, 1000)
	for i := 0; i < 3; i++ {
		clock.add(time.Second)
		if _, err := c.Submit(context.Background(), net.Sign(net.Users[0], cpapi.Op{Transfer: &cpapi.TransferOp{To: cpapi.Address(net.Users[1].Address()), Amount: 1}})); err != nil {
			t.Fatal(err)
		}
	}
	// Corrupting an acknowledged record in the middle of the log is refused, not truncated.
	// (The log as a crash would leave it: Close snapshots and drops the segments.)
	path := lastSegment(t, dir)
	b, _ := os.ReadFile(path)
	c.Close()
	os.Remove(filepath.Join(dir, "snapshot.json"))
	if segs, _ := listSegments(dir); len(segs) != 1 || segs[0] != 4 {
		t.Fatalf("segments after Close: %v", segs)
	}
	os.Remove(segName(dir, 4))
	b[20] ^= 0xff
	os.WriteFile(path, b, 0o644)
	if _, err := Open(dir, &Options{Logger: quiet()}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("corrupt middle record: %v", err)
	}
	// Corrupting the last record's payload looks like a torn append: it is cut off and the
	// chain reopens one block shorter.
	b[20] ^= 0xff
	b[len(b)-3] ^= 0xff
	os.WriteFile(path, b, 0o644)
	c2, err := Open(dir, &Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	c2.View(func(s *controlplane.State, _ controlplane.Hash) {
		if s.Height() != 2 {
			t.Fatalf("height %d after tearing the last of 3 records", s.Height())
		}
	})
}

func TestEpochChangeByClockAndEvents(t *testing.T) {
	net := cptest.NewNetwork(10, 4, 1, 1e9, nil, t0)
	clock := &fakeClock{}
	clock.ms.Store(t0.UnixMilli())
	c := open(t, t.TempDir(), net, clock)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var start uint64
	c.View(func(s *controlplane.State, _ controlplane.Hash) { start = s.EventSeq() })
	got := make(chan []cpapi.Event, 1)
	go func() {
		evs, _ := c.Events(ctx, start, 10)
		got <- evs
	}()
	clock.add(time.Duration(net.Genesis.Params.EpochDurationMs) * time.Millisecond)
	evs := <-got
	// One block past the whole epoch: voting end (the next committee), then the change.
	if len(evs) < 2 || evs[0].Type != cpapi.EventEpochParametersSelected || evs[1].Type != cpapi.EventEpochChangeStart || evs[1].Epoch != 2 {
		t.Fatalf("events %+v", evs)
	}
	// A long poll with nothing new returns empty at its deadline.
	short, cancel2 := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel2()
	var seq uint64
	c.View(func(s *controlplane.State, _ controlplane.Hash) { seq = s.EventSeq() })
	if evs, err := c.Events(short, seq, 10); err != nil || len(evs) != 0 {
		t.Fatalf("idle poll: %v %v", evs, err)
	}
}

func TestConcurrentSubmit(t *testing.T) {
	const users, perUser = 8, 20
	net := cptest.NewNetwork(10, 4, users, 1e9, nil, t0)
	c, err := Open(t.TempDir(), &Options{Genesis: net.Genesis, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var wg sync.WaitGroup
	errs := make(chan error, users)
	for u := 0; u < users; u++ {
		wg.Add(1)
		go func(u int) {
			defer wg.Done()
			for i := 0; i < perUser; i++ {
				o, err := c.Submit(context.Background(), net.Sign(net.Users[u], cpapi.Op{Transfer: &cpapi.TransferOp{To: cpapi.Address(net.Users[(u+1)%users].Address()), Amount: 1}}))
				if err != nil || !o.OK() {
					if err == nil {
						err = fmt.Errorf("%s: %s", o.Code, o.Error)
					}
					errs <- err
					return
				}
			}
		}(u)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	c.View(func(s *controlplane.State, _ controlplane.Hash) {
		for u := 0; u < users; u++ {
			if n := s.Account(net.Users[u].Address()).Nonce; n != perUser {
				t.Fatalf("user %d nonce %d", u, n)
			}
		}
	})
}
