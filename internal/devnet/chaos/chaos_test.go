package chaos

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/client"
	"github.com/floelabs/floe/internal/devnet"
	"github.com/floelabs/floe/internal/storagenode/byzantine"
	"github.com/floelabs/floe/redstuff"
)

var (
	chaosDuration = flag.Duration("chaos.duration", 0, "run TestChaos (random faults while blobs are stored and read) for this long; 0 skips it")
	chaosSeed     = flag.Uint64("chaos.seed", 0, "TestChaos's seed (0: from the clock); the run prints it first")
	chaosNodes    = flag.Int("chaos.nodes", 7, "TestChaos's storage nodes (the network has 100 shards)")
	// Storage challenges (challenges_test.go).
	chaosEpoch      = flag.Duration("chaos.epoch", 0, "TestChaos's epoch duration (default 1h); with it the run checks that no node fails a storage challenge unless it dropped uploads on purpose")
	chaosChallenges = flag.Bool("chaos.challenges", false, "run TestChallengesCatchDropStored (a drop-stored=10 node on a devnet of 30 s epochs)")
	// chaosKeep keeps a run's devnet (data and the logs of every process) for a diagnosis.
	chaosKeep = flag.String("chaos.keep", "", "put the devnets of the tests in new directories under this one and keep them (logs in DIR/*/logs)")
	// Random joins and leaves (churn_test.go).
	chaosChurn = flag.Bool("chaos.churn", false, "TestChaos with nodes added and removed at random times (floe devnet add-node/remove-node's paths), epochs of 20 s unless -chaos.epoch; storage challenges off unless -churn.challenges")
)

// settleEpochs bounds how many epochs TestChaos -chaos.epoch waits, once the faults have
// stopped, for every member to pass an epoch's rounds and be paid its held rewards (a node
// wiped at the end rebuilds everything first: 9 minutes at load 40 in one run).
const settleEpochs = 15

// chaosChurnEpoch is TestChaos's epoch duration with -chaos.churn (unless -chaos.epoch).
const chaosChurnEpoch = 20 * time.Second

// chaosRecoveryDelay is the nodes' grace period before recovering a certified blob they miss.
// It is short so that a node's recovery queue (each certified blob waits in it for this long)
// drains between stores: an empty queue is how the run tells that a node healed.
const chaosRecoveryDelay = 200 * time.Millisecond

// ackedBlob is a blob whose store returned success.
type ackedBlob struct {
	id   blob.ID
	data []byte
}

// chaosStats are a run's figures.
type chaosStats struct {
	workload                     // its mu also guards the fields below
	faults                       map[string]int
	flippedSlivers, healTimeouts int
	faultyPeak                   int // most faulty shards at once
}

