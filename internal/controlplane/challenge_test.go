package controlplane

import (
	"errors"
	"slices"
	"testing"

	cpapi "github.com/floelabs/floe/api/controlplane"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/challenge"
	"github.com/floelabs/floe/internal/crypto"
	"github.com/floelabs/floe/internal/protocol"
)

// memberKey returns the BLS key of member i of the current committee.
func (h *harness) memberKey(i int) *crypto.BLSSecretKey {
	h.t.Helper()
	c, _ := h.s.Committee(h.s.Epoch())
	for _, k := range h.nodes {
		if k.PublicKey() == crypto.BLSPublicKey(c.Members[i].BLSPublicKey) {
			return k
		}
	}
	h.t.Fatalf("no key for member %d", i)
	return nil
}

func (h *harness) member(i int) cpapi.Member {
	c, _ := h.s.Committee(h.s.Epoch())
	return c.Members[i]
}

// shareOp is member i's seed share of round r of the current epoch.
// shareAll commits, in one block, every member's seed share for round r of the current
// epoch, and returns the epoch's committee.
func (h *harness) shareAll(r uint32) *cpapi.Committee {
	h.t.Helper()
	c, _ := h.s.Committee(h.s.Epoch())
	var txs [][]byte
	for i := range c.Members {
		txs = append(txs, h.sign(h.alice, h.shareOp(i, r)))
	}
	h.block(txs...)
	return c
}

func (h *harness) shareOp(i int, r uint32) Op {
	e := h.s.Epoch()
	return Op{ChallengeShare: &ChallengeShareOp{Epoch: e, Round: r, NodeID: ObjectID(h.member(i).NodeID),
		Share: protocol.SignChallengeSeedShare(h.memberKey(i), e, r)}}
}

// attestOp is an attestation by signers that member node passed (or failed) round r.
func (h *harness) attestOp(node int, r uint32, passed bool, signers ...int) Op {
	msg := protocol.ChallengeAttestation{Epoch: h.s.Epoch(), Round: r, Node: protocol.ObjectID(h.member(node).NodeID), Passed: passed}.Encode()
	return Op{ChallengeCertificate: &ChallengeCertificateOp{Certificate: h.cert(msg, signers...)}}
}

// certifiedBlobs registers and certifies k blobs; it returns their IDs.
func (h *harness) certifiedBlobs(k int, seed byte) []blob.ID {
	var ids []blob.ID
	for i := 0; i < k; i++ {
		obj, bid := h.register(h.alice, 1000+uint64(i), seed+byte(i), 4, false)
		if r := h.certify(h.alice, obj, bid, false); !r.OK() {
			h.t.Fatalf("certify: %v", r.Err)
		}
		ids = append(ids, bid)
	}
	return ids
}

func (h *harness) nodeChallenge(node int, r uint32) *cpapi.NodeChallenge {
	h.t.Helper()
	nc, ok := h.s.NodeChallenge(h.s.Epoch(), r, ObjectID(h.member(node).NodeID))
	if !ok {
		h.t.Fatalf("no challenge for member %d in round %d", node, r)
	}
	return nc
}

func hasEvent(evs []cpapi.Event, t cpapi.EventType) bool {
	for _, e := range evs {
		if e.Type == t {
			return true
		}
	}
	return false
}

