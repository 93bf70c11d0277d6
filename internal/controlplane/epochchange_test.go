package controlplane

import (
	"crypto/ed25519"
	"errors"
	"slices"
	"testing"
	"time"

	cpapi "github.com/floelabs/floe/api/controlplane"
	"github.com/floelabs/floe/internal/crypto"
	"github.com/floelabs/floe/internal/protocol"
)

// addNode registers a node owned by owner with BLS key seed b and stakes amount on it from
// owner; it returns the node's ID and its BLS key.
func (h *harness) addNode(owner *crypto.AccountKey, b byte, amount uint64) (ObjectID, *crypto.BLSSecretKey) {
	h.t.Helper()
	k := blsKey(h.t, b)
	reg := RegisterNodeOp{Name: "new" + string(rune('a'+b%26)), NetworkAddress: "127.0.0.1:7000", NetworkPublicKey: []byte{9},
		BLSPublicKey: k.PublicKey(), ProofOfPossession: protocol.SignProofOfPossession(k, owner.Address(), h.s.Epoch()),
		Commission: 500, StoragePrice: 10, WritePrice: 5, Capacity: 1 << 30}
	id := ObjectID(h.ok(owner, Op{RegisterNode: &reg}).Created[0])
	if amount > 0 {
		h.ok(owner, Op{Stake: &StakeOp{NodeID: id, Amount: amount}})
	}
	return id, k
}

// atFraction applies an empty block at the given fraction of the current epoch.
func (h *harness) atFraction(f float64) *BlockResult {
	h.t.Helper()
	at := h.s.d.EpochStart + int64(f*float64(h.s.Params().EpochDurationMs))
	return h.blockAt(time.UnixMilli(at))
}

// report builds a member's EpochSyncDone transaction, sent from a fresh account derived from
// seed (it holds no tokens, like a storage node's).
func (h *harness) report(id ObjectID, key *crypto.BLSSecretKey, epoch uint32, seed byte) []byte {
	h.t.Helper()
	return h.sign(accountKey(h.t, seed), Op{EpochSyncDone: &EpochSyncDoneOp{NodeID: id, Epoch: epoch,
		Signature: protocol.SignEpochSyncDone(key, epoch, id)}})
}

func findEvent(evs []cpapi.Event, ty cpapi.EventType) *cpapi.Event {
	for i := range evs {
		if evs[i].Type == ty {
			return &evs[i]
		}
	}
	return nil
}

func (h *harness) epochState() string { return h.s.EpochChange().State }