// TestChaos injects random faults (kill -9 and restart, wipe, flipped sliver bytes, restarts
// in a Byzantine mode) into a devnet, never more than f faulty shards at a time, while blobs
// are stored and read concurrently; at the end every blob whose store succeeded must read
// back byte-identical, also with the nodes holding up to 2f shards killed. With -chaos.churn
// nodes also join and leave at random times (5 to nodes+3 staked), the fault budget counts
// each node's shards in the current committee, and at the end every member holds every
// sliver of its shards of every blob and the departed nodes none.
func TestChaos(t *testing.T) {
	if *chaosDuration <= 0 {
		t.Skip("set -chaos.duration to run")
	}
	seed := *chaosSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("chaos seed %d (rerun with -chaos.seed=%d), %s on %d nodes x 100 shards", seed, seed, *chaosDuration, *chaosNodes)
	epoch := *chaosEpoch
	var tn *testNet
	if *chaosChurn {
		if epoch == 0 {
			epoch = chaosChurnEpoch
		}
		tn = startMembersNet(t, *chaosNodes, 100, epoch)
	} else {
		tn = startNet(t, netOptions{Nodes: *chaosNodes, Shards: 100, ScrubSecs: 2, RecoveryDelay: chaosRecoveryDelay, Epoch: epoch})
	}
	// Liveness bound of the whole run: the faults, the checks and, with -chaos.epoch, up to
	// settleEpochs epochs for every node to pass a round and be paid what it earned while it
	// missed rounds. A node wiped in the run's last minutes rebuilds after it: 20 minutes for
	// that and the read-back of every blob (2944 after 30 minutes).
	budget := *chaosDuration + 20*time.Minute
	if epoch > 0 && !*chaosChurn {
		budget += settleEpochs * epoch / 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	runCtx, stopRun := context.WithTimeout(ctx, *chaosDuration)
	defer stopRun()
	c, _ := tn.sdkClient(slog.New(slog.DiscardHandler))
	st := &chaosStats{faults: map[string]int{}}
	var wg sync.WaitGroup

	// Writers. With short epochs (-chaos.epoch) blobs must outlive the run and its checks.
	lifetime := uint32(2)
	if epoch > 0 {
		lifetime = uint32(budget/epoch + 2)
		// The control plane refuses more than max_epochs_ahead (53 by default) epochs:
		// 53 epochs of 20 s (-chaos.churn's default) still outlive a 3-minute run and its checks.
		lifetime = min(lifetime, 53)
	}
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st.storeLoop(ctx, runCtx, c, rand.New(rand.NewPCG(seed, uint64(10+w))), func(r *rand.Rand) ([]byte, client.StoreOptions) {
				size := 1 + r.IntN(256<<10)
				if r.IntN(10) == 0 {
					size = 1<<20 + r.IntN(1<<20)
				}
				return randomBytes(r, size), client.StoreOptions{Epochs: lifetime, Permanent: r.IntN(2) == 0}
			})
		}()
	}
	// Readers.
	for rd := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, uint64(20+rd)))
			for runCtx.Err() == nil {
				st.mu.Lock()
				var b ackedBlob
				if len(st.acked) > 0 {
					b = st.acked[r.IntN(len(st.acked))]
				}
				st.mu.Unlock()
				if b.data == nil {
					sleep(runCtx, 200*time.Millisecond)
					continue
				}
				opCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
				got, err := c.ReadBytes(opCtx, b.id)
				cancel()
				st.readDone(b, got, err, b.id.String())
			}
		}()
	}
	// Faults.
	inj := &injector{tn: tn, st: st, r: rand.New(rand.NewPCG(seed, 1)), faulty: map[int]bool{}, skip: map[int]bool{}}
	if *chaosEpoch > 0 {
		inj.challenges = newChallengeWatch(tn)
		wctx, stopWatch := context.WithCancel(ctx)
		defer stopWatch()
		go inj.challenges.run(wctx)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		inj.run(ctx, runCtx)
	}()
	var ch *churner
	if *chaosChurn {
		ch = &churner{tn: tn, inj: inj, r: rand.New(rand.NewPCG(seed, 3)), min: min(5, *chaosNodes), max: *chaosNodes + 3,
			staked: *chaosNodes, epochs: map[uint32]bool{}}
		if err := ch.follow(ctx); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ch.run(ctx, runCtx)
		}()
	}
	wg.Wait()
	// The faults have stopped (every node runs honest again). While the blobs are read back
	// and the nodes heal, every member must come to pass a round and be paid what it earned
	// while it missed rounds (down, restarted or rebuilding after a wipe): a held reward is
	// no penalty once paid.
	type settleResult struct {
		waiting []string
		epochs  uint32
	}
	settled := make(chan settleResult, 1)
	if inj.challenges != nil && ch == nil {
		go func() {
			waiting, epochs := inj.challenges.awaitSettled(ctx, settleEpochs)
			settled <- settleResult{waiting, epochs}
		}()
	}
	if ch != nil {
		// The removed nodes stop once their shards are with their new owners.
		if err := ch.settle(ctx); err != nil {
			t.Error(err)
		}
	}
	for i := range tn.nodeCount() {
		if inj.skip[i] {
			continue // removed, stopped by the devnet
		}
		if !tn.net.Node(i).Running() {
			t.Fatalf("%s is not running after the faults were undone", tn.nodeInfo(i).Name)
		}
	}

	// Every acknowledged blob reads back byte-identical (a fresh client, all nodes up).
	c2, _ := tn.sdkClient(slog.New(slog.DiscardHandler))
	verify := func(what string, blobs []ackedBlob) int {
		ok := 0
		for _, b := range blobs {
			var got []byte
			var err error
			for attempt := 0; attempt < 3; attempt++ {
				opCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
				got, err = c2.ReadBytes(opCtx, b.id)
				cancel()
				if err == nil {
					break
				}
			}
			switch {
			case err != nil:
				t.Errorf("%s: acknowledged blob %s (%d bytes) cannot be read: %v", what, b.id, len(b.data), err)
			case !bytes.Equal(got, b.data):
				t.Errorf("%s: acknowledged blob %s reads back different bytes", what, b.id)
			default:
				ok++
			}
		}
		return ok
	}
	verified := verify("final read-back", st.acked)

	// Once every node has healed, the blobs read with the nodes holding up to 2f shards killed.
	healed := 0
	for i := range tn.nodeCount() {
		if inj.skip[i] {
			continue
		}
		if inj.heal(ctx, i) {
			healed++
		}
	}
	if inj.challenges != nil && ch == nil {
		res := <-settled
		for _, w := range res.waiting {
			t.Errorf("challenges: %d epochs after the faults stopped, not every held reward is paid: %s", res.epochs, w)
		}
		if res.waiting == nil {
			t.Logf("challenges: %d epochs after the faults stopped, every member had passed an epoch's rounds and held no reward", res.epochs)
		}
	}
	if inj.challenges != nil {
		// Before the kills below: no node failed a challenge it should have passed.
		inj.challenges.check(ctx, t)
	}
	if ch != nil {
		// As TestChurn: every member holds every sliver of its shards of the blobs (a sample
		// of 60: the status requests of all of them take many minutes), the departed nodes
		// none.
		if err := ch.follow(ctx); err != nil {
			t.Fatal(err)
		}
		ids := make([]blob.ID, 0, len(st.acked))
		for _, b := range st.acked {
			ids = append(ids, b.id)
		}
		rand.New(rand.NewPCG(seed, 4)).Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
		ids = ids[:min(len(ids), 60)]
		checked := tn.checkHoldings(ctx, t, tn.committee(ctx), ids, ch.removed)
		var epochs []uint32
		for e := range ch.epochs {
			epochs = append(epochs, e)
		}
		slices.Sort(epochs)
		t.Logf("churn: %d nodes added, %d removed over epochs %v; %d sliver statuses checked on the members (%d blobs), the %d departed hold none",
			ch.adds, ch.removals, epochs, checked, len(ids), len(ch.removed))
		for _, a := range ch.actions {
			t.Logf("  churn: %s", a)
		}
		for _, e := range ch.errors {
			t.Errorf("churn: %s", e)
		}
		if ch.adds+ch.removals == 0 {
			t.Error("no node joined or left")
		}
	}
	p := tn.enc.Params()
	killed := 0
	for i := range tn.nodeCount() {
		if inj.skip[i] {
			continue
		}
		if killed+len(tn.nodeShards(i)) <= tn.shards-p.PrimarySource {
			if err := tn.net.Node(i).Kill(); err != nil {
				t.Fatal(err)
			}
			killed += len(tn.nodeShards(i))
		}
	}
	sample := slices.Clone(st.acked)
	rand.New(rand.NewPCG(seed, 2)).Shuffle(len(sample), func(i, j int) { sample[i], sample[j] = sample[j], sample[i] })
	sample = sample[:min(len(sample), 30)]
	verifiedDown := verify(fmt.Sprintf("read with %d of %d shards killed", killed, tn.shards), sample)

	var kinds []string
	for k := range st.faults {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	var fs []string
	total := 0
	for _, k := range kinds {
		fs = append(fs, fmt.Sprintf("%s=%d", k, st.faults[k]))
		total += st.faults[k]
	}
	t.Logf("chaos seed %d, %s on %d nodes x %d shards (f = %d):", seed, *chaosDuration, tn.nodeCount(), tn.shards, tn.f())
	t.Logf("  blobs stored: %d (%.1f MiB), store failures: %d", st.stored, float64(st.storedBytes)/(1<<20), st.storeFailures)
	t.Logf("  reads during the faults: %d, read failures: %d, wrong bytes: %d", st.reads, st.readFailures, st.readMismatches)
	t.Logf("  faults injected: %d (%s), slivers flipped: %d, peak faulty shards: %d, heal timeouts: %d",
		total, strings.Join(fs, " "), st.flippedSlivers, st.faultyPeak, st.healTimeouts)
	t.Logf("  final read-back: %d of %d acknowledged blobs byte-identical; with %d of %d shards killed after %d of %d nodes healed: %d of %d sampled",
		verified, len(st.acked), killed, tn.shards, healed, tn.nodeCount(), verifiedDown, len(sample))
	for _, e := range st.errs {
		t.Logf("  first errors: %s", e)
	}
	if st.readMismatches > 0 {
		t.Errorf("%d reads returned wrong bytes", st.readMismatches)
	}
	if st.stored == 0 || total == 0 {
		t.Errorf("nothing happened: %d blobs stored, %d faults", st.stored, total)
	}
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// injector runs random faults on the nodes, each on a node chosen among those that keep the
// faulty shards at most f, and undoes each one (the node restarted honest and healed) before
// its shards count as healthy again.
type injector struct {
	tn     *testNet
	st     *chaosStats
	mu     sync.Mutex
	r      *rand.Rand // guarded by mu
	faulty map[int]bool
	// skip holds the nodes not to fault (removed: -chaos.churn).
	skip map[int]bool
	// challenges, with -chaos.epoch, learns which epochs a node dropped uploads in.
	challenges *challengeWatch
}

// reserve picks a node whose shards fit in the fault budget, or -1.
func (in *injector) reserve() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	used := 0
	for i := range in.faulty {
		used += len(in.tn.nodeShards(i))
	}
	var fits []int
	for i := range in.tn.nodeCount() {
		// A node without shards (joining, -chaos.churn) is left alone: it holds nothing to fault.
		if !in.faulty[i] && !in.skip[i] && len(in.tn.nodeShards(i)) > 0 && used+len(in.tn.nodeShards(i)) <= in.tn.f() {
			fits = append(fits, i)
		}
	}
	if len(fits) == 0 {
		return -1
	}
	i := fits[in.r.IntN(len(fits))]
	in.faulty[i] = true
	in.st.mu.Lock()
	in.st.faultyPeak = max(in.st.faultyPeak, used+len(in.tn.nodeShards(i)))
	in.st.mu.Unlock()
	return i
}