// TestChallengeRound runs a round through every outcome: the seed from a quorum of shares,
// samples from the blobs certified before it, a pass by one certificate, a pass by attestations
// accumulated over two transactions, a fail by a validity threshold, a miss at the epoch's end;
// then the consequences: the failing nodes' rewards are burnt, the others paid.
func TestChallengeRound(t *testing.T) {
	h := newHarness(t)
	if len(h.s.d.Rounds) != 1 {
		t.Fatalf("%d rounds open at genesis, want 1", len(h.s.d.Rounds))
	}
	blobs := h.certifiedBlobs(5, 10)
	w := h.memberIndexByWeight() // shards 4, 3, 2, 1
	// Shares of 4+2 shards: not a quorum of 10 (7).
	res := h.block(h.sign(h.alice, h.shareOp(w[0], 0)), h.sign(h.bob, h.shareOp(w[2], 0)))
	for _, r := range res.Results {
		if !r.OK() {
			t.Fatalf("share: %v", r.Err)
		}
	}
	if hasEvent(res.Events(), EventChallengeSeedFixed) || h.nodeChallenge(w[0], 0).Status != cpapi.ChallengeAwaitingSeed {
		t.Fatal("seed fixed below a quorum")
	}
	late := h.certifiedBlobs(1, 50) // certified before the seed: eligible
	res = h.block(h.sign(h.alice, h.shareOp(w[3], 0)), h.sign(h.bob, h.shareOp(w[1], 0)))
	if !hasEvent(res.EndEvents, EventChallengeSeedFixed) {
		t.Fatalf("no seed after shares of every member: %+v", res.Events())
	}
	ep, _ := h.s.ChallengeEpoch(h.s.Epoch())
	if ep.Rounds[0].Seed == nil || ep.Rounds[0].EligibleBlobs != 6 || ep.Rounds[0].ShareWeight != 10 {
		t.Fatalf("round %+v", ep.Rounds[0])
	}
	eligible := map[blob.ID]bool{late[0]: true}
	for _, b := range blobs {
		eligible[b] = true
	}
	for i := 0; i < 4; i++ {
		nc := h.nodeChallenge(i, 0)
		if nc.Status != cpapi.ChallengeOpen || len(nc.Samples) != h.s.Params().ChallengeSamples {
			t.Fatalf("member %d: %s with %d samples", i, nc.Status, len(nc.Samples))
		}
		shards := map[uint16]bool{}
		for _, s := range h.member(i).Shards {
			shards[s] = true
		}
		for _, s := range nc.Samples {
			if !eligible[s.BlobID] || !shards[s.Shard] || int(s.Symbol) >= 10 {
				t.Fatalf("member %d: sample %+v outside its shards or the eligible blobs", i, s)
			}
		}
	}
	// Shares after the seed are refused.
	if r := h.do(h.alice, h.shareOp(w[0], 0)); r.OK() || !errors.Is(r.Err, ErrChallenge) {
		t.Fatalf("share after the seed: %v", r.Err)
	}
	// w[0] passes with one certificate (4+3 shards).
	if r := h.ok(h.alice, h.attestOp(w[0], 0, true, w[0], w[1])); !hasEvent(r.Events, EventChallengePassed) {
		t.Fatal("no ChallengePassed")
	}
	// w[1] passes by accumulation: 4 shards, then 3 more.
	h.ok(h.bob, h.attestOp(w[1], 0, true, w[0]))
	if st := h.nodeChallenge(w[1], 0); st.Status != cpapi.ChallengeOpen || st.PassWeight != 4 {
		t.Fatalf("after 4 shards: %+v", st)
	}
	if r := h.do(h.bob, h.attestOp(w[1], 0, true, w[0])); r.OK() {
		t.Fatal("an attestation adding no signer was accepted")
	}
	h.ok(h.bob, h.attestOp(w[1], 0, true, w[0], w[1]))
	if st := h.nodeChallenge(w[1], 0); st.Status != cpapi.ChallengePassed || st.PassWeight != 7 || len(st.Samples) != 0 {
		t.Fatalf("after 7 shards: %+v", st)
	}
	// w[2] fails: fail attestations of 3 shards are not enough (validity is 4 of 10), 4 are.
	h.ok(h.alice, h.attestOp(w[2], 0, false, w[1]))
	if st := h.nodeChallenge(w[2], 0); st.Status != cpapi.ChallengeOpen {
		t.Fatalf("failed below the validity threshold: %+v", st)
	}
	h.ok(h.alice, h.attestOp(w[2], 0, false, w[3]))
	if st := h.nodeChallenge(w[2], 0); st.Status != cpapi.ChallengeFailed || st.FailWeight != 4 {
		t.Fatalf("after 4 shards of fail attestations: %+v", st)
	}
	if r := h.do(h.alice, h.attestOp(w[2], 0, true, w[0], w[1])); r.OK() {
		t.Fatal("a decided challenge took more attestations")
	}
	// w[3] never answers. The epoch ends: w[2] failed and loses its reward; w[3] is pending (it
	// may still answer in the next epoch), its reward held.
	h.register(h.bob, 5000, 99, 2, false) // some write fees for the epoch's bucket
	e := h.s.Epoch()
	bucket := h.s.d.Rewards[e]
	before := map[Address]uint64{}
	for _, o := range h.owners {
		before[o.Address()] = h.s.Account(o.Address()).Balance
	}
	h.nextEpoch()
	burnt := uint64(0)
	for i := 0; i < 4; i++ {
		node := ObjectID(h.nodeAt(e, i).NodeID)
		a, ok := h.s.NodeAccountability(node)
		if !ok || len(a.Recent) != 1 || a.Recent[0].Epoch != e {
			t.Fatalf("member %d: accountability %+v", i, a)
		}
		share := mulDiv(bucket, uint64(len(h.nodeAt(e, i).Shards)), 10)
		switch i {
		case w[0], w[1]:
			if a.Recent[0].Failed || a.RewardsEarned != share || a.RoundsPassed != 1 {
				t.Fatalf("member %d passed: %+v", i, a)
			}
		case w[2]:
			if !a.Recent[0].Failed || a.RewardsWithheld != share || a.RoundsFailed != 1 || a.ConsecutiveFailedEpochs != 1 {
				t.Fatalf("member %d failed: %+v", i, a)
			}
			burnt += share
		case w[3]:
			if r := a.Recent[0]; r.Failed || r.RoundsPending != 1 || r.RewardHeld != share || a.RewardsWithheld != 0 || a.ConsecutiveFailedEpochs != 0 {
				t.Fatalf("member %d pending: %+v", i, a)
			}
		}
	}
	if got := h.s.Info().RewardsBurnt; got != burnt || burnt == 0 {
		t.Fatalf("burnt %d, want %d", got, burnt)
	}
	// The failing and the pending nodes' owners got nothing of the bucket, the others their share.
	for i := 0; i < 4; i++ {
		m := h.nodeAt(e, i)
		owner := h.s.d.Nodes[ObjectID(m.NodeID)].Owner
		got := h.s.Account(owner).Balance - before[owner]
		failed := i == w[2] || i == w[3]
		if failed != (got == 0) {
			t.Fatalf("member %d (failed or pending %v) was paid %d", i, failed, got)
		}
	}
	// w[3] does not answer in the next epoch either: it missed the round. The miss is no
	// failure (it counts towards no slashing) and its reward stays held until it passes again.
	held := mulDiv(bucket, uint64(len(h.nodeAt(e, w[3]).Shards)), 10)
	h.nextEpoch()
	a, _ := h.s.NodeAccountability(ObjectID(h.nodeAt(e, w[3]).NodeID))
	if r := a.Recent[0]; r.Epoch != e || r.Failed || r.RoundsMissed != 1 || r.RoundsFailed != 0 || r.RoundsPending != 0 || r.RewardHeld != held || r.RewardWithheld != 0 ||
		a.RewardsWithheld != 0 || a.RewardsHeld != held || a.EpochsFailed != 0 || a.RoundsMissed != 1 || a.ConsecutiveFailedEpochs != 0 {
		t.Fatalf("member %d after the grace epoch: %+v", w[3], a)
	}
	if got := h.s.Info().RewardsBurnt; got != burnt {
		t.Fatalf("burnt %d, want %d", got, burnt)
	}
}