// TestEpochChangeProtocol walks one change with a joining node: the next committee is
// selected at voting end (mid-epoch), the change starts at the epoch boundary with the new
// node pending, reports are checked (epoch, membership, signature, duplicates) and admitted
// without tokens, and EpochChangeDone comes with the report that completes a quorum of shards.
func TestEpochChangeProtocol(t *testing.T) {
	h := newHarness(t)
	if got := h.epochState(); got != cpapi.EpochStateChangeDone {
		t.Fatalf("genesis epoch state %q", got)
	}
	carol, carolKey := h.addNode(h.alice, 60, 100)
	if info, _ := h.s.NodeInfo(carol); info.Status != cpapi.NodeStatusJoining || info.NextStake != 100 || info.Stake != 0 {
		t.Fatalf("a staked new node: %+v", info)
	}

	// Before the middle of the epoch nothing is selected.
	h.atFraction(0.4)
	if h.s.nextSelected() {
		t.Fatal("next committee selected before voting end")
	}
	r := h.atFraction(0.5)
	ev := findEvent(r.BlockEvents, EventEpochParametersSelected)
	if ev == nil || ev.Epoch != 2 {
		t.Fatalf("voting end events %+v", r.BlockEvents)
	}
	if got := h.epochState(); got != cpapi.EpochStateNextParamsSelected {
		t.Fatalf("state after voting end %q", got)
	}
	next, ok := h.s.Committee(2)
	if !ok || next.ShardsOf(cpapi.ObjectID(carol)) == nil {
		t.Fatalf("carol not in the selected committee: %+v", next)
	}
	// Stakes 40, 30, 20, 10 and carol's 100 over 10 shards: carol's quota of 5 is over the cap
	// of 5 nodes (4), the others share the 6 left (2, 2, 1, 1).
	if info, _ := h.s.NodeInfo(carol); info.Status != cpapi.NodeStatusJoining || len(info.NextShards) != 4 {
		t.Fatalf("carol after voting end: %+v", info)
	}
	// A stake made after voting end counts from epoch 3, not 2; withdrawing a stake counted in
	// the selected committee waits for epoch 3 too.
	st := h.ok(h.bob, Op{Stake: &StakeOp{NodeID: carol, Amount: 50}})
	if e := st.Events[0].StartEpoch; e != 3 {
		t.Fatalf("stake after voting end starts at epoch %d, want 3", e)
	}
	genesisStake := ObjectID{}
	for id, s := range h.s.d.Stakes {
		if s.Owner == h.owners[3].Address() {
			genesisStake = id
		}
	}
	w := h.ok(h.owners[3], Op{WithdrawStake: &WithdrawStakeOp{StakeID: genesisStake}})
	if e := w.Events[0].EndEpoch; e != 3 {
		t.Fatalf("withdrawal after voting end takes effect at epoch %d, want 3", e)
	}
	if info, _ := h.s.NodeInfo(ObjectID(genesisObjectID("node", 3))); info.Status != cpapi.NodeStatusActive || len(info.NextShards) != 1 {
		t.Fatalf("node 3 (one shard in the selected committee; its withdrawal counts from epoch 3) is %q with %v", info.Status, info.NextShards)
	}

	// The change: carol gained 4 shards and is pending; the other members kept a subset of
	// their shards (2+2+1+1 = 6 shards, short of the quorum of 7) and are done.
	r = h.atFraction(1.0)
	if h.s.Epoch() != 2 || findEvent(r.BlockEvents, EventEpochChangeStart) == nil {
		t.Fatalf("epoch %d, events %+v", h.s.Epoch(), r.BlockEvents)
	}
	if findEvent(r.BlockEvents, EventEpochChangeDone) != nil {
		t.Fatal("EpochChangeDone with the new member still fetching its shards")
	}
	ec := h.s.EpochChange()
	if ec.State != cpapi.EpochStateChangeSync || ec.DoneShards != 6 || len(ec.Pending) != 1 || ec.Pending[0] != cpapi.ObjectID(carol) {
		t.Fatalf("epoch change %+v", ec)
	}
	if info, _ := h.s.NodeInfo(carol); info.Status != cpapi.NodeStatusActive || info.SyncDone || len(info.Shards) != 4 {
		t.Fatalf("carol during the change: %+v", info)
	}

	// Bad reports: wrong epoch, not a member, a signature by another key, over another node.
	bad := []struct {
		name string
		op   EpochSyncDoneOp
		want error
	}{
		{"wrong epoch", EpochSyncDoneOp{NodeID: carol, Epoch: 1, Signature: protocol.SignEpochSyncDone(carolKey, 1, carol)}, ErrWrongEpoch},
		{"not a member", EpochSyncDoneOp{NodeID: ObjectID{1}, Epoch: 2, Signature: protocol.SignEpochSyncDone(carolKey, 2, ObjectID{1})}, ErrEpochSync},
		{"other key", EpochSyncDoneOp{NodeID: carol, Epoch: 2, Signature: protocol.SignEpochSyncDone(h.nodes[0], 2, carol)}, ErrEpochSync},
		{"other node's message", EpochSyncDoneOp{NodeID: carol, Epoch: 2, Signature: protocol.SignEpochSyncDone(carolKey, 2, ObjectID{2})}, ErrEpochSync},
	}
	for _, b := range bad {
		raw := h.sign(accountKey(h.t, 90), Op{EpochSyncDone: &b.op})
		if _, err := h.s.CheckTx(raw); !errors.Is(err, b.want) {
			t.Fatalf("%s: admission %v, want %v", b.name, err, b.want)
		}
		h.nonces[accountKey(h.t, 90).Address()]-- // not applied
		if res := h.do(accountKey(h.t, 90), Op{EpochSyncDone: &b.op}); !errors.Is(res.Err, b.want) {
			t.Fatalf("%s: %v, want %v", b.name, res.Err, b.want)
		}
		h.nonces[accountKey(h.t, 90).Address()]-- // a failing transaction from an unknown sender uses no nonce
	}
	// A member that is already done cannot report again.
	dup := h.sign(accountKey(h.t, 91), Op{EpochSyncDone: &EpochSyncDoneOp{NodeID: ObjectID(genesisObjectID("node", 0)), Epoch: 2,
		Signature: protocol.SignEpochSyncDone(h.nodes[0], 2, ObjectID(genesisObjectID("node", 0)))}})
	if _, err := h.s.CheckTx(dup); !errors.Is(err, ErrEpochSync) {
		t.Fatalf("report of a member done from the start: %v", err)
	}
	h.nonces[accountKey(h.t, 91).Address()]--

	// The good report is admitted from an account that does not exist, and completes it.
	good := h.report(carol, carolKey, 2, 92)
	if _, err := h.s.CheckTx(good); err != nil {
		t.Fatalf("admission of a valid report: %v", err)
	}
	r = h.block(good)
	res := r.Results[0]
	if !res.OK() {
		t.Fatalf("report: %v", res.Err)
	}
	if findEvent(res.Events, EventEpochSyncDone) == nil {
		t.Fatalf("report events %+v", res.Events)
	}
	done := findEvent(res.Events, EventEpochChangeDone)
	if done == nil || done.Forced || done.Epoch != 2 {
		t.Fatalf("EpochChangeDone missing or forced: %+v", res.Events)
	}
	if h.s.Account(accountKey(t, 92).Address()).Nonce != 1 {
		t.Fatal("the reporting account was not created")
	}
	if ec := h.s.EpochChange(); ec.State != cpapi.EpochStateChangeDone || ec.DoneShards != 10 || len(ec.Pending) != 0 {
		t.Fatalf("after the report: %+v", ec)
	}
	if again := h.report(carol, carolKey, 2, 93); func() error { _, err := h.s.CheckTx(again); return err }() == nil {
		t.Fatal("second report admitted")
	}
	if got := h.s.NodeStake(ObjectID(genesisObjectID("node", 3)), 2); got != 10 {
		t.Fatalf("node 3's withdrawn stake counts %d in epoch 2, want 10 (it was counted at voting end)", got)
	}
}

