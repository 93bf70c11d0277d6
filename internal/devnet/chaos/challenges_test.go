package chaos

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	cpapi "github.com/floelabs/floe/api/controlplane"
	"github.com/floelabs/floe/client"
)

// challengeEpoch is the epoch of the challenge tests: long enough for a restarted or wiped node
// to answer its samples (recovering them) under -race on two shared cores.
const challengeEpoch = 30 * time.Second

// TestChallengesCatchDropStored runs storage challenges on a devnet of child processes with
// 30 s epochs: a node restarted in mode drop-stored=10 (it silently deletes 10% of its
// slivers) fails a round within 2 epochs of starting to drop, with a fail certificate, and
// its reward of that epoch is withheld; the honest nodes, one of them restarted and one wiped
// (so recovering everything), pass every round of those epochs.
func TestChallengesCatchDropStored(t *testing.T) {
	if !*chaosChallenges {
		t.Skip("set -chaos.challenges to run (about 2 minutes)")
	}
	tn := startNet(t, netOptions{Nodes: 4, Shards: 40, ScrubSecs: 3600, RecoveryDelay: time.Second, Epoch: challengeEpoch})
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	c, _ := tn.sdkClient(slog.New(slog.DiscardHandler))
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 12; i++ {
		if _, err := c.StoreBytes(ctx, randomBytes(r, 20_000+r.IntN(60_000)), client.StoreOptions{Epochs: 20}); err != nil {
			t.Fatal(err)
		}
	}
	const liar, restarted, wiped = 1, 2, 3
	if err := tn.restart(ctx, liar, "drop-stored=10"); err != nil {
		t.Fatal(err)
	}
	if err := tn.restart(ctx, restarted, ""); err != nil {
		t.Fatal(err)
	}
	if err := tn.wipe(ctx, wiped); err != nil {
		t.Fatal(err)
	}
	info, err := tn.cp.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The liar's first pass deletes at its start, so every round of the next two epochs
	// samples what it dropped.
	first := info.Epoch + 1
	ids := map[string]cpapi.ObjectID{}
	nodes, err := tn.cp.Nodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, nd := range nodes {
		ids[nd.Name] = nd.ID
	}
	name := func(i int) string { return tn.nodeInfo(i).Name }
	// The control plane keeps the rounds of the current and the last epoch: watch them until
	// the two epochs are settled, keeping each node's last status in each round.
	type key struct {
		epoch, round uint32
		node         cpapi.ObjectID
	}
	status := map[key]cpapi.ChallengeStatus{}
	for {
		info, err := tn.cp.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range []uint32{info.Epoch - 1, info.Epoch} {
			if e < first || e >= first+2 {
				continue
			}
			ep, err := tn.cp.ChallengeEpoch(ctx, e)
			if err != nil {
				continue
			}
			for _, rd := range ep.Rounds {
				for _, nc := range rd.Nodes {
					status[key{e, rd.Round, nc.NodeID}] = nc.Status
				}
			}
		}
		if info.Epoch >= first+2 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("epoch %d not reached", first+2)
		case <-time.After(time.Second):
		}
	}
	caught := false
	for k, st := range status {
		for i := range tn.nodeCount() {
			if ids[name(i)] != k.node {
				continue
			}
			t.Logf("epoch %d round %d %s: %s", k.epoch, k.round, name(i), st)
			if i == liar && st == cpapi.ChallengeFailed {
				caught = true
			}
		}
	}
	if !caught {
		t.Errorf("no fail certificate of %s (drop-stored=10) within 2 epochs", name(liar))
	}
	acc, err := tn.cp.Accountability(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range acc.Nodes {
		var bad []string
		settled := 0
		for _, ea := range a.Recent {
			if ea.Epoch < first || ea.Epoch >= first+2 {
				continue
			}
			settled++
			if ea.Failed {
				bad = append(bad, fmt.Sprintf("epoch %d: passed %d failed %d, withheld %d", ea.Epoch, ea.RoundsPassed, ea.RoundsFailed, ea.RewardWithheld))
			}
		}
		if settled != 2 {
			t.Errorf("%s: %d of the 2 epochs settled: %+v", a.Name, settled, a.Recent)
		}
		t.Logf("%s: passed %d failed %d, earned %d, withheld %d, slashed %d %v", a.Name, a.RoundsPassed, a.RoundsFailed,
			a.RewardsEarned, a.RewardsWithheld, a.Slashed, bad)
		switch {
		case a.Name == name(liar) && (len(bad) == 0 || a.RewardsWithheld == 0):
			t.Errorf("%s lost no reward", a.Name)
		case a.Name != name(liar) && len(bad) > 0:
			t.Errorf("honest %s lost rewards: %v", a.Name, bad)
		}
	}
}