// nodeAt returns member i of epoch e's committee.
func (h *harness) nodeAt(e uint32, i int) cpapi.Member {
	c, _ := h.s.Committee(e)
	return c.Members[i]
}

// failEpoch runs the current epoch's round 0 with every member's share and every member but
// the one given passing; that one gets a fail certificate.
func (h *harness) failEpoch(node cpapi.ObjectID) {
	h.t.Helper()
	c := h.shareAll(0)
	w := h.memberIndexByWeight()
	for i, m := range c.Members {
		if m.NodeID != node {
			h.ok(h.alice, h.attestOp(i, 0, true, w[0], w[1], w[2]))
		} else {
			h.ok(h.alice, h.attestOp(i, 0, false, w[0]))
		}
	}
	h.nextEpoch()
}

// TestChallengeSlashing: a node that fails two epochs in a row loses 10% of its stake (burnt)
// and is left out of the next committee; honest nodes keep theirs.
func TestChallengeSlashing(t *testing.T) {
	h := newHarness(t)
	h.certifiedBlobs(3, 1)
	w := h.memberIndexByWeight()
	bad := h.member(w[3]).NodeID // 1 shard, stake 10
	good := h.member(w[0]).NodeID
	stakeOf := func(id cpapi.ObjectID) uint64 { return h.s.NodeStake(ObjectID(id), h.s.Epoch()) }
	h.failEpoch(bad)
	if a, _ := h.s.NodeAccountability(ObjectID(bad)); a.ConsecutiveFailedEpochs != 1 || a.Slashed != 0 {
		t.Fatalf("after one failed epoch: %+v", a)
	}
	if c, _ := h.s.Committee(h.s.Epoch()); c.MemberIndex(bad) < 0 {
		t.Fatal("removed after one failed epoch")
	}
	goodStake := stakeOf(good)
	h.certifiedBlobs(2, 40)
	h.failEpoch(bad)
	a, _ := h.s.NodeAccountability(ObjectID(bad))
	if a.Slashed != 1 || a.Slashings != 1 || a.ExcludedEpoch != h.s.Epoch() || a.ConsecutiveFailedEpochs != 0 {
		t.Fatalf("after two failed epochs: %+v", a)
	}
	if got := h.s.d.Stakes[genesisObjectID("stake", 3)].Amount; got != 9 {
		t.Fatalf("stake after slashing %d, want 9", got)
	}
	if c, _ := h.s.Committee(h.s.Epoch()); c.MemberIndex(bad) >= 0 {
		t.Fatal("the slashed node is still in the committee")
	}
	if stakeOf(good) != goodStake {
		t.Fatal("an honest node's stake changed")
	}
	if info := h.s.Info(); info.StakeSlashed != 1 {
		t.Fatalf("info: %+v", info)
	}
	// The next epoch change brings it back (its stake still counts).
	h.nextEpoch()
	if c, _ := h.s.Committee(h.s.Epoch()); c.MemberIndex(bad) < 0 {
		t.Fatal("the slashed node is kept out for more than one committee")
	}
}

// TestChallengeVoidAndEmpty: a round whose seed is never fixed is void (no consequence); a
// round without eligible blobs passes every member at once.
func TestChallengeVoidAndEmpty(t *testing.T) {
	h := newHarness(t)
	res := h.block(h.sign(h.alice, h.shareOp(0, 0)), h.sign(h.alice, h.shareOp(1, 0)), h.sign(h.alice, h.shareOp(2, 0)), h.sign(h.alice, h.shareOp(3, 0)))
	if !hasEvent(res.EndEvents, EventChallengeSeedFixed) {
		t.Fatal("no seed")
	}
	for i := 0; i < 4; i++ {
		if st := h.nodeChallenge(i, 0); st.Status != cpapi.ChallengePassed || len(st.Samples) != 0 {
			t.Fatalf("member %d with nothing to prove: %+v", i, st)
		}
	}
	h.nextEpoch()
	h.certifiedBlobs(2, 7)
	e := h.s.Epoch()
	h.nextEpoch() // nobody gave a share in e
	for i := 0; i < 4; i++ {
		a, _ := h.s.NodeAccountability(ObjectID(h.nodeAt(e, i).NodeID))
		if r := a.Recent[len(a.Recent)-1]; r.Epoch != e || r.Failed || r.RoundsVoid != 1 || a.RewardsWithheld != 0 {
			t.Fatalf("member %d after a void round: %+v", i, a)
		}
	}
}