func (in *injector) release(i int) {
	in.mu.Lock()
	delete(in.faulty, i)
	in.mu.Unlock()
}

func (in *injector) intn(n int) int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.r.IntN(n)
}

// run starts faults every 0.5-2 s (budget permitting) until runCtx ends, then waits for them to be undone.
func (in *injector) run(ctx, runCtx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	for runCtx.Err() == nil {
		sleep(runCtx, time.Duration(500+in.intn(1500))*time.Millisecond)
		if runCtx.Err() != nil {
			return
		}
		i := in.reserve()
		if i < 0 {
			continue
		}
		kind := []string{"kill", "wipe", "flip", "byzantine"}[in.intn(4)]
		if kind == "byzantine" {
			kind += ":" + string(byzantine.Modes[in.intn(len(byzantine.Modes))])
		}
		in.st.mu.Lock()
		in.st.faults[kind]++
		in.st.mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer in.release(i)
			if err := in.fault(ctx, runCtx, i, kind); err != nil {
				in.tn.t.Errorf("fault %s on %s: %v", kind, in.tn.nodeInfo(i).Name, err)
				return
			}
			// The node's shards count as faulty until it has healed, however long its rebuild
			// takes: a wiped node that is still rebuilding lacks the data of its shards, and
			// faulting others meanwhile would take the run past f (a 30-minute run at load
			// 60-90 released wiped nodes after the 3-minute heal bound, wiped 6 of 7 nodes
			// within 17 minutes, and lost blobs that way).
			for !in.heal(ctx, i) && ctx.Err() == nil {
			}
		}()
	}
}