// TestVotingEndWaitsForEpochChangeDone: when the middle of the epoch passes with the change
// still in progress, the next committee is selected only once the change is done.
func TestVotingEndWaitsForEpochChangeDone(t *testing.T) {
	h := newHarness(t)
	carol, carolKey := h.addNode(h.alice, 61, 100)
	h.nextEpoch()
	if h.epochState() != cpapi.EpochStateChangeSync {
		t.Fatalf("state %q", h.epochState())
	}
	h.atFraction(0.6)
	if h.s.nextSelected() {
		t.Fatal("voting end before the change was done")
	}
	r := h.block(h.report(carol, carolKey, h.s.Epoch(), 94))
	if findEvent(r.Results[0].Events, EventEpochChangeDone) == nil {
		t.Fatalf("events %+v", r.Results[0].Events)
	}
	if h.s.nextSelected() {
		t.Fatal("voting end in the middle of a block")
	}
	r = h.block()
	if findEvent(r.BlockEvents, EventEpochParametersSelected) == nil {
		t.Fatalf("no voting end in the block after EpochChangeDone: %+v", r.BlockEvents)
	}
}

// TestEpochChangeEscape: with nobody reporting, the change is declared done (forced) when the
// next epoch is due, and voting end and the next change follow in the same block; the shards
// never reported stay unsynced in the next epoch until their owner reports there.
func TestEpochChangeEscape(t *testing.T) {
	h := newHarness(t)
	carol, carolKey := h.addNode(h.alice, 62, 100)
	h.nextEpoch()
	e := h.s.Epoch()
	h.atFraction(0.99)
	if h.s.Epoch() != e || h.epochState() != cpapi.EpochStateChangeSync {
		t.Fatalf("epoch %d state %q before the deadline", h.s.Epoch(), h.epochState())
	}
	r := h.atFraction(1.0)
	done := findEvent(r.BlockEvents, EventEpochChangeDone)
	if done == nil || !done.Forced || done.Epoch != e {
		t.Fatalf("no forced EpochChangeDone at the deadline: %+v", r.BlockEvents)
	}
	if findEvent(r.BlockEvents, EventEpochParametersSelected) == nil || h.s.Epoch() != e+1 {
		t.Fatalf("voting end and change did not follow: epoch %d, events %+v", h.s.Epoch(), r.BlockEvents)
	}
	// The same committee again: nobody gains a shard, but the new node never reported the 4
	// it gained in epoch e, so they stay unsynced (their previous owners keep them) and it
	// still owes its report: the others' 6 shards are short of the quorum of 7.
	if findEvent(r.BlockEvents, EventEpochChangeStart) == nil || h.epochState() != cpapi.EpochStateChangeSync {
		t.Fatalf("a change with shards carried over unsynced is done at once: %q", h.epochState())
	}
	ec := h.s.EpochChange()
	prev, _ := h.s.Committee(e - 1)
	if len(ec.Pending) != 1 || ec.Pending[0] != cpapi.ObjectID(carol) || len(ec.Unsynced) != 4 {
		t.Fatalf("epoch %d's change: %+v", e+1, ec)
	}
	owners := prev.ShardOwner()
	for _, u := range ec.Unsynced {
		if u.Owner != cpapi.ObjectID(carol) || u.From != prev.Members[owners[u.Shard]].NodeID {
			t.Fatalf("shard %d handed over to %s from %s, want to carol from its owner in epoch %d", u.Shard, u.Owner, u.From, e-1)
		}
	}
	// Its report in epoch e+1 completes the change and ends the handovers.
	r = h.block(h.report(carol, carolKey, e+1, 96))
	if !r.Results[0].OK() || findEvent(r.Results[0].Events, EventEpochChangeDone) == nil {
		t.Fatalf("the late report: %v %+v", r.Results[0].Err, r.Results[0].Events)
	}
	if ec := h.s.EpochChange(); ec.State != cpapi.EpochStateChangeDone || len(ec.Unsynced) != 0 || len(ec.Pending) != 0 {
		t.Fatalf("after the late report: %+v", ec)
	}
}