// TestChallengeAdmission: shares and attestations are admitted from accounts that never held
// tokens when they verify and change something; forged or useless ones are refused.
func TestChallengeAdmission(t *testing.T) {
	h := newHarness(t)
	h.certifiedBlobs(2, 3)
	fresh := accountKey(t, 'z')
	check := func(op Op) error {
		vt, err := VerifyTx(h.sign(fresh, op))
		if err != nil {
			t.Fatal(err)
		}
		h.nonces[fresh.Address()]--
		return h.s.CheckVerified(vt)
	}
	if err := check(h.shareOp(0, 0)); err != nil {
		t.Fatalf("a valid share from a fresh account: %v", err)
	}
	forged := h.shareOp(0, 0)
	forged.ChallengeShare.Share = protocol.SignChallengeSeedShare(h.memberKey(1), h.s.Epoch(), 0)
	if err := check(forged); !errors.Is(err, ErrChallenge) {
		t.Fatalf("a share signed by another member: %v", err)
	}
	wrongRound := h.shareOp(0, 3)
	if err := check(wrongRound); !errors.Is(err, ErrChallenge) {
		t.Fatalf("a share of a round that is not open: %v", err)
	}
	if err := check(h.attestOp(0, 0, true, 0, 1)); !errors.Is(err, ErrChallenge) {
		t.Fatalf("an attestation before the seed: %v", err)
	}
	var txs [][]byte
	for i := 0; i < 4; i++ {
		txs = append(txs, h.sign(fresh, h.shareOp(i, 0)))
	}
	for _, r := range h.block(txs...).Results {
		if !r.OK() {
			t.Fatalf("share from a fresh account: %v", r.Err)
		}
	}
	if err := check(h.shareOp(0, 0)); !errors.Is(err, ErrChallenge) {
		t.Fatalf("a second share: %v", err)
	}
	if err := check(h.attestOp(0, 0, true, 0)); err != nil {
		t.Fatalf("a valid partial attestation: %v", err)
	}
	bad := h.attestOp(0, 0, true, 0)
	bad.ChallengeCertificate.Certificate.Signers = []byte{0b10} // claims member 1 signed
	if err := check(bad); !errors.Is(err, ErrCertificate) {
		t.Fatalf("a certificate whose signature is not its signers': %v", err)
	}
	other := h.attestOp(0, 0, true, 0)
	other.ChallengeCertificate.Certificate.Message = protocol.ChallengeSeedShare{Epoch: h.s.Epoch()}.Encode()
	if err := check(other); !errors.Is(err, ErrWrongMessage) {
		t.Fatalf("a certificate over another message: %v", err)
	}
}

// TestChallengeRoundsPerEpoch: with three rounds per epoch they open at equal intervals, and
// NextDueMs tells a driver when.
func TestChallengeRoundsPerEpoch(t *testing.T) {
	g, keys, owners := testGenesis(t)
	g.Params.ChallengeRounds = 3
	s, _, err := NewState(g)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, s: s, now: t0, nodes: keys, owners: owners, alice: accountKey(t, 'a'), bob: accountKey(t, 'b'), nonces: map[Address]uint64{}}
	if due := s.NextDueMs(); due != t0.UnixMilli()+20_000 {
		t.Fatalf("next due %d, want round 1 at +20 s", due-t0.UnixMilli())
	}
	h.blockAt(t0.Add(19_999_000_000))
	if len(s.d.Rounds) != 1 {
		t.Fatal("round 1 opened early")
	}
	res := h.blockAt(t0.Add(20_000_000_000))
	if !hasEvent(res.BlockEvents, EventChallengeRoundOpened) || len(s.d.Rounds) != 2 {
		t.Fatal("round 1 did not open at +20 s")
	}
	h.blockAt(t0.Add(59_000_000_000))
	if len(s.d.Rounds) != 3 || s.NextDueMs() != t0.UnixMilli()+60_000 {
		t.Fatalf("%d rounds, next due %d", len(s.d.Rounds), s.NextDueMs())
	}
	h.nextEpoch()
	if len(s.d.Rounds) != 4 { // epoch 1's three rounds are kept through epoch 2
		t.Fatalf("%d rounds after the epoch change", len(s.d.Rounds))
	}
	h.nextEpoch()
	if len(s.d.Rounds) != 2 { // epoch 1's are gone; epoch 2 had only its first round (no block came later in it), and 3's first
		t.Fatalf("%d rounds two epochs later", len(s.d.Rounds))
	}
}

func TestChallengeSamplesAreDrawn(t *testing.T) {
	// The samples the state records are challenge.Draw's over the eligible blobs: a node can
	// recompute them from the seed.
	h := newHarness(t)
	blobs := h.certifiedBlobs(4, 60)
	var txs [][]byte
	for i := 0; i < 4; i++ {
		txs = append(txs, h.sign(h.alice, h.shareOp(i, 0)))
	}
	h.block(txs...)
	ep, _ := h.s.ChallengeEpoch(h.s.Epoch())
	sorted := h.s.eligibleBlobs(h.s.Epoch())
	if len(sorted) != len(blobs) {
		t.Fatalf("%d eligible of %d", len(sorted), len(blobs))
	}
	m := h.member(2)
	want := challenge.Draw(*ep.Rounds[0].Seed, m.NodeID, h.s.Params().ChallengeSamples, sorted, m.Shards, 10)
	got := h.nodeChallenge(2, 0).Samples
	for i := range want {
		if got[i].BlobID != want[i].BlobID || got[i].Shard != want[i].Shard || got[i].Axis != want[i].Axis.String() || got[i].Symbol != want[i].Symbol {
			t.Fatalf("sample %d: %+v, drawn %+v", i, got[i], want[i])
		}
	}
}