// fault injects kind on node i, holds it for a while, and restarts the node honest.
func (in *injector) fault(ctx, runCtx context.Context, i int, kind string) error {
	tn := in.tn
	hold := time.Duration(500+in.intn(4000)) * time.Millisecond
	switch {
	case kind == "kill":
		if err := tn.net.Node(i).Kill(); err != nil {
			return err
		}
		sleep(runCtx, hold)
		return tn.start(ctx, i, "")
	case kind == "wipe":
		return tn.wipe(ctx, i)
	case kind == "flip":
		if err := tn.net.Node(i).Stop(10 * time.Second); err != nil && !errors.Is(err, devnet.ErrNotRunning) {
			return err
		}
		in.st.mu.Lock()
		acked := slices.Clone(in.st.acked)
		in.st.mu.Unlock()
		shards := tn.nodeShards(i)
		for k := 0; k < 3 && len(acked) > 0 && len(shards) > 0; k++ {
			b := acked[in.intn(len(acked))]
			axis := redstuff.Primary
			if in.intn(2) == 1 {
				axis = redstuff.Secondary
			}
			ok, err := tn.flipSliver(ctx, i, b.id, shards[in.intn(len(shards))], axis)
			if err != nil {
				return err
			}
			if ok {
				in.st.mu.Lock()
				in.st.flippedSlivers++
				in.st.mu.Unlock()
			}
		}
		return tn.start(ctx, i, "")
	case strings.HasPrefix(kind, "byzantine:"):
		mode := strings.TrimPrefix(kind, "byzantine:")
		if w := in.challenges; w != nil && mode == string(byzantine.DropUploads) {
			// The node may fail the challenges of the epochs in which it drops uploads, and
			// the round of the epoch before (still pending, it may answer it while dropping).
			from := max(w.epoch(ctx), 1) - 1
			defer func() { w.excuse(tn.nodeInfo(i).Name, from, w.epoch(ctx)) }()
		}
		if err := tn.restart(ctx, i, mode); err != nil {
			return err
		}
		sleep(runCtx, hold)
		return tn.restart(ctx, i, "")
	}
	return fmt.Errorf("unknown fault %q", kind)
}

// heal waits (boundedly) until node i, restarted, has nothing left to recover (see
// testNet.awaitHealed). It reports whether it healed in time (3 minutes; each time out is
// counted in the run's heal timeouts).
func (in *injector) heal(ctx context.Context, i int) bool {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	if in.tn.awaitHealed(ctx, i) == nil {
		return true
	}
	in.st.mu.Lock()
	in.st.healTimeouts++
	in.st.mu.Unlock()
	return false
}
