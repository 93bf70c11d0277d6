package cometbft

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	cpapi "github.com/floelabs/floe/api/controlplane"
	"github.com/floelabs/floe/internal/controlplane"
	"github.com/floelabs/floe/internal/controlplane/cpconformance"
	"github.com/floelabs/floe/internal/controlplane/cpserver"
	"github.com/floelabs/floe/internal/controlplane/cptest"
	"github.com/floelabs/floe/internal/controlplane/snapfile"
)

// testTimeouts are loopback timeouts that keep tests quick.
var testTimeouts = Timeouts{Propose: 500 * time.Millisecond, Vote: 100 * time.Millisecond, Commit: 50 * time.Millisecond}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// initNet writes a network of n validators for g under a temporary directory.
func initNet(t testing.TB, n int, g *controlplane.Genesis) []Validator {
	t.Helper()
	tt := testTimeouts
	vals, err := InitNetwork(NetworkConfig{Dir: t.TempDir(), Validators: n, Genesis: g, Timeouts: &tt})
	if err != nil {
		t.Fatal(err)
	}
	return vals
}

func openNode(t testing.TB, home string, o *Options) *Node {
	t.Helper()
	if o == nil {
		o = &Options{}
	}
	if o.Logger == nil {
		o.Logger = quiet()
	}
	n, err := Open(home, o)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestConformance(t *testing.T) {
	cpconformance.Run(t, func(t *testing.T, g *controlplane.Genesis) cpserver.Backend {
		vals := initNet(t, 1, g)
		n := openNode(t, vals[0].Home, nil)
		t.Cleanup(func() {
			if err := n.Close(); err != nil {
				t.Error(err)
			}
		})
		return n
	})
}

// TestRestart stops a single validator (cleanly, and with its snapshot removed as after a
// crash) and requires the restarted node to replay to the same state and event history and
// go on from there.
func TestRestart(t *testing.T) {
	net := cpconformance.NewNetwork()
	vals := initNet(t, 1, net.Genesis)
	home := vals[0].Home
	opts := &Options{SnapshotInterval: 4, RetainBlocks: 3}
	n := openNode(t, home, opts)
	ctx := context.Background()
	alice, bob := net.Users[0], net.Users[1]
	for i := range 6 {
		inc, err := n.Submit(ctx, net.Sign(alice, cpapi.Op{Transfer: &cpapi.TransferOp{To: cpapi.Address(bob.Address()), Amount: uint64(1 + i)}}))
		if err != nil || !inc.OK() {
			t.Fatalf("submit %d: %v %+v", i, err, inc)
		}
	}
	waitHeight(t, n, 12)
	if base := n.node.BlockStore().Base(); base < 2 {
		t.Fatalf("no blocks pruned: base %d at height %d", base, n.node.BlockStore().Height())
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Submit(ctx, net.Sign(alice, cpapi.Op{Transfer: &cpapi.TransferOp{To: cpapi.Address(bob.Address()), Amount: 1}})); err == nil {
		t.Fatal("submit after close succeeded")
	}
	var height uint64
	var hash controlplane.Hash
	n.View(func(s *controlplane.State, h controlplane.Hash) { height, hash = s.Height(), h })
	evs, err := n.Events(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var snap snapfile.Snapshot
	b, err := os.ReadFile(filepath.Join(home, "data", "floe", "snapshot.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &snap); err != nil || snap.Height != height || snap.AppHash != hash {
		t.Fatalf("snapshot on close at %d %s, state at %d %s (%v)", snap.Height, snap.AppHash, height, hash, err)
	}
	// Roll back to an older snapshot, as if killed before the last one: the node replays
	// CometBFT's blocks after it (and cuts the event log back to the snapshot).
	n2 := openNode(t, home, &Options{SnapshotInterval: 1000})
	waitHeight(t, n2, height+5)
	if err := n2.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, "data", "floe", "snapshot.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}

	n3 := openNode(t, home, &Options{SnapshotInterval: 1000})
	defer n3.Close()
	net.SetNonce(alice, 6)
	inc, err := n3.Submit(ctx, net.Sign(alice, cpapi.Op{Transfer: &cpapi.TransferOp{To: cpapi.Address(bob.Address()), Amount: 1}}))
	if err != nil || !inc.OK() {
		t.Fatalf("after restart: %v %+v", err, inc)
	}
	evs3, err := n3.Events(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs3) != len(evs)+1 {
		t.Fatalf("events after restart %d, before %d", len(evs3), len(evs))
	}
	for i := range evs {
		if evs3[i] != evs[i] {
			t.Fatalf("event %d differs after restart: %+v vs %+v", i, evs3[i], evs[i])
		}
	}
	if err := cpconformance.Check(ctx, n3, net.Genesis, nil); err == nil {
		t.Fatal("the check accepted a history without the node's transactions")
	}
	n3.View(func(s *controlplane.State, _ controlplane.Hash) {
		if got := s.Account(bob.Address()).Balance; got != 1e12+21+1 {
			t.Fatalf("bob has %d", got)
		}
	})
}

// waitHeight waits until the node has committed height h.
func waitHeight(t testing.TB, n *Node, h uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for n.app.committedHeight() < h {
		select {
		case <-ctx.Done():
			t.Fatalf("height %d not reached (at %d)", h, n.app.committedHeight())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestFourValidatorsInProcess runs four validators in one process: a transaction submitted
// to one is seen by all, and all agree on the app hash at every height.
func TestFourValidatorsInProcess(t *testing.T) {
	net := cptest.NewNetwork(10, 4, 2, 1e12, nil, time.Now().Add(-time.Minute))
	vals := initNet(t, 4, net.Genesis)
	nodes := make([]*Node, len(vals))
	for i, v := range vals {
		nodes[i] = openNode(t, v.Home, nil)
	}
	defer func() {
		for _, n := range nodes {
			if err := n.Close(); err != nil {
				t.Error(err)
			}
		}
	}()
	ctx := context.Background()
	alice, bob := net.Users[0], net.Users[1]
	var last *cpapi.Included
	for i := range 4 {
		inc, err := nodes[i].Submit(ctx, net.Sign(alice, cpapi.Op{Transfer: &cpapi.TransferOp{To: cpapi.Address(bob.Address()), Amount: 5}}))
		if err != nil || !inc.OK() {
			t.Fatalf("submit via %d: %v %+v", i, err, inc)
		}
		last = inc
	}
	for i, n := range nodes {
		waitHeight(t, n, last.Height+1)
		n.View(func(s *controlplane.State, _ controlplane.Hash) {
			if got := s.Account(bob.Address()).Balance; got != 1e12+20 {
				t.Fatalf("validator %d: bob has %d", i, got)
			}
		})
	}
}