// attestIn is an attestation by signers (indices in epoch e's committee) that member node of
// epoch e passed (or failed) round r of e.
func (h *harness) attestIn(e uint32, node int, r uint32, passed bool, signers ...int) Op {
	h.t.Helper()
	c, _ := h.s.Committee(e)
	msg := protocol.ChallengeAttestation{Epoch: e, Round: r, Node: protocol.ObjectID(c.Members[node].NodeID), Passed: passed}.Encode()
	keyOf := map[crypto.BLSPublicKey]*crypto.BLSSecretKey{}
	for _, k := range h.nodes {
		keyOf[k.PublicKey()] = k
	}
	var sigs []crypto.BLSSignature
	for _, i := range signers {
		sigs = append(sigs, keyOf[crypto.BLSPublicKey(c.Members[i].BLSPublicKey)].Sign(msg))
	}
	agg, err := crypto.AggregateSignatures(sigs)
	if err != nil {
		h.t.Fatal(err)
	}
	bm, err := protocol.Bitmap(len(c.Members), signers)
	if err != nil {
		h.t.Fatal(err)
	}
	return Op{ChallengeCertificate: &ChallengeCertificateOp{Certificate: protocol.Certificate{Signers: bm, Message: msg, Signature: agg}}}
}

// TestChallengeLateAnswer is the regression test of a chaos run's false positive: an honest
// node that was wiped just before its epoch ended (still recovering the sampled slivers) used to
// miss the round at the epoch's end and lose its reward. A challenge still open when its epoch
// ends is pending instead: the node's reward is held, it may be attested through the whole next
// epoch (a pass pays the held reward, a fail certificate burns it), and only what is still
// open when that epoch ends has missed. Attestations for older epochs are refused.
func TestChallengeLateAnswer(t *testing.T) {
	h := newHarness(t)
	h.certifiedBlobs(3, 20)
	w := h.memberIndexByWeight() // shards 4, 3, 2, 1
	c := h.shareAll(0)
	// w[0] and w[1] pass in their epoch; w[2] and w[3] (the recovering nodes) do not answer in it.
	h.ok(h.alice, h.attestOp(w[0], 0, true, w[0], w[1]))
	h.ok(h.alice, h.attestOp(w[1], 0, true, w[0], w[1]))
	h.register(h.bob, 5000, 98, 2, false) // write fees for the epoch's bucket
	e := h.s.Epoch()
	bucket := h.s.d.Rewards[e]
	share := func(i int) uint64 { return mulDiv(bucket, uint64(len(c.Members[i].Shards)), 10) }
	late, liar := w[3], w[2]
	h.nextEpoch()
	for _, i := range []int{late, liar} {
		a, _ := h.s.NodeAccountability(ObjectID(c.Members[i].NodeID))
		r := a.Recent[len(a.Recent)-1]
		if r.Epoch != e || r.Failed || r.RoundsPending != 1 || r.RewardHeld != share(i) || a.RewardsWithheld != 0 || a.EpochsFailed != 0 {
			t.Fatalf("member %d, challenged when epoch %d ended: %+v", i, e, a)
		}
		if nc, ok := h.s.NodeChallenge(e, 0, ObjectID(c.Members[i].NodeID)); !ok || nc.Status != cpapi.ChallengeOpen || len(nc.Samples) == 0 {
			t.Fatalf("member %d's challenge of epoch %d in the next epoch: %+v", i, e, nc)
		}
	}
	if got := h.s.Info().RewardsBurnt; got != 0 {
		t.Fatalf("burnt %d while the challenges are pending", got)
	}
	// In the next epoch: the late node's answer is attested by a quorum (epoch e's committee),
	// the liar's fails (a validity threshold).
	h.ok(h.alice, h.attestIn(e, late, 0, true, w[0], w[1]))
	h.ok(h.alice, h.attestIn(e, liar, 0, false, w[0]))
	for i, want := range map[int]cpapi.ChallengeStatus{late: cpapi.ChallengePassed, liar: cpapi.ChallengeFailed} {
		if nc, _ := h.s.NodeChallenge(e, 0, ObjectID(c.Members[i].NodeID)); nc.Status != want {
			t.Fatalf("member %d's late challenge: %s, want %s", i, nc.Status, want)
		}
	}
	e1 := h.s.Epoch()
	bucket1 := h.s.d.Rewards[e1]
	h.nextEpoch()
	// The late node is paid its held reward of e (and its share of e1, whose round was void);
	// the liar failed e and its held reward is burnt.
	a, _ := h.s.NodeAccountability(ObjectID(c.Members[late].NodeID))
	r := a.Recent[len(a.Recent)-2]
	if r.Epoch != e || r.Failed || r.RoundsPassed != 1 || r.RoundsPending != 0 || r.RewardHeld != 0 || r.Reward != share(late) ||
		a.RewardsEarned != share(late)+mulDiv(bucket1, uint64(len(c.Members[late].Shards)), 10) || a.EpochsFailed != 0 || a.RoundsPassed != 1 {
		t.Fatalf("the late node after the grace epoch: %+v", a)
	}
	a, _ = h.s.NodeAccountability(ObjectID(c.Members[liar].NodeID))
	r = a.Recent[len(a.Recent)-2]
	if r.Epoch != e || !r.Failed || r.RoundsFailed != 1 || r.RewardWithheld != share(liar) || a.EpochsFailed != 1 || a.RoundsFailed != 1 {
		t.Fatalf("the liar after the grace epoch: %+v", a)
	}
	if got := h.s.Info().RewardsBurnt; got != share(liar) {
		t.Fatalf("burnt %d, want the liar's %d", got, share(liar))
	}
	// Epoch e's records are gone, and an attestation for it is refused.
	if _, ok := h.s.NodeChallenge(e, 0, ObjectID(c.Members[late].NodeID)); ok {
		t.Fatalf("epoch %d's challenges kept two epochs on", e)
	}
	if r := h.do(h.alice, h.attestIn(e, late, 0, true, w[0], w[1], w[2])); r.OK() || !errors.Is(r.Err, ErrWrongEpoch) {
		t.Fatalf("an attestation two epochs late: %v", r.Err)
	}
}

