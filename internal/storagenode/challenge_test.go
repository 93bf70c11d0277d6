package storagenode

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	cpapi "github.com/floelabs/floe/api/controlplane"
	api "github.com/floelabs/floe/api/storagenode"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/challenge"
	"github.com/floelabs/floe/internal/controlplane"
	"github.com/floelabs/floe/internal/crypto"
	"github.com/floelabs/floe/internal/protocol"
	"github.com/floelabs/floe/redstuff"
)

// challengeNet is a peer network with short epochs whose nodes check challenges often.
func challengeNet(t *testing.T, epochMs int64) *peerNet {
	return newPeerNetWith(t, testShards, 4, func(p *controlplane.Params) { p.EpochDurationMs = epochMs })
}

func fastChallenges(c *Config) { c.ChallengePoll = 100 * time.Millisecond }

// epoch returns the chain's current epoch.
func (pn *peerNet) epoch() uint32 {
	var e uint32
	pn.chain.View(func(s *controlplane.State, _ controlplane.Hash) { e = s.Epoch() })
	return e
}

// nodeID returns genesis node i's object ID in epoch e's committee, and its member index.
func (pn *peerNet) nodeID(e uint32, i int) (cpapi.ObjectID, int) {
	var c *cpapi.Committee
	pn.chain.View(func(s *controlplane.State, _ controlplane.Hash) { c, _ = s.Committee(e) })
	if c == nil {
		pn.t.Fatalf("no committee of epoch %d", e)
	}
	for k, m := range c.Members {
		if m.BLSPublicKey == cpapi.BLSPublicKey(pn.net.NodeKeys[i].PublicKey()) {
			return m.NodeID, k
		}
	}
	pn.t.Fatalf("node %d is not a member of epoch %d", i, e)
	return cpapi.ObjectID{}, 0
}

// nodeChallenge returns node i's challenge in round r of epoch e (nil before that epoch).
func (pn *peerNet) nodeChallenge(e, r uint32, i int) *cpapi.NodeChallenge {
	if pn.epoch() < e {
		return nil
	}
	id, _ := pn.nodeID(e, i)
	var nc *cpapi.NodeChallenge
	pn.chain.View(func(s *controlplane.State, _ controlplane.Hash) {
		nc, _ = s.NodeChallenge(e, r, controlplane.ObjectID(id))
	})
	return nc
}

// writeBlobs writes k blobs (waiting for a new epoch if the current one is about to end) and
// returns their encodings and the epoch in which the last was certified.
func (pn *peerNet) writeBlobs(k int, epochMs int64) ([]*redstuff.Encoding, uint32) {
	var info cpapi.Info
	pn.chain.View(func(s *controlplane.State, _ controlplane.Hash) { info = s.Info() })
	if left := time.Until(time.UnixMilli(info.NextEpochMs)); left < time.Duration(epochMs)*time.Millisecond*2/3 {
		time.Sleep(left + 100*time.Millisecond)
	}
	var out []*redstuff.Encoding
	for i := 0; i < k; i++ {
		enc := testBlob(pn.t, pn.enc, 3000+500*i, byte(40+i))
		pn.write(enc, nil, -1)
		out = append(out, enc)
	}
	// Every blob is certified by the end of epoch pn.epoch(), so before the next one's seed.
	return out, pn.epoch()
}