// TestNodeStatuses: a registered node without stake is inactive; leaving after its stake is
// withdrawn; back to inactive once the committee no longer has it.
func TestNodeStatuses(t *testing.T) {
	h := newHarness(t)
	dave, daveKey := h.addNode(h.bob, 63, 0)
	if info, _ := h.s.NodeInfo(dave); info.Status != cpapi.NodeStatusInactive {
		t.Fatalf("unstaked node %q", info.Status)
	}
	st := ObjectID(h.ok(h.bob, Op{Stake: &StakeOp{NodeID: dave, Amount: 100}}).Created[0])
	h.nextEpoch()
	h.block(h.report(dave, daveKey, h.s.Epoch(), 95))
	if info, _ := h.s.NodeInfo(dave); info.Status != cpapi.NodeStatusActive || !info.SyncDone {
		t.Fatalf("member %+v", info)
	}
	h.ok(h.bob, Op{WithdrawStake: &WithdrawStakeOp{StakeID: st}})
	if info, _ := h.s.NodeInfo(dave); info.Status != cpapi.NodeStatusLeaving {
		t.Fatalf("withdrawn member %q", info.Status)
	}
	h.nextEpoch()
	if info, _ := h.s.NodeInfo(dave); info.Status != cpapi.NodeStatusInactive || len(info.Shards) != 0 {
		t.Fatalf("departed %+v", info)
	}
	// The members that took dave's shards are pending; dave is not a member.
	if ec := h.s.EpochChange(); ec.State != cpapi.EpochStateChangeSync {
		t.Fatalf("after dave left: %+v", ec)
	}
}

func validatorKey(t *testing.T, b byte) ed25519.PrivateKey {
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = b
	}
	return ed25519.NewKeyFromSeed(seed)
}

func (h *harness) setValidator(owner *crypto.AccountKey, node ObjectID, k ed25519.PrivateKey) TxResult {
	h.t.Helper()
	msg := cpapi.ValidatorKeyMessage(h.s.Params().ChainID, cpapi.ObjectID(node))
	return h.do(owner, Op{SetValidator: &SetValidatorOp{NodeID: node, PublicKey: k.Public().(ed25519.PublicKey), Signature: ed25519.Sign(k, msg)}})
}