// failEpochOf runs the current epoch's round 0 with every member's share: the given members
// get fail certificates, the others pass.
func (h *harness) failEpochOf(bad ...cpapi.ObjectID) {
	h.t.Helper()
	c := h.shareAll(0)
	w := h.memberIndexByWeight()
	for i, m := range c.Members {
		if slices.Contains(bad, m.NodeID) {
			h.ok(h.alice, h.attestOp(i, 0, false, w[0]))
		} else {
			h.ok(h.alice, h.attestOp(i, 0, true, w[0], w[1], w[2]))
		}
	}
	h.nextEpoch()
}

// TestChallengeMissesNeverSlash: a node that never answers (no certificate either way, round
// after round) loses its reward of every such epoch, but a miss attributes no fault, so it is
// never slashed nor excluded, however long it lasts (the 30-minute chaos run's collapse: honest
// nodes that missed rounds under overload were slashed and excluded, their shards moved).
func TestChallengeMissesNeverSlash(t *testing.T) {
	h := newHarness(t)
	w := h.memberIndexByWeight()
	silent := h.member(w[1]).NodeID
	for k := range 6 {
		h.certifiedBlobs(1, byte(100+k)) // something to sample in every epoch
		c := h.shareAll(0)
		for i, m := range c.Members {
			if m.NodeID != silent {
				h.ok(h.alice, h.attestOp(i, 0, true, w[0], w[1], w[2]))
			}
		}
		h.register(h.bob, 5000, byte(h.s.Epoch()), 2, false) // rewards to withhold
		h.nextEpoch()
		if c, _ := h.s.Committee(h.s.Epoch()); c.MemberIndex(silent) < 0 {
			t.Fatalf("epoch %d: the silent node was excluded", h.s.Epoch())
		}
	}
	a, _ := h.s.NodeAccountability(ObjectID(silent))
	if a.RoundsMissed != 5 || a.RoundsFailed != 0 || a.EpochsFailed != 0 || a.Slashed != 0 || a.Slashings != 0 || a.ExcludedEpoch != 0 ||
		a.RewardsWithheld != 0 || a.RewardsHeld == 0 || a.RewardsEarned != 0 {
		t.Fatalf("after 6 silent epochs (5 settled for good): %+v", a)
	}
	if info := h.s.Info(); info.StakeSlashed != 0 {
		t.Fatalf("stake slashed %d", info.StakeSlashed)
	}
	// It comes back (its recovery done) and passes: every held reward is paid.
	owner := h.s.d.Nodes[ObjectID(silent)].Owner
	before := h.s.Account(owner).Balance
	held := a.RewardsHeld
	h.certifiedBlobs(1, 120)
	h.failEpochOf() // everyone passes; the round before, still pending, is missed and held too
	a, _ = h.s.NodeAccountability(ObjectID(silent))
	if a.RewardsHeld != 0 || a.RewardsWithheld != 0 || a.RewardsEarned < held || h.s.Account(owner).Balance <= before {
		t.Fatalf("after passing again (held %d): %+v", held, a)
	}
}

// challengeEpoch runs round 0 of the current epoch with write fees in the epoch's bucket:
// the members in silent do not answer (no certificate either way), those in failing fail (fail
// attestations of a validity threshold), the others pass. It returns the epoch and node's
// share of the epoch's rewards.
func (h *harness) challengeEpoch(seed byte, node cpapi.ObjectID, silent, failing []cpapi.ObjectID) (uint32, uint64) {
	h.t.Helper()
	h.certifiedBlobs(1, seed) // something to sample
	c := h.shareAll(0)
	w := h.memberIndexByWeight()
	for i, m := range c.Members {
		switch {
		case slices.Contains(silent, m.NodeID):
		case slices.Contains(failing, m.NodeID):
			h.ok(h.alice, h.attestOp(i, 0, false, w[0]))
		default:
			h.ok(h.alice, h.attestOp(i, 0, true, w[0], w[1], w[2]))
		}
	}
	h.register(h.bob, 5000, seed, 2, false) // write fees
	e := h.s.Epoch()
	share := mulDiv(h.s.d.Rewards[e], uint64(len(c.Members[c.MemberIndex(node)].Shards)), uint64(c.NShards))
	if share == 0 {
		h.t.Fatalf("epoch %d: no reward to hold", e)
	}
	h.nextEpoch()
	return e, share
}