// challengeWatch follows the settled challenge records of a chaos run (TestChaos with
// -chaos.epoch): every node's penalised epochs (a failed round, a reward withheld (burnt),
// stake slashed, an exclusion; a missed round only holds the reward, and awaitSettled checks
// at the end that it was paid), and the epochs in which the run made it drop data on purpose
// (a Byzantine mode that stores nothing), which excuse a penalty.
type challengeWatch struct {
	tn     *testNet
	mu     sync.Mutex
	penal  map[string]map[uint32]cpapi.EpochAccountability // by node name, epoch
	totals map[string]cpapi.Accountability
	exc    map[string]map[uint32]bool
}

func newChallengeWatch(tn *testNet) *challengeWatch {
	return &challengeWatch{tn: tn, penal: map[string]map[uint32]cpapi.EpochAccountability{},
		totals: map[string]cpapi.Accountability{}, exc: map[string]map[uint32]bool{}}
}

// epoch returns the current epoch (0 if the control plane does not answer).
func (w *challengeWatch) epoch(ctx context.Context) uint32 {
	info, err := w.tn.cp.Info(ctx)
	if err != nil {
		return 0
	}
	return info.Epoch
}

// excuse marks node's epochs from..to (inclusive) as ones it may fail.
func (w *challengeWatch) excuse(node string, from, to uint32) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.exc[node] == nil {
		w.exc[node] = map[uint32]bool{}
	}
	for e := from; e <= to; e++ {
		w.exc[node][e] = true
	}
}

// penalised reports whether a settled epoch cost the node anything: a missed round holds the
// epoch's reward until the node passes again, which is no penalty unless it is burnt (a held
// reward still unpaid at the end of the run is checked by settled).
func penalised(ea cpapi.EpochAccountability) bool {
	return ea.Failed || ea.RoundsFailed > 0 || ea.RewardWithheld > 0 || ea.Slashed > 0 || ea.Excluded
}

// poll records the settled epochs the control plane keeps (the last few of each node).
func (w *challengeWatch) poll(ctx context.Context) {
	acc, err := w.tn.cp.Accountability(ctx)
	if err != nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, a := range acc.Nodes {
		if w.penal[a.Name] == nil {
			w.penal[a.Name] = map[uint32]cpapi.EpochAccountability{}
		}
		for _, ea := range a.Recent {
			if penalised(ea) {
				w.penal[a.Name][ea.Epoch] = ea
			}
		}
		w.totals[a.Name] = a
	}
}

// burntHeldOnly reports whether a penalised epoch's only penalty is its held reward burnt
// (a missed round's, burnt because the node failed a later epoch or held it too long).
func burntHeldOnly(ea cpapi.EpochAccountability) bool {
	return !ea.Failed && ea.RoundsFailed == 0 && ea.Slashed == 0 && !ea.Excluded && ea.RewardWithheld > 0
}

// excusedAfter reports whether node has an excused epoch after e: a failure then burns the
// rewards held for its earlier misses (w.mu held).
func (w *challengeWatch) excusedAfter(node string, e uint32) bool {
	for x := range w.exc[node] {
		if x > e {
			return true
		}
	}
	return false
}

// settledClean reports whether node a holds no reward and has settled an epoch since epoch
// since with every round passed (at least one; none failed, missed or pending).
func settledClean(a cpapi.Accountability, since uint32) bool {
	if a.RewardsHeld != 0 {
		return false
	}
	for _, r := range a.Recent {
		if r.Epoch >= since && r.RoundsPassed > 0 && r.RoundsFailed == 0 && r.RoundsMissed == 0 && r.RoundsPending == 0 {
			return true
		}
	}
	return false
}