// TestChallengeRoundOnNodes: honest nodes give their seed shares, answer their samples of
// the blobs certified before the seed, attest each other's answers and pass; their health
// route and the control plane's records show it, and nobody's reward is withheld.
func TestChallengeRoundOnNodes(t *testing.T) {
	const epochMs = 12000 // the 3 blob writes (and their certificates) fit in one epoch under load
	pn := challengeNet(t, epochMs)
	for i := 0; i < 4; i++ {
		pn.start(i, fastChallenges)
	}
	_, e := pn.writeBlobs(3, epochMs)
	next := e + 1
	waitFor(t, "every node to pass the next epoch's round", func() bool {
		if pn.epoch() < next {
			return false
		}
		for i := 0; i < 4; i++ {
			if nc := pn.nodeChallenge(next, 0, i); nc == nil || nc.Status != cpapi.ChallengePassed {
				return false
			}
		}
		return true
	})
	var ep *cpapi.ChallengeEpoch
	pn.chain.View(func(s *controlplane.State, _ controlplane.Hash) { ep, _ = s.ChallengeEpoch(next) })
	if r := ep.Rounds[0]; r.EligibleBlobs != 3 || r.Seed == nil {
		t.Fatalf("round %+v: want 3 eligible blobs and a seed", r)
	}
	for i := 0; i < 4; i++ {
		if nc := pn.nodeChallenge(next, 0, i); !protocol.Quorum.Reached(nc.PassWeight, testShards) {
			t.Fatalf("node %d passed with %d shards of attestations", i, nc.PassWeight)
		}
		if n := pn.nodes[i].metric(t, "floe_node_challenge_attestations_total", "verdict", "fail"); n != 0 {
			t.Fatalf("node %d signed %v fail attestations in an honest network", i, n)
		}
	}
	var last []byte
	defer func() {
		if t.Failed() {
			t.Logf("last health: %s", last)
		}
	}()
	waitFor(t, "the health route to show the pass", func() bool {
		r := pn.nodes[0].get(t, api.RouteHealth)
		last = r.body
		var h api.Success[api.ServiceHealthInfo]
		if json.Unmarshal(r.body, &h) != nil || h.Success.Data.Challenges == nil {
			return false
		}
		c := h.Success.Data.Challenges
		for _, r := range c.Rounds {
			if r.Epoch == next && r.Round == 0 && r.Status == string(cpapi.ChallengePassed) && r.Samples == 100 &&
				c.Epoch >= next && c.AnswersSent >= 1 && c.AttestationsPassed >= 3 {
				return true
			}
		}
		return false
	})
	waitFor(t, "the epoch to be settled", func() bool { return pn.epoch() > next })
	for i := 0; i < 4; i++ {
		id, _ := pn.nodeID(next, i)
		var a cpapi.Accountability
		pn.chain.View(func(s *controlplane.State, _ controlplane.Hash) {
			a, _ = s.NodeAccountability(controlplane.ObjectID(id))
		})
		last := a.Recent[len(a.Recent)-1]
		if last.Epoch != next || last.Failed || last.RoundsPassed != 1 || a.RewardsWithheld != 0 || last.Reward == 0 {
			t.Fatalf("node %d after the epoch: %+v", i, a)
		}
	}
}