// TestChallengeMissedRewardHeld follows a node's rewards through epochs it misses and the
// epoch it passes again, to the token: each missed epoch's reward is held (neither paid nor
// burnt, the owner's balance unchanged, RewardsHeld counting the pending epoch too), and all of
// them are paid when an epoch settles with its round passed, each recorded against its epoch.
func TestChallengeMissedRewardHeld(t *testing.T) {
	h := newHarness(t)
	w := h.memberIndexByWeight()
	node := h.member(w[1]).NodeID
	owner := h.s.d.Nodes[ObjectID(node)].Owner
	before := h.s.Account(owner).Balance
	var epochs []uint32
	var shares []uint64
	var total uint64
	for k := range 3 {
		e, share := h.challengeEpoch(byte(170+k), node, []cpapi.ObjectID{node}, nil)
		epochs, shares, total = append(epochs, e), append(shares, share), total+share
		a, _ := h.s.NodeAccountability(ObjectID(node))
		if a.RewardsHeld != total || a.RewardsEarned != 0 || a.RewardsWithheld != 0 || a.RewardsHeldPaid != 0 ||
			a.RoundsMissed != uint64(k) || a.RoundsFailed != 0 || a.EpochsFailed != 0 {
			t.Fatalf("after %d silent epochs (held %d): %+v", k+1, total, a)
		}
		if r := a.Recent[len(a.Recent)-1]; r.Epoch != e || r.RoundsPending != 1 || r.RewardHeld != share {
			t.Fatalf("epoch %d: %+v", e, r)
		}
		if k > 0 {
			if r := a.Recent[len(a.Recent)-2]; r.Epoch != epochs[k-1] || r.RoundsMissed != 1 || r.RewardHeld != shares[k-1] || r.Reward != 0 || r.RewardWithheld != 0 {
				t.Fatalf("missed epoch %d: %+v", epochs[k-1], r)
			}
		}
		if got := h.s.Account(owner).Balance; got != before {
			t.Fatalf("the owner was paid %d while the rewards were held", got-before)
		}
	}
	// It passes the next epoch's round (the last silent epoch's round is missed when it ends):
	// every held reward is paid, with the epoch's own.
	_, last := h.challengeEpoch(180, node, nil, nil)
	a, _ := h.s.NodeAccountability(ObjectID(node))
	if a.RewardsHeld != 0 || a.RewardsHeldPaid != total || a.RewardsEarned != total+last || a.RewardsWithheld != 0 ||
		a.RoundsMissed != 3 || a.RoundsPassed != 1 {
		t.Fatalf("after passing again (held %d, then %d): %+v", total, last, a)
	}
	for k, e := range epochs {
		for _, r := range a.Recent {
			if r.Epoch == e && (r.Reward != shares[k] || r.RewardHeld != 0 || r.RewardWithheld != 0 || r.RoundsMissed != 1) {
				t.Fatalf("epoch %d after the pass: %+v", e, r)
			}
		}
	}
	// The node's owner is its only staker: it gets the whole of every share.
	if got := h.s.Account(owner).Balance - before; got != total+last {
		t.Fatalf("the owner got %d, want %d held + %d", got, total, last)
	}
	if burnt := h.s.Info().RewardsBurnt; burnt != 0 {
		t.Fatalf("burnt %d", burnt)
	}
}

// TestChallengeMissedRewardBurntOnFail: a node that missed rounds and then fails one (its answer
// shows it lacks data) loses the rewards held for its misses with the failed epoch's.
func TestChallengeMissedRewardBurntOnFail(t *testing.T) {
	h := newHarness(t)
	w := h.memberIndexByWeight()
	node := h.member(w[2]).NodeID
	silent := []cpapi.ObjectID{node}
	_, s0 := h.challengeEpoch(130, node, silent, nil)
	_, s1 := h.challengeEpoch(131, node, silent, nil) // s0 missed, s1 pending
	a, _ := h.s.NodeAccountability(ObjectID(node))
	if a.RewardsHeld != s0+s1 || a.RoundsMissed != 1 {
		t.Fatalf("after a missed round: %+v", a)
	}
	_, s2 := h.challengeEpoch(132, node, nil, silent) // s1's round missed too, then a fail
	a, _ = h.s.NodeAccountability(ObjectID(node))
	want := s0 + s1 + s2
	if a.RewardsHeld != 0 || a.RewardsWithheld != want || a.RewardsEarned != 0 || a.RewardsHeldPaid != 0 || a.EpochsFailed != 1 || a.RoundsMissed != 2 {
		t.Fatalf("after a fail certificate (held %d + %d, failed epoch %d): %+v", s0, s1, s2, a)
	}
	if burnt := h.s.Info().RewardsBurnt; burnt != want {
		t.Fatalf("burnt %d, want %d", burnt, want)
	}
}

// TestChallengeMissedRewardExpires: a node that never passes again has each held reward burnt
// once it has been held for missedHoldEpochs epochs (oldest first); the later ones stay held.
func TestChallengeMissedRewardExpires(t *testing.T) {
	h := newHarness(t)
	w := h.memberIndexByWeight()
	node := h.member(w[3]).NodeID
	silent := []cpapi.ObjectID{node}
	var shares []uint64
	var first uint32
	for k := range missedHoldEpochs + 1 {
		e, share := h.challengeEpoch(byte(k), node, silent, nil)
		if k == 0 {
			first = e
		}
		shares = append(shares, share)
		if a, _ := h.s.NodeAccountability(ObjectID(node)); k < missedHoldEpochs && a.RewardsWithheld != 0 {
			t.Fatalf("epoch %d (%d after the first miss): burnt %d early", e, e-first, a.RewardsWithheld)
		}
	}
	a, _ := h.s.NodeAccountability(ObjectID(node))
	var rest uint64
	for _, s := range shares[1:] {
		rest += s
	}
	if a.RewardsWithheld != shares[0] || a.RewardsHeld != rest || a.RewardsEarned != 0 || a.RoundsMissed != missedHoldEpochs || a.EpochsFailed != 0 || a.Slashed != 0 {
		t.Fatalf("after %d silent epochs (first %d: %d, then %d held): %+v", missedHoldEpochs+1, first, shares[0], rest, a)
	}
	if burnt := h.s.Info().RewardsBurnt; burnt != shares[0] {
		t.Fatalf("burnt %d, want %d", burnt, shares[0])
	}
}