// TestValidatorsFollowStake: genesis validators stay until members with validator keys hold a
// quorum of the shards; then the set is exactly those members, by shards, and a member that
// leaves the committee leaves the set.
func TestValidatorsFollowStake(t *testing.T) {
	g, keys, owners := testGenesis(t)
	boot := []ed25519.PrivateKey{validatorKey(t, 1), validatorKey(t, 2)}
	for _, k := range boot {
		g.Validators = append(g.Validators, GenesisValidator{PublicKey: ValidatorKey(k.Public().(ed25519.PublicKey)), Power: 10})
	}
	s, _, err := NewState(g)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, s: s, now: t0, nodes: keys, owners: owners, alice: accountKey(t, 'a'), bob: accountKey(t, 'b'), nonces: map[Address]uint64{}}
	if v := h.s.Validators(); len(v) != 2 || v[0].Power != 10 {
		t.Fatalf("genesis validators %+v", v)
	}
	for _, o := range owners {
		h.ok(h.alice, Op{Transfer: &TransferOp{To: o.Address(), Amount: 1000}})
	}
	node := func(i int) ObjectID { return ObjectID(genesisObjectID("node", i)) }
	vk := []ed25519.PrivateKey{validatorKey(t, 11), validatorKey(t, 12), validatorKey(t, 13), validatorKey(t, 14)}

	// Bad keys: signature by another key, over another node, not the owner, a key taken.
	msg := cpapi.ValidatorKeyMessage(h.s.Params().ChainID, cpapi.ObjectID(node(0)))
	if r := h.do(owners[0], Op{SetValidator: &SetValidatorOp{NodeID: node(0), PublicKey: vk[0].Public().(ed25519.PublicKey), Signature: ed25519.Sign(vk[1], msg)}}); !errors.Is(r.Err, ErrBadPoP) {
		t.Fatalf("signature by another key: %v", r.Err)
	}
	if r := h.setValidator(owners[1], node(0), vk[0]); !errors.Is(r.Err, ErrNotOwner) {
		t.Fatalf("not the owner: %v", r.Err)
	}
	h.ok(owners[0], Op{SetValidator: &SetValidatorOp{NodeID: node(0), PublicKey: vk[0].Public().(ed25519.PublicKey), Signature: ed25519.Sign(vk[0], msg)}})
	if r := h.setValidator(owners[1], node(1), vk[0]); !errors.Is(r.Err, ErrBadPoP) {
		t.Fatalf("a key set on another node: %v", r.Err)
	}
	// Node 0 alone holds 4 of 10 shards: below a quorum, the genesis validators stay.
	h.nextEpoch()
	if v := h.s.Validators(); len(v) != 2 || v[0].NodeID != (cpapi.ObjectID{}) {
		t.Fatalf("validators switched below a quorum: %+v", h.s.Validators())
	}
	// Nodes 0, 1 hold 7 of 10: a quorum. The set becomes exactly them, by shards.
	h.ok(owners[1], Op{SetValidator: &SetValidatorOp{NodeID: node(1), PublicKey: vk[1].Public().(ed25519.PublicKey),
		Signature: ed25519.Sign(vk[1], cpapi.ValidatorKeyMessage(h.s.Params().ChainID, cpapi.ObjectID(node(1))))}})
	e := h.s.Epoch()
	sw, err := h.s.ApplyBlock(h.s.Height()+1, time.UnixMilli(h.s.d.EpochStart+h.s.Params().EpochDurationMs), nil)
	if err != nil || h.s.Epoch() != e+1 {
		t.Fatalf("no epoch change: %v", err)
	}
	h.now = time.UnixMilli(h.s.TimeMs())
	removed := 0
	for _, u := range sw.ValidatorUpdates {
		for _, b := range boot {
			if u.PublicKey == ValidatorKey(b.Public().(ed25519.PublicKey)) && u.Power == 0 {
				removed++
			}
		}
	}
	if removed != 2 || len(sw.ValidatorUpdates) != 4 {
		t.Fatalf("switch updates %+v", sw.ValidatorUpdates)
	}
	vals := h.s.Validators()
	if len(vals) != 2 {
		t.Fatalf("validators %+v", vals)
	}
	powers := map[ObjectID]int64{}
	for _, v := range vals {
		powers[ObjectID(v.NodeID)] = v.Power
	}
	if powers[node(0)] != 4 || powers[node(1)] != 3 {
		t.Fatalf("powers %+v", powers)
	}
	// Node 2 joins with a key; node 1 withdraws its stake and leaves the committee and the set.
	h.setValidator(owners[2], node(2), vk[2])
	var st1 ObjectID
	for id, st := range h.s.d.Stakes {
		if st.NodeID == node(1) {
			st1 = id
		}
	}
	h.ok(owners[1], Op{WithdrawStake: &WithdrawStakeOp{StakeID: st1}})
	res, err := h.s.ApplyBlock(h.s.Height()+1, time.UnixMilli(h.s.d.EpochStart+h.s.Params().EpochDurationMs), nil)
	if err != nil {
		t.Fatal(err)
	}
	ups := map[ValidatorKey]int64{}
	for _, u := range res.ValidatorUpdates {
		ups[u.PublicKey] = u.Power
	}
	k1 := ValidatorKey(vk[1].Public().(ed25519.PublicKey))
	k2 := ValidatorKey(vk[2].Public().(ed25519.PublicKey))
	if p, ok := ups[k1]; !ok || p != 0 {
		t.Fatalf("the departed member is not removed: %+v", res.ValidatorUpdates)
	}
	if ups[k2] == 0 {
		t.Fatalf("the new key is not added: %+v", res.ValidatorUpdates)
	}
	if got, want := h.s.Hash(), fullHash(t, h.s); got != want {
		t.Fatal("validator changes missed the commitment")
	}
}