// TestChallengeLostSliversMissUntilRecovered: a node that lost every sliver (and does not know
// it) does not rebuild the sampled ones on demand to answer (a node that dropped them could do
// the same, and the challenge would prove nothing): it cannot answer, so when the epoch ends its
// round is still open (pending, not failed) and it has recovered nothing. Restarted, its
// recovery sweep rebuilds its shards, and it passes the pending round in the grace epoch. A node
// that lost them and cannot recover (recovery disabled) answers that it misses them, and the
// others' fail attestations fail it; its reward for the epoch is withheld.
func TestChallengeLostSliversMissUntilRecovered(t *testing.T) {
	const epochMs = 15000 // room for a recovery under -race on a loaded machine
	pn := challengeNet(t, epochMs)
	for i := 0; i < 4; i++ {
		if i == 3 {
			pn.start(i, func(c *Config) { fastChallenges(c); c.DisableRecovery = true })
		} else {
			pn.start(i, fastChallenges)
		}
	}
	encs, e := pn.writeBlobs(3, epochMs)
	// Nodes 2 and 3 have applied the writes' events (a certification seen after the loss would
	// queue a recovery, as it should) and have nothing queued; then they lose every sliver of
	// their shards.
	var seq uint64
	pn.chain.View(func(s *controlplane.State, _ controlplane.Hash) { seq = s.Info().EventSeq })
	waitFor(t, "nodes 2 and 3 to apply the writes' events", func() bool {
		for _, i := range []int{2, 3} {
			if pn.nodes[i].metric(t, "floe_node_event_cursor")+1 < float64(seq) || pn.nodes[i].metric(t, "floe_node_recovery_queue") != 0 {
				return false
			}
		}
		return true
	})
	for _, i := range []int{2, 3} {
		for _, enc := range encs {
			id := blob.NewMetadata(&enc.Commitment).ID
			owned, _ := pn.ownedPairs(id, i)
			for _, p := range owned {
				shard := uint16(blob.ShardIndex(id, testShards, p))
				for _, a := range []redstuff.Axis{redstuff.Primary, redstuff.Secondary} {
					if err := pn.nodes[i].store.DeleteSliver(context.Background(), shard, id, a); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
	}
	next := e + 1
	waitFor(t, "the next epoch's round to be decided for nodes 0, 1 and 3", func() bool {
		if pn.epoch() < next {
			return false
		}
		for _, i := range []int{0, 1, 3} {
			if nc := pn.nodeChallenge(next, 0, i); nc == nil || nc.Status == cpapi.ChallengeAwaitingSeed || nc.Status == cpapi.ChallengeOpen {
				return false
			}
		}
		return true
	})
	for _, i := range []int{0, 1, 3} {
		nc := pn.nodeChallenge(next, 0, i)
		want := cpapi.ChallengePassed
		if i == 3 {
			want = cpapi.ChallengeFailed
		}
		if nc.Status != want {
			t.Fatalf("node %d: %s, want %s", i, nc.Status, want)
		}
	}
	waitFor(t, "the epoch to be settled", func() bool { return pn.epoch() > next })
	if nc := pn.nodeChallenge(next, 0, 2); nc == nil || nc.Status != cpapi.ChallengeOpen {
		t.Fatalf("node 2 (lost its slivers, recovery on) once the epoch ended: %+v, want still challenged (pending)", nc)
	}
	if n := pn.nodes[2].metric(t, "floe_node_recovered_slivers_total"); n != 0 {
		t.Fatalf("node 2 recovered %v slivers on demand to answer its challenge", n)
	}
	id, _ := pn.nodeID(next, 3)
	var a cpapi.Accountability
	pn.chain.View(func(s *controlplane.State, _ controlplane.Hash) {
		a, _ = s.NodeAccountability(controlplane.ObjectID(id))
	})
	if last := a.Recent[len(a.Recent)-1]; !last.Failed || last.RewardWithheld == 0 || a.ConsecutiveFailedEpochs != 1 {
		t.Fatalf("node 3 after failing: %+v", a)
	}
	// Restarted, node 2 sweeps its shards, rebuilds what it lacks, and answers its pending round.
	pn.stop(2, false)
	pn.start(2, fastChallenges)
	var st cpapi.ChallengeStatus
	waitFor(t, "node 2's pending round to be decided", func() bool {
		if pn.epoch() > next+1 {
			return true // settled as missed: checked below
		}
		if nc := pn.nodeChallenge(next, 0, 2); nc != nil && nc.Status != cpapi.ChallengeOpen {
			st = nc.Status
			return true
		}
		return false
	})
	if st != cpapi.ChallengePassed || pn.nodes[2].metric(t, "floe_node_recovered_slivers_total") == 0 {
		t.Fatalf("node 2 after its restart: round of epoch %d %q (want passed), recovered %v slivers", next, st,
			pn.nodes[2].metric(t, "floe_node_recovered_slivers_total"))
	}
}

// TestChallengeDownAcrossEpochEndPasses is the regression test of a chaos run's false
// positive: an honest node wiped, and down through the whole epoch whose round samples it, used
// to miss that round when the epoch ended and lose its reward. The round stays open (pending)
// through the next epoch: the node, started again in it, rebuilds its shards, answers,
// is attested by that epoch's members and passes; once the next epoch ends, its reward of the
// first is paid and it has failed nothing.
func TestChallengeDownAcrossEpochEndPasses(t *testing.T) {
	const epochMs = 15000 // room for a recovery under -race on a loaded machine
	pn := challengeNet(t, epochMs)
	for i := 0; i < 4; i++ {
		pn.start(i, fastChallenges)
	}
	_, e := pn.writeBlobs(3, epochMs)
	next := e + 1
	// The node with the fewest shards: the others hold a quorum without it.
	down, fewest := 0, testShards+1
	var c *cpapi.Committee
	pn.chain.View(func(s *controlplane.State, _ controlplane.Hash) { c, _ = s.Committee(e) })
	for i := 0; i < 4; i++ {
		_, k := pn.nodeID(e, i)
		if n := len(c.Members[k].Shards); n < fewest {
			down, fewest = i, n
		}
	}
	pn.stop(down, true)
	waitFor(t, "the others to pass the next epoch's round", func() bool {
		if pn.epoch() < next {
			return false
		}
		for i := 0; i < 4; i++ {
			if nc := pn.nodeChallenge(next, 0, i); i != down && (nc == nil || nc.Status != cpapi.ChallengePassed) {
				return false
			}
		}
		return true
	})
	waitFor(t, "the epoch to end", func() bool { return pn.epoch() > next })
	if nc := pn.nodeChallenge(next, 0, down); nc == nil || nc.Status != cpapi.ChallengeOpen {
		t.Fatalf("the wiped node's round of epoch %d once it ended: %+v, want still challenged (pending)", next, nc)
	}
	pn.start(down, fastChallenges)
	var st cpapi.ChallengeStatus
	waitFor(t, "the wiped node's pending round to be decided", func() bool {
		if pn.epoch() > next+1 {
			return true // settled: checked below
		}
		if nc := pn.nodeChallenge(next, 0, down); nc != nil && nc.Status != cpapi.ChallengeOpen {
			st = nc.Status
			return true
		}
		return false
	})
	if st != cpapi.ChallengePassed {
		t.Fatalf("the wiped node's round of epoch %d in the next epoch: %q, want passed", next, st)
	}
	waitFor(t, "the grace epoch to end", func() bool { return pn.epoch() > next+1 })
	id, _ := pn.nodeID(next, down)
	var a cpapi.Accountability
	pn.chain.View(func(s *controlplane.State, _ controlplane.Hash) {
		a, _ = s.NodeAccountability(controlplane.ObjectID(id))
	})
	var res *cpapi.EpochAccountability
	for i := range a.Recent {
		if a.Recent[i].Epoch == next {
			res = &a.Recent[i]
		}
	}
	if res == nil || res.Failed || res.RoundsPassed != 1 || res.RoundsPending != 0 || res.Reward == 0 || a.RewardsWithheld != 0 || a.EpochsFailed != 0 {
		t.Fatalf("the wiped node after the grace epoch: %+v", a)
	}
}

// TestChallengeVerifier posts answers for a node that is down to a running member, and checks
// each verdict: a proof of every sample passes, an answer signed by another key is refused,
// an excuse for a certified blob is refused, a sample admitted missing fails (and the
// verifier submits its fail attestation: two members' make a validity threshold).
func TestChallengeVerifier(t *testing.T) {
	const epochMs = 8000
	pn := challengeNet(t, epochMs)
	for i := 0; i < 4; i++ {
		pn.start(i, fastChallenges)
	}
	encs, e := pn.writeBlobs(2, epochMs)
	pn.stop(3, false)
	next := e + 1
	waitFor(t, "node 3 to be challenged in the next epoch", func() bool {
		nc := pn.nodeChallenge(next, 0, 3)
		return pn.epoch() == next && nc != nil && nc.Status == cpapi.ChallengeOpen
	})
	nc := pn.nodeChallenge(next, 0, 3)
	var samples []challenge.Sample
	for _, x := range nc.Samples {
		a, err := blob.ParseAxis(x.Axis)
		if err != nil {
			t.Fatal(err)
		}
		samples = append(samples, challenge.Sample{BlobID: x.BlobID, Shard: x.Shard, Axis: a, Symbol: x.Symbol})
	}
	byID := map[blob.ID]*redstuff.Encoding{}
	for _, enc := range encs {
		byID[blob.NewMetadata(&enc.Commitment).ID] = enc
	}
	node3, _ := pn.nodeID(next, 3)
	honest := &challenge.Answer{Epoch: next, Round: 0, Node: protocol.ObjectID(node3)}
	for _, s := range samples {
		enc := byID[s.BlobID]
		bp, err := challenge.NewBlobProver(pn.enc, blob.NewMetadata(&enc.Commitment))
		if err != nil {
			t.Fatal(err)
		}
		pr, se := enc.Pair(s.Pair(testShards))
		sl := pr
		if s.Axis == redstuff.Secondary {
			sl = se
		}
		en, err := bp.Prove(sl, []challenge.Sample{s})
		if err != nil {
			t.Fatal(err)
		}
		honest.Entries = append(honest.Entries, en...)
	}
	post := func(node int, a *challenge.Answer, key *crypto.BLSSecretKey) response {
		t.Helper()
		cp := *a
		cp.Entries = append([]challenge.Entry(nil), a.Entries...)
		if err := cp.Sign(key); err != nil {
			t.Fatal(err)
		}
		body, err := cp.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return pn.nodes[node].do(t, "POST", api.RouteChallengeAnswer, body, api.ContentTypeOctetStream)
	}
	verdict := func(r response) bool {
		t.Helper()
		var s api.Success[api.SignedMessage]
		if err := json.Unmarshal(r.body, &s); err != nil || r.code != 200 {
			t.Fatalf("answer: %d %s", r.code, r.body)
		}
		att, err := protocol.DecodeChallengeAttestation(s.Success.Data.SerializedMessage)
		if err != nil || att.Node != protocol.ObjectID(node3) || att.Epoch != next {
			t.Fatalf("attestation %+v %v", att, err)
		}
		return att.Passed
	}
	key3 := pn.net.NodeKeys[3]
	if !verdict(post(0, honest, key3)) {
		t.Fatal("a proof of every sample did not pass")
	}
	expect(t, "an answer signed by another node", post(0, honest, pn.net.NodeKeys[1]), 400, api.ReasonInvalidAnswer)
	excuse := *honest
	excuse.Entries = append([]challenge.Entry(nil), honest.Entries...)
	excuse.Entries[0] = challenge.Entry{Status: challenge.Excused}
	expect(t, "an excuse for a certified blob", post(0, &excuse, key3), 400, api.ReasonExcuseRejected)
	missing := excuse
	missing.Entries = append([]challenge.Entry(nil), honest.Entries...)
	missing.Entries[len(missing.Entries)-1] = challenge.Entry{Status: challenge.Missing}
	wrong := *honest
	wrong.Entries = append([]challenge.Entry(nil), honest.Entries...)
	wrong.Entries[1].Symbol = append([]byte(nil), wrong.Entries[1].Symbol...)
	wrong.Entries[1].Symbol[0] ^= 1
	if verdict(post(0, &missing, key3)) || verdict(post(1, &wrong, key3)) {
		t.Fatal("a failing answer passed")
	}
	// Node 0 and node 1 submitted their fail attestations: together at least 4 of 10 shards.
	waitFor(t, "node 3 to fail", func() bool { return pn.nodeChallenge(next, 0, 3).Status == cpapi.ChallengeFailed })
	if nc := pn.nodeChallenge(next, 0, 3); !protocol.Validity.Reached(nc.FailWeight, testShards) {
		t.Fatalf("failed with %d shards of fail attestations", nc.FailWeight)
	}
	expect(t, "an answer for a decided challenge", post(2, honest, key3), 400, api.ReasonNoChallenge)
}

// countingChallenges counts the ChallengeEpoch requests a node makes of its control plane.
type countingChallenges struct {
	ControlPlane
	n *atomic.Int64
}

func (c countingChallenges) ChallengeEpoch(ctx context.Context, epoch uint32) (*cpapi.ChallengeEpoch, error) {
	c.n.Add(1)
	return c.ControlPlane.ChallengeEpoch(ctx, epoch)
}

// TestChallengeIdlePoll: a node polls the challenges every ChallengePoll only while one of
// its rounds is open; once they are settled, every ChallengeIdlePoll (and at the events), so
// that an idle network does not keep its control plane busy.
func TestChallengeIdlePoll(t *testing.T) {
	const epochMs = 60000
	pn := challengeNet(t, epochMs)
	var calls atomic.Int64
	for i := 0; i < 4; i++ {
		pn.start(i, func(c *Config) {
			c.ChallengePoll, c.ChallengeIdlePoll = 50*time.Millisecond, time.Hour
			if i == 0 {
				c.ControlPlane = countingChallenges{ControlPlane: c.ControlPlane, n: &calls}
			}
		})
	}
	// Once node 0 has made its first pass and applied every event so far (the events that
	// announce challenges wake the loop at once), it has nothing left to poll for.
	var seq uint64
	pn.chain.View(func(s *controlplane.State, _ controlplane.Hash) { seq = s.Info().EventSeq })
	waitFor(t, "node 0's first pass and the events so far", func() bool {
		return calls.Load() > 0 && pn.nodes[0].metric(t, "floe_node_event_cursor")+1 >= float64(seq)
	})
	before := calls.Load()
	time.Sleep(time.Second) // 20 polls, were the node polling at ChallengePoll
	if n := calls.Load() - before; n > 2 {
		t.Fatalf("node 0 asked the challenges of its epoch %d times in 1 s with no round open", n)
	}
}