// TestChallengeExclusionCap: when several nodes reach the slashing threshold at once, all are
// slashed but only as many are left out of the next committee as hold less than a third of the
// shards (fewest shards first): three of four members failing could otherwise leave one.
func TestChallengeExclusionCap(t *testing.T) {
	h := newHarness(t)
	h.certifiedBlobs(3, 80)
	w := h.memberIndexByWeight() // shards 4, 3, 2, 1 of 10
	bad := []cpapi.ObjectID{h.member(w[1]).NodeID, h.member(w[2]).NodeID, h.member(w[3]).NodeID}
	h.failEpochOf(bad...)
	h.certifiedBlobs(2, 90)
	h.failEpochOf(bad...)
	c, _ := h.s.Committee(h.s.Epoch())
	excluded := 0
	for i, id := range bad {
		a, _ := h.s.NodeAccountability(ObjectID(id))
		out := c.MemberIndex(id) < 0
		if a.Slashings != 1 || a.Slashed == 0 {
			t.Fatalf("bad node %d not slashed: %+v", i, a)
		}
		if r := a.Recent[len(a.Recent)-1]; r.Excluded != out || (a.ExcludedEpoch == h.s.Epoch()) != out {
			t.Fatalf("bad node %d: out of the committee %v, record %+v", i, out, a)
		}
		if out {
			excluded++
		}
	}
	// Shards 1 and 2 (3 of 10, below the validity threshold of 4) go; the 3-shard node stays.
	if excluded != 2 || c.MemberIndex(bad[0]) < 0 || len(c.Members) != 2 {
		t.Fatalf("%d excluded, committee of %d: %+v", excluded, len(c.Members), c.Members)
	}
}

// TestChallengeKeptShards: a member's samples are drawn from the shards it held in the epoch
// before too; a shard it gained at the epoch change (still being pulled from its previous
// owner) is not sampled in its first epoch, and a member whose every shard is new is void.
func TestChallengeKeptShards(t *testing.T) {
	h := newHarness(t)
	for h.s.Epoch() == 0 || h.s.d.Committees[h.s.Epoch()-1] == nil {
		h.nextEpoch()
	}
	e := h.s.Epoch()
	c := h.s.d.Committees[e]
	prev := h.s.d.Committees[e-1]
	m := c.Members[0]
	if got := h.s.keptShards(e, m); !slices.Equal(got, m.Shards) {
		t.Fatalf("a stable committee: kept %v of %v", got, m.Shards)
	}
	// Pretend the member held only its first shard in e-1, plus one it no longer has.
	saved := slices.Clone(prev.Members)
	defer func() { prev.Members = saved }()
	prev.Members = slices.Clone(prev.Members)
	i := prev.MemberIndex(m.NodeID)
	prev.Members[i].Shards = []uint16{m.Shards[0], 999}
	if got := h.s.keptShards(e, m); !slices.Equal(got, []uint16{m.Shards[0]}) {
		t.Fatalf("kept %v, want [%d]", got, m.Shards[0])
	}
	prev.Members = slices.Delete(prev.Members, i, i+1)
	if got := h.s.keptShards(e, m); len(got) != 0 {
		t.Fatalf("a new member kept %v", got)
	}
}

// TestChallengeSilentNodeExcluded: a node that misses every round of ExcludeAfterMissedEpochs
// epochs in a row (each miss final once its grace epoch ended) is left out of the next
// committee, not slashed; a node whose silent spells are broken by a passed epoch is not.
func TestChallengeSilentNodeExcluded(t *testing.T) {
	const limit = 3
	h := newHarness(t)
	h.s.d.Params.ExcludeAfterMissedEpochs = limit
	w := h.memberIndexByWeight()
	node := h.member(w[3]).NodeID
	silent := []cpapi.ObjectID{node}
	// The miss of an epoch is final when the next one ends: limit+1 silent epochs.
	for k := range limit + 1 {
		c, _ := h.s.Committee(h.s.Epoch())
		if c.MemberIndex(node) < 0 {
			t.Fatalf("excluded after %d silent epochs, want %d", k, limit+1)
		}
		h.challengeEpoch(byte(200+k), node, silent, nil)
	}
	c, _ := h.s.Committee(h.s.Epoch())
	a, _ := h.s.NodeAccountability(ObjectID(node))
	if c.MemberIndex(node) >= 0 || a.ExcludedEpoch != h.s.Epoch() || a.Slashed != 0 || a.Slashings != 0 || a.EpochsFailed != 0 {
		t.Fatalf("after %d silent epochs: in the committee %v, %+v", limit+1, c.MemberIndex(node) >= 0, a)
	}
	if r := a.Recent[len(a.Recent)-2]; !r.Excluded || r.RoundsMissed != 1 {
		t.Fatalf("the last final missed epoch's result: %+v", r)
	}

	h = newHarness(t)
	h.s.d.Params.ExcludeAfterMissedEpochs = limit
	w = h.memberIndexByWeight()
	node = h.member(w[3]).NodeID
	for k, quiet := range []bool{true, true, false, true, true, false} {
		var silent []cpapi.ObjectID
		if quiet {
			silent = []cpapi.ObjectID{node}
		}
		h.challengeEpoch(byte(210+k), node, silent, nil)
		c, _ := h.s.Committee(h.s.Epoch())
		if a, _ := h.s.NodeAccountability(ObjectID(node)); c.MemberIndex(node) < 0 || a.ExcludedEpoch != 0 || a.ConsecutiveMissedEpochs >= limit {
			t.Fatalf("epoch %d of a node that passes every third epoch: excluded (%+v)", k, a)
		}
	}
}