// TestHandovers: which shards a change hands over, and from where: a gained shard from its
// previous owner; a shard its owner never reported stays unsynced while it keeps it, and
// when it moves on its new owner takes it from the last owner that held it.
func TestHandovers(t *testing.T) {
	a, b, c := ObjectID{1}, ObjectID{2}, ObjectID{3}
	committee := func(shards map[ObjectID][]uint16) *Committee {
		cm := &Committee{NShards: 4}
		for _, id := range []ObjectID{a, b, c} {
			if sh, ok := shards[id]; ok {
				cm.Members = append(cm.Members, Member{NodeID: id, Shards: sh})
			}
		}
		return cm
	}
	e1 := committee(map[ObjectID][]uint16{a: {0, 1}, b: {2, 3}})
	if got := handovers(e1, nil, nil); got != nil {
		t.Fatalf("the first committee: %v", got)
	}
	// Epoch 2: c gains shard 1 from a.
	e2 := committee(map[ObjectID][]uint16{a: {0}, b: {2, 3}, c: {1}})
	h2 := handovers(e2, e1, nil)
	if want := []ShardHandover{{1, c, a}}; !slices.Equal(h2, want) {
		t.Fatalf("epoch 2: %v, want %v", h2, want)
	}
	// Epoch 3: c never reported; it keeps shard 1 (still from a) and gains 3 from b.
	e3 := committee(map[ObjectID][]uint16{a: {0}, b: {2}, c: {1, 3}})
	h3 := handovers(e3, e2, &EpochSync{Unsynced: h2})
	if want := []ShardHandover{{1, c, a}, {3, c, b}}; !slices.Equal(h3, want) {
		t.Fatalf("epoch 3: %v, want %v", h3, want)
	}
	// Epoch 4: shard 1 moves on to b (from a, which still holds it: c never did), shard 3
	// goes back to b (from b, which held it before c), and b's shard 2 goes to a.
	e4 := committee(map[ObjectID][]uint16{a: {0, 2}, b: {1, 3}})
	h4 := handovers(e4, e3, &EpochSync{Unsynced: h3})
	if want := []ShardHandover{{1, b, a}, {2, a, b}, {3, b, b}}; !slices.Equal(h4, want) {
		t.Fatalf("epoch 4: %v, want %v", h4, want)
	}
	// Epoch 5: the same committee; only the unreported shards carry over.
	if h5 := handovers(e4, e4, &EpochSync{Unsynced: h4[1:2]}); !slices.Equal(h5, h4[1:2]) {
		t.Fatalf("epoch 5: %v, want %v", h5, h4[1:2])
	}
}