// describe is a node's challenge figures for the test's messages.
func describe(a cpapi.Accountability) string {
	s := fmt.Sprintf("%s: rounds passed %d, failed %d, missed %d; rewards earned %d (paid after misses %d), held %d, withheld %d; slashed %d",
		a.Name, a.RoundsPassed, a.RoundsFailed, a.RoundsMissed, a.RewardsEarned, a.RewardsHeldPaid, a.RewardsHeld, a.RewardsWithheld, a.Slashed)
	if n := len(a.Recent); n > 0 {
		r := a.Recent[n-1]
		s += fmt.Sprintf("; latest settled epoch %d: passed %d, failed %d, missed %d, pending %d, void %d, reward %d, held %d, withheld %d",
			r.Epoch, r.RoundsPassed, r.RoundsFailed, r.RoundsMissed, r.RoundsPending, r.RoundsVoid, r.Reward, r.RewardHeld, r.RewardWithheld)
	}
	return s
}

// awaitSettled waits, once the faults have stopped, until every member of the committee has
// settled an epoch with every round passed since then and holds no reward (what it earned in the epochs
// it missed while down or rebuilding was paid), for at most maxEpochs epochs; it returns the
// figures of the members that did not (nil when all did), and how many epochs it waited.
func (w *challengeWatch) awaitSettled(ctx context.Context, maxEpochs uint32) ([]string, uint32) {
	start := w.epoch(ctx)
	for start == 0 && ctx.Err() == nil {
		sleep(ctx, time.Second)
		start = w.epoch(ctx)
	}
	for {
		var waiting []string
		acc, accErr := w.tn.cp.Accountability(ctx)
		c, cErr := w.tn.cp.CurrentCommittee(ctx)
		if accErr == nil && cErr == nil {
			byID := map[cpapi.ObjectID]cpapi.Accountability{}
			for _, a := range acc.Nodes {
				byID[a.NodeID] = a
			}
			for _, m := range c.Members {
				a, ok := byID[m.NodeID]
				if !ok {
					waiting = append(waiting, m.Name+": no record")
				} else if !settledClean(a, start) {
					waiting = append(waiting, describe(a))
				}
			}
			if len(waiting) == 0 {
				return nil, acc.Epoch - start
			}
		} else {
			waiting = []string{fmt.Sprintf("control plane: %v", errors.Join(accErr, cErr))}
		}
		e := w.epoch(ctx)
		if e >= start+maxEpochs || ctx.Err() != nil {
			return waiting, e - start
		}
		sleep(ctx, 5*time.Second)
	}
}

// run polls every 5 s (the control plane keeps 8 epochs of results) until ctx ends.
func (w *challengeWatch) run(ctx context.Context) {
	for ctx.Err() == nil {
		w.poll(ctx)
		sleep(ctx, 5*time.Second)
	}
}

// check polls once more and fails the test for every penalised epoch of a node that was not
// excused (a false positive: an honest node, maybe restarted, wiped or recovering, lost a
// reward, stake or its place); it logs every node's figures.
func (w *challengeWatch) check(ctx context.Context, t *testing.T) {
	w.poll(ctx)
	w.mu.Lock()
	defer w.mu.Unlock()
	falsePos, excused := 0, 0
	names := make([]string, 0, len(w.totals))
	for name := range w.totals {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		a := w.totals[name]
		t.Logf("challenges: %s: rounds passed %d, failed %d, missed %d; epochs failed %d; rewards earned %d (%d of them held for misses, then paid), held now %d, withheld %d; slashed %d (%d times), excluded in epoch %d",
			name, a.RoundsPassed, a.RoundsFailed, a.RoundsMissed, a.EpochsFailed, a.RewardsEarned, a.RewardsHeldPaid, a.RewardsHeld, a.RewardsWithheld,
			a.Slashed, a.Slashings, a.ExcludedEpoch)
		for e, ea := range w.penal[name] {
			if w.exc[name][e] || (burntHeldOnly(ea) && w.excusedAfter(name, e)) {
				excused++
				t.Logf("challenges: %s penalised in epoch %d while it dropped uploads on purpose (%+v)", name, e, ea)
				continue
			}
			falsePos++
			t.Errorf("challenges: FALSE POSITIVE: honest %s penalised in epoch %d: failed %v, rounds failed %d, missed %d, reward withheld %d, slashed %d, excluded %v",
				name, e, ea.Failed, ea.RoundsFailed, ea.RoundsMissed, ea.RewardWithheld, ea.Slashed, ea.Excluded)
		}
	}
	t.Logf("challenges: %d excused penalised epochs, %d false positives", excused, falsePos)
}
