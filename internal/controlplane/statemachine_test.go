package controlplane

import (
	"errors"
	"testing"
	"time"

	cpapi "github.com/floelabs/floe/api/controlplane"
	"github.com/floelabs/floe/internal/crypto"
	"github.com/floelabs/floe/internal/protocol"
)

func TestGenesisCommittee(t *testing.T) {
	h := newHarness(t)
	if h.s.Epoch() != 1 {
		t.Fatalf("epoch %d, want 1", h.s.Epoch())
	}
	c, _ := h.s.Committee(1)
	if len(c.Members) != 4 {
		t.Fatalf("%d members", len(c.Members))
	}
	total := 0
	for i, m := range c.Members {
		if i > 0 && !lessID(ObjectID(c.Members[i-1].NodeID), ObjectID(m.NodeID)) {
			t.Fatal("members not sorted by node ID")
		}
		if want := int(m.Stake / 10); len(m.Shards) != want {
			t.Fatalf("member with stake %d has %d shards, want %d", m.Stake, len(m.Shards), want)
		}
		for k, sh := range m.Shards {
			if int(sh) != total+k {
				t.Fatalf("first committee shards not consecutive: %v", m.Shards)
			}
		}
		total += len(m.Shards)
	}
	p := h.s.Prices()
	// Capacity: 1 GiB votes normalised by 10/shards; the quorum-above value is the 4-shard node's.
	if p.StoragePrice != 10 || p.WritePrice != 5 || p.Capacity != (1<<30)*10/4 {
		t.Fatalf("prices %+v", p)
	}
}

func TestQuorumPrices(t *testing.T) {
	h := newHarness(t)
	// Votes (weight): storage 40(4) 30(3) 20(2) 10(1) -> drop 40: 6 left, not a quorum -> 40?
	// No: remaining after dropping the highest must stay a quorum (3w >= 21, w >= 7) to keep
	// dropping. 10-4 = 6 < 7, so the price is 40: the lowest price that a quorum accepts.
	c := h.s.d.Committees[1]
	for i, m := range c.Members {
		n := h.s.d.Nodes[ObjectID(m.NodeID)]
		n.StoragePrice = uint64(10 * len(m.Shards))
		n.WritePrice = uint64(100 - i)
	}
	h.s.setPrices(c)
	if c.StoragePrice != 40 {
		t.Fatalf("storage price %d, want 40", c.StoragePrice)
	}
	// All equal but one low vote of weight 1: dropping the three heavy ones leaves 1 -> price is
	// the vote at which the remaining weight falls below a quorum.
	for _, m := range c.Members {
		h.s.d.Nodes[ObjectID(m.NodeID)].StoragePrice = 100
		if len(m.Shards) == 4 {
			h.s.d.Nodes[ObjectID(m.NodeID)].StoragePrice = 1
		}
	}
	h.s.setPrices(c)
	// Descending: 100(3),100(2),100(1),1(4): drop 3 -> 7 left (quorum), drop 2 -> 5 (not) -> 100.
	if c.StoragePrice != 100 {
		t.Fatalf("storage price %d, want 100", c.StoragePrice)
	}
}

func TestTransfersAndNonces(t *testing.T) {
	h := newHarness(t)
	r := h.ok(h.alice, Op{Transfer: &TransferOp{To: h.bob.Address(), Amount: 100}})
	if len(r.Events) != 1 || r.Events[0].Type != EventTransfer {
		t.Fatalf("events %+v", r.Events)
	}
	if got := h.s.Account(h.bob.Address()).Balance; got != 1e9+100 {
		t.Fatalf("bob balance %d", got)
	}
	// Replay the same bytes: rejected, nothing changes.
	raw := h.sign(h.alice, Op{Transfer: &TransferOp{To: h.bob.Address(), Amount: 1}})
	h.block(raw)
	before := h.s.Hash()
	rr := h.block(raw).Results[0]
	if !errors.Is(rr.Err, ErrBadNonce) || rr.Code != "bad_nonce" {
		t.Fatalf("replay: %v", rr.Err)
	}
	if h.s.Hash() == before {
		t.Fatal("state hash did not move with the block height")
	}
	if got := h.s.Account(h.bob.Address()).Balance; got != 1e9+101 {
		t.Fatalf("replay changed balance: %d", got)
	}
	// Bad signature: flip a signature byte.
	raw = h.sign(h.alice, Op{Transfer: &TransferOp{To: h.bob.Address(), Amount: 1}})
	raw[len(raw)-1] ^= 1
	if r := h.block(raw).Results[0]; !errors.Is(r.Err, ErrBadSignature) {
		t.Fatalf("bad signature: %v", r.Err)
	}
	h.nonces[h.alice.Address()]-- // the rejected tx did not use the nonce
	if got := h.s.Account(h.alice.Address()).Nonce; got != 2 {
		t.Fatalf("nonce after bad signature %d, want 2", got)
	}
	// Insufficient balance: the nonce is consumed, the balance is not touched.
	r = h.do(h.alice, Op{Transfer: &TransferOp{To: h.bob.Address(), Amount: 2e9}})
	if !errors.Is(r.Err, ErrInsufficientBalance) || len(r.Events) != 0 {
		t.Fatalf("insufficient: %v", r.Err)
	}
	if acc := h.s.Account(h.alice.Address()); acc.Nonce != 3 || acc.Balance != 1e9-101 {
		t.Fatalf("alice after failure %+v", acc)
	}
	// Nonce from the future.
	h.nonces[h.alice.Address()] += 5
	if r := h.do(h.alice, Op{Transfer: &TransferOp{To: h.bob.Address(), Amount: 1}}); !errors.Is(r.Err, ErrBadNonce) {
		t.Fatalf("future nonce: %v", r.Err)
	}
	h.nonces[h.alice.Address()] = 3
	// Wrong chain.
	tx := &Tx{ChainID: "other", Sender: h.alice.PublicKey(), Nonce: 3, Op: Op{Transfer: &TransferOp{To: h.bob.Address(), Amount: 1}}}
	raw, _ = Sign(tx, h.alice)
	if r := h.block(raw).Results[0]; !errors.Is(r.Err, ErrWrongChain) {
		t.Fatalf("wrong chain: %v", r.Err)
	}
	// Garbage and two operations.
	if r := h.block([]byte{1, 2, 3}).Results[0]; !errors.Is(r.Err, ErrInvalidTx) {
		t.Fatalf("garbage: %v", r.Err)
	}
	two := &Tx{ChainID: "floe-test", Sender: h.alice.PublicKey(), Nonce: 3, Op: Op{
		Transfer: &TransferOp{To: h.bob.Address(), Amount: 1}, DeleteBlob: &DeleteBlobOp{}}}
	if _, err := Sign(two, h.alice); !errors.Is(err, ErrInvalidTx) {
		t.Fatalf("two ops: %v", err)
	}
}

func TestNodeLifecycleAndStaking(t *testing.T) {
	h := newHarness(t)
	carol := accountKey(t, 'c')
	h.ok(h.alice, Op{Transfer: &TransferOp{To: carol.Address(), Amount: 1000}})
	k := blsKey(t, 50)
	reg := RegisterNodeOp{Name: "carol", NetworkAddress: "127.0.0.1:7000", NetworkPublicKey: []byte{9},
		BLSPublicKey: k.PublicKey(), Commission: 500, StoragePrice: 10, WritePrice: 5, Capacity: 1 << 30}

	// PoP for another address, another epoch, another key: rejected.
	bad := reg
	bad.ProofOfPossession = protocol.SignProofOfPossession(k, h.alice.Address(), h.s.Epoch())
	if r := h.do(carol, Op{RegisterNode: &bad}); !errors.Is(r.Err, ErrBadPoP) {
		t.Fatalf("PoP for another address: %v", r.Err)
	}
	bad.ProofOfPossession = protocol.SignProofOfPossession(k, carol.Address(), h.s.Epoch()+1)
	if r := h.do(carol, Op{RegisterNode: &bad}); !errors.Is(r.Err, ErrBadPoP) {
		t.Fatalf("PoP for another epoch: %v", r.Err)
	}
	bad.ProofOfPossession = protocol.SignProofOfPossession(blsKey(t, 51), carol.Address(), h.s.Epoch())
	if r := h.do(carol, Op{RegisterNode: &bad}); !errors.Is(r.Err, ErrBadPoP) {
		t.Fatalf("PoP by another key: %v", r.Err)
	}
	bad = reg
	bad.Name = ""
	if r := h.do(carol, Op{RegisterNode: &bad}); !errors.Is(r.Err, ErrInvalidTx) {
		t.Fatalf("empty name: %v", r.Err)
	}
	// A genesis node's key, even with a valid PoP for carol, is taken.
	bad = reg
	bad.BLSPublicKey = h.nodes[0].PublicKey()
	bad.ProofOfPossession = protocol.SignProofOfPossession(h.nodes[0], carol.Address(), h.s.Epoch())
	if r := h.do(carol, Op{RegisterNode: &bad}); !errors.Is(r.Err, ErrBadPoP) {
		t.Fatalf("duplicate BLS key: %v", r.Err)
	}
	reg.ProofOfPossession = protocol.SignProofOfPossession(k, carol.Address(), h.s.Epoch())
	r := h.ok(carol, Op{RegisterNode: &reg})
	node := r.Created[0]
	if r.Events[0].Type != EventNodeRegistered || r.Events[0].NodeID != node {
		t.Fatalf("events %+v", r.Events)
	}
	name := "carol2"
	h.ok(carol, Op{UpdateNode: &UpdateNodeOp{NodeID: ObjectID(node), Name: &name}})
	if n, _ := h.s.Node(ObjectID(node)); n.Name != "carol2" {
		t.Fatalf("name %q", n.Name)
	}
	if r := h.do(h.alice, Op{UpdateNode: &UpdateNodeOp{NodeID: ObjectID(node), Name: &name}}); !errors.Is(r.Err, ErrNotOwner) {
		t.Fatalf("update by non-owner: %v", r.Err)
	}
	k2 := blsKey(t, 52)
	pk2 := k2.PublicKey()
	if r := h.do(carol, Op{UpdateNode: &UpdateNodeOp{NodeID: ObjectID(node), BLSPublicKey: &pk2}}); !errors.Is(r.Err, ErrBadPoP) {
		t.Fatalf("key change without PoP: %v", r.Err)
	}
	pop2 := protocol.SignProofOfPossession(k2, carol.Address(), h.s.Epoch())
	h.ok(carol, Op{UpdateNode: &UpdateNodeOp{NodeID: ObjectID(node), BLSPublicKey: &pk2, ProofOfPossession: &pop2}})
	h.ok(carol, Op{SetVotes: &SetVotesOp{NodeID: ObjectID(node), StoragePrice: 10, WritePrice: 5, Capacity: 1 << 30}})

	// Stake 100 from alice: not active until the next epoch.
	r = h.ok(h.alice, Op{Stake: &StakeOp{NodeID: ObjectID(node), Amount: 100}})
	stake := r.Created[0]
	if got := h.s.NodeStake(ObjectID(node), h.s.Epoch()); got != 0 {
		t.Fatalf("stake active at once: %d", got)
	}
	if r := h.do(h.alice, Op{Stake: &StakeOp{NodeID: ObjectID(node), Amount: 2e9}}); !errors.Is(r.Err, ErrInsufficientBalance) {
		t.Fatalf("stake too much: %v", r.Err)
	}
	h.nextEpoch()
	c, _ := h.s.Committee(h.s.Epoch())
	// Stakes 40,30,20,10,100 of 200 over 10 shards: quotas 2,1.5,1,0.5,5; the new node's 5 is
	// over the cap of 5 nodes (4), and the others share the 6 shards left (quotas 2.4, 1.8,
	// 1.2, 0.6: 2, 2, 1, 1), so every node keeps a shard.
	if len(c.Members) != 5 {
		t.Fatalf("committee of %d after staking", len(c.Members))
	}
	var carolShards int
	for _, m := range c.Members {
		if m.NodeID == node {
			carolShards = len(m.Shards)
			if crypto.BLSPublicKey(m.BLSPublicKey) != pk2 {
				t.Fatal("committee does not carry the new key")
			}
		}
	}
	if carolShards != 4 {
		t.Fatalf("carol has %d shards, want 4", carolShards)
	}
	// Withdraw: returns at the next epoch change.
	if r := h.do(h.bob, Op{WithdrawStake: &WithdrawStakeOp{StakeID: ObjectID(stake)}}); !errors.Is(r.Err, ErrNotOwner) {
		t.Fatalf("withdraw by non-owner: %v", r.Err)
	}
	before := h.s.Account(h.alice.Address()).Balance
	h.ok(h.alice, Op{WithdrawStake: &WithdrawStakeOp{StakeID: ObjectID(stake)}})
	if r := h.do(h.alice, Op{WithdrawStake: &WithdrawStakeOp{StakeID: ObjectID(stake)}}); !errors.Is(r.Err, ErrStake) {
		t.Fatalf("double withdraw: %v", r.Err)
	}
	if h.s.Account(h.alice.Address()).Balance != before {
		t.Fatal("withdrawal paid before the epoch change")
	}
	h.nextEpoch()
	if got := h.s.Account(h.alice.Address()).Balance; got != before+100 {
		t.Fatalf("balance after withdrawal %d, want %d", got, before+100)
	}
	c, _ = h.s.Committee(h.s.Epoch())
	if len(c.Members) != 4 || c.Members[0].NodeID == node || c.Members[1].NodeID == node || c.Members[2].NodeID == node || c.Members[3].NodeID == node {
		t.Fatalf("committee of %d after withdrawal", len(c.Members))
	}
	// A stake withdrawn before it is active returns at once.
	r = h.ok(h.alice, Op{Stake: &StakeOp{NodeID: ObjectID(node), Amount: 7}})
	h.ok(h.alice, Op{WithdrawStake: &WithdrawStakeOp{StakeID: ObjectID(r.Created[0])}})
	if got := h.s.Account(h.alice.Address()).Balance; got != before+100 {
		t.Fatalf("pending stake not returned: %d", got)
	}
}

func TestStorageResources(t *testing.T) {
	h := newHarness(t)
	r := h.ok(h.alice, Op{ReserveStorage: &ReserveStorageOp{Size: 3 * MiB, EpochsAhead: 2}})
	st, _ := h.s.Storage(ObjectID(r.Created[0]))
	if st.Start != 1 || st.End != 3 || st.Size != 3*MiB {
		t.Fatalf("storage %+v", st)
	}
	// Paid upfront: 10 per MiB-epoch x 3 MiB x 2 epochs.
	if got := h.s.Account(h.alice.Address()).Balance; got != 1e9-60 {
		t.Fatalf("balance %d, want %d", got, uint64(1e9-60))
	}
	if r := h.do(h.alice, Op{ReserveStorage: &ReserveStorageOp{Size: MiB, EpochsAhead: 6}}); !errors.Is(r.Err, ErrEpochsAhead) {
		t.Fatalf("past max epochs ahead: %v", r.Err)
	}
	capacity := h.s.Prices().Capacity
	if r := h.do(h.alice, Op{ReserveStorage: &ReserveStorageOp{Size: capacity - 3*MiB + 1, EpochsAhead: 1}}); !errors.Is(r.Err, ErrCapacity) {
		t.Fatalf("past capacity: %v", r.Err)
	}
	// Exactly up to capacity in epoch 3 (nothing reserved there yet) would succeed, but not in 1..2.
	poor := accountKey(t, 'p')
	h.ok(h.alice, Op{Transfer: &TransferOp{To: poor.Address(), Amount: 5}})
	if r := h.do(poor, Op{ReserveStorage: &ReserveStorageOp{Size: MiB, EpochsAhead: 1}}); !errors.Is(r.Err, ErrInsufficientBalance) {
		t.Fatalf("poor reserve: %v", r.Err)
	}
	// Split by epoch and by size, then fuse back.
	r = h.ok(h.alice, Op{SplitStorage: &SplitStorageOp{StorageID: ObjectID(st.ID), AtEpoch: 2}})
	a, _ := h.s.Storage(ObjectID(st.ID))
	b, _ := h.s.Storage(ObjectID(r.Created[0]))
	if a.End != 2 || b.Start != 2 || b.End != 3 || b.Size != 3*MiB {
		t.Fatalf("split by epoch: %+v %+v", a, b)
	}
	h.ok(h.alice, Op{FuseStorage: &FuseStorageOp{First: ObjectID(st.ID), Second: ObjectID(b.ID)}})
	if a, _ = h.s.Storage(ObjectID(st.ID)); a.Start != 1 || a.End != 3 {
		t.Fatalf("fuse periods: %+v", a)
	}
	r = h.ok(h.alice, Op{SplitStorage: &SplitStorageOp{StorageID: ObjectID(st.ID), Size: MiB}})
	if a, _ = h.s.Storage(ObjectID(st.ID)); a.Size != 2*MiB {
		t.Fatalf("split by size: %+v", a)
	}
	h.ok(h.alice, Op{FuseStorage: &FuseStorageOp{First: ObjectID(st.ID), Second: ObjectID(r.Created[0])}})
	if a, _ = h.s.Storage(ObjectID(st.ID)); a.Size != 3*MiB {
		t.Fatalf("fuse amounts: %+v", a)
	}
	if r := h.do(h.alice, Op{SplitStorage: &SplitStorageOp{StorageID: ObjectID(st.ID), AtEpoch: 3}}); !errors.Is(r.Err, ErrInvalidTx) {
		t.Fatalf("split at the end: %v", r.Err)
	}
	if r := h.do(h.bob, Op{SplitStorage: &SplitStorageOp{StorageID: ObjectID(st.ID), Size: 1}}); !errors.Is(r.Err, ErrNotOwner) {
		t.Fatalf("split by non-owner: %v", r.Err)
	}
	r2 := h.ok(h.alice, Op{ReserveStorage: &ReserveStorageOp{Size: MiB, EpochsAhead: 1}})
	if r := h.do(h.alice, Op{FuseStorage: &FuseStorageOp{First: ObjectID(st.ID), Second: ObjectID(r2.Created[0])}}); !errors.Is(r.Err, ErrInvalidTx) {
		t.Fatalf("fuse mismatched: %v", r.Err)
	}
	h.ok(h.alice, Op{TransferObject: &TransferObjectOp{ObjectID: ObjectID(st.ID), To: h.bob.Address()}})
	if owned := h.s.OwnedBy(h.bob.Address()); len(owned.Storage) != 1 || owned.Storage[0].ID != st.ID {
		t.Fatalf("bob owns %+v", owned)
	}
	// Used capacity: 3 MiB in epochs 1 and 2 plus 1 MiB in epoch 1.
	if h.s.d.Used[1] != 4*MiB || h.s.d.Used[2] != 3*MiB {
		t.Fatalf("used %v", h.s.d.Used)
	}
}

func TestBlobRegistration(t *testing.T) {
	h := newHarness(t)
	const size = 1000
	enc, _ := h.s.EncodedLength(size)
	if enc != 10680 { // 10 * ((4+7)*36 + 10*64 + 32)
		t.Fatalf("encoded length %d", enc)
	}
	bid, root := testBlob(size, 1)
	reg := func(storage ObjectID, mod func(*RegisterBlobOp)) TxResult {
		op := &RegisterBlobOp{StorageID: storage, BlobID: bid, RootHash: root, Size: size, EncodingType: 1}
		if storage == (ObjectID{}) {
			op.EpochsAhead = 2
		}
		if mod != nil {
			mod(op)
		}
		return h.do(h.alice, Op{RegisterBlob: op})
	}
	small := h.ok(h.alice, Op{ReserveStorage: &ReserveStorageOp{Size: enc - 1, EpochsAhead: 2}}).Created[0]
	if r := reg(ObjectID(small), nil); !errors.Is(r.Err, ErrStorageTooSmall) {
		t.Fatalf("storage too small: %v", r.Err)
	}
	if r := reg(ObjectID{}, func(o *RegisterBlobOp) { o.Size++ }); !errors.Is(r.Err, ErrBlobIDMismatch) {
		t.Fatalf("blob ID that does not derive: %v", r.Err)
	}
	if r := reg(ObjectID{}, func(o *RegisterBlobOp) { o.RootHash[0] ^= 1 }); !errors.Is(r.Err, ErrBlobIDMismatch) {
		t.Fatalf("wrong root: %v", r.Err)
	}
	if r := reg(ObjectID{}, func(o *RegisterBlobOp) { o.EncodingType = 0 }); !errors.Is(r.Err, ErrInvalidTx) {
		t.Fatalf("encoding type 0: %v", r.Err)
	}
	if r := reg(ObjectID{}, func(o *RegisterBlobOp) { o.EpochsAhead = 6 }); !errors.Is(r.Err, ErrEpochsAhead) {
		t.Fatalf("inline storage too far: %v", r.Err)
	}
	good := h.ok(h.alice, Op{ReserveStorage: &ReserveStorageOp{Size: enc, EpochsAhead: 2}}).Created[0]
	if r := h.do(h.bob, Op{RegisterBlob: &RegisterBlobOp{StorageID: ObjectID(good), BlobID: bid, RootHash: root, Size: size, EncodingType: 1}}); !errors.Is(r.Err, ErrNotOwner) {
		t.Fatalf("someone else's storage: %v", r.Err)
	}
	// Storage that starts in the future does not cover the current epoch.
	future := h.ok(h.alice, Op{ReserveStorage: &ReserveStorageOp{Size: enc, EpochsAhead: 3}}).Created[0]
	second := h.ok(h.alice, Op{SplitStorage: &SplitStorageOp{StorageID: ObjectID(future), AtEpoch: 2}}).Created[0]
	if r := reg(ObjectID(second), nil); !errors.Is(r.Err, ErrStorageEpochs) {
		t.Fatalf("future storage: %v", r.Err)
	}
	before := h.s.Account(h.alice.Address()).Balance
	r := reg(ObjectID(good), nil)
	if !r.OK() {
		t.Fatal(r.Err)
	}
	if got := before - h.s.Account(h.alice.Address()).Balance; got != 5 { // write fee: 5 x 1 MiB
		t.Fatalf("write fee %d", got)
	}
	e := r.Events[0]
	if e.Type != EventBlobRegistered || e.BlobID != bid || e.Size != size || e.EndEpoch != 3 || e.ObjectID != r.Created[0] || e.EncodingType != 1 {
		t.Fatalf("event %+v", e)
	}
	if _, ok := h.s.Storage(ObjectID(good)); ok {
		t.Fatal("storage still free after registration")
	}
	// Inline reservation pays storage and write fee in one transaction.
	before = h.s.Account(h.alice.Address()).Balance
	r = reg(ObjectID{}, func(o *RegisterBlobOp) { o.Deletable = true })
	if !r.OK() || len(r.Created) != 2 {
		t.Fatalf("inline: %v %v", r.Err, r.Created)
	}
	if got := before - h.s.Account(h.alice.Address()).Balance; got != 2*10+5 {
		t.Fatalf("inline cost %d", got)
	}
	if st := h.s.BlobStatus(bid); st.Status != StatusPermanent || st.IsCertified || st.DeletableCounts.Total != 1 {
		t.Fatalf("status %+v", st)
	}
}

func TestCertification(t *testing.T) {
	h := newHarness(t)
	obj, bid := h.register(h.alice, 1000, 1, 2, false)
	w := h.memberIndexByWeight() // weights 4,3,2,1 of 10: quorum is 7
	epoch := h.s.Epoch()
	msg := protocol.StorageConfirmation{Epoch: epoch, BlobID: bid, Persistence: protocol.Permanent}.Encode()
	certify := func(c protocol.Certificate) error {
		return h.do(h.bob, Op{CertifyBlob: &CertifyBlobOp{BlobObjectID: obj, Certificate: c}}).Err
	}
	if err := certify(h.cert(msg, w[0], w[2])); !errors.Is(err, ErrCertificate) || !errors.Is(err, protocol.ErrInsufficientWeight) {
		t.Fatalf("below quorum (6 of 10): %v", err)
	}
	wrongEpoch := protocol.StorageConfirmation{Epoch: epoch + 1, BlobID: bid, Persistence: protocol.Permanent}.Encode()
	if err := certify(h.cert(wrongEpoch, w[0], w[1])); !errors.Is(err, ErrWrongEpoch) {
		t.Fatalf("wrong epoch: %v", err)
	}
	otherBlob, _ := testBlob(1000, 2)
	wrongMsg := protocol.StorageConfirmation{Epoch: epoch, BlobID: otherBlob, Persistence: protocol.Permanent}.Encode()
	if err := certify(h.cert(wrongMsg, w[0], w[1])); !errors.Is(err, ErrWrongMessage) {
		t.Fatalf("other blob: %v", err)
	}
	delMsg := protocol.StorageConfirmation{Epoch: epoch, BlobID: bid, Persistence: protocol.Deletable(obj)}.Encode()
	if err := certify(h.cert(delMsg, w[0], w[1])); !errors.Is(err, ErrWrongMessage) {
		t.Fatalf("wrong persistence: %v", err)
	}
	inv := protocol.InvalidBlobID{Epoch: epoch, BlobID: bid}.Encode()
	if err := certify(h.cert(inv, w[0], w[1])); !errors.Is(err, ErrWrongMessage) {
		t.Fatalf("wrong intent: %v", err)
	}
	// Bad aggregate: signed over a different message but presented with the right one.
	c := h.cert(wrongMsg, w[0], w[1])
	c.Message = msg
	if err := certify(c); !errors.Is(err, protocol.ErrBadCertificate) {
		t.Fatalf("bad aggregate: %v", err)
	}
	// Claims a heavier signer set than signed.
	c = h.cert(msg, w[0], w[1])
	c.Signers[0] |= 1 << w[2]
	if err := certify(c); !errors.Is(err, protocol.ErrBadCertificate) {
		t.Fatalf("claimed extra signer: %v", err)
	}
	// Bits beyond the 4 members.
	c = h.cert(msg, w[0], w[1])
	c.Signers[0] |= 1 << 5
	if err := certify(c); !errors.Is(err, protocol.ErrBitmap) {
		t.Fatalf("bit beyond committee: %v", err)
	}
	if st := h.s.BlobStatus(bid); st.IsCertified {
		t.Fatal("certified by a rejected certificate")
	}
	r := h.certify(h.bob, obj, bid, false)
	if !r.OK() || r.Events[0].Type != EventBlobCertified || r.Events[0].EndEpoch != 3 {
		t.Fatalf("certify: %v %+v", r.Err, r.Events)
	}
	if r := h.certify(h.bob, obj, bid, false); !errors.Is(r.Err, ErrAlreadyCertified) {
		t.Fatalf("twice: %v", r.Err)
	}
	st := h.s.BlobStatus(bid)
	if st.Status != StatusPermanent || !st.IsCertified || st.EndEpoch != 3 || st.InitialCertifiedEpoch == nil || *st.InitialCertifiedEpoch != epoch {
		t.Fatalf("status %+v", st)
	}
	// A certificate from the last epoch is stale after the epoch change.
	obj2, bid2 := h.register(h.alice, 1000, 3, 2, true)
	old := protocol.StorageConfirmation{Epoch: h.s.Epoch(), BlobID: bid2, Persistence: protocol.Deletable(obj2)}.Encode()
	oldCert := h.cert(old, w[0], w[1])
	h.nextEpoch()
	if r := h.do(h.bob, Op{CertifyBlob: &CertifyBlobOp{BlobObjectID: obj2, Certificate: oldCert}}); !errors.Is(r.Err, ErrWrongEpoch) {
		t.Fatalf("stale certificate: %v", r.Err)
	}
	if r := h.certify(h.bob, obj2, bid2, true); !r.OK() {
		t.Fatal(r.Err)
	}
	if st := h.s.BlobStatus(bid2); st.Status != StatusDeletable || st.DeletableCounts != (cpapi.DeletableCounts{Total: 1, Certified: 1}) {
		t.Fatalf("deletable status %+v", st)
	}
}

func TestInvalidBlobID(t *testing.T) {
	h := newHarness(t)
	obj, bid := h.register(h.alice, 1000, 1, 2, false)
	w := h.memberIndexByWeight() // validity: 3w >= 11, w >= 4
	msg := protocol.InvalidBlobID{Epoch: h.s.Epoch(), BlobID: bid}.Encode()
	if r := h.do(h.bob, Op{InvalidateBlob: &InvalidateBlobOp{Certificate: h.cert(msg, w[1])}}); !errors.Is(r.Err, protocol.ErrInsufficientWeight) {
		t.Fatalf("3 of 10: %v", r.Err)
	}
	wrong := protocol.StorageConfirmation{Epoch: h.s.Epoch(), BlobID: bid}.Encode()
	if r := h.do(h.bob, Op{InvalidateBlob: &InvalidateBlobOp{Certificate: h.cert(wrong, w[0])}}); !errors.Is(r.Err, ErrWrongMessage) {
		t.Fatalf("confirmation as invalidation: %v", r.Err)
	}
	r := h.do(h.bob, Op{InvalidateBlob: &InvalidateBlobOp{Certificate: h.cert(msg, w[0])}})
	if !r.OK() || r.Events[0].Type != EventInvalidBlobID || r.Events[0].BlobID != bid {
		t.Fatalf("invalidate: %v", r.Err)
	}
	if st := h.s.BlobStatus(bid); st.Status != StatusInvalid {
		t.Fatalf("status %+v", st)
	}
	if r := h.certify(h.alice, obj, bid, false); !errors.Is(r.Err, ErrInvalidBlob) {
		t.Fatalf("certify invalid: %v", r.Err)
	}
	size := uint64(1000)
	_, root := testBlob(size, 1)
	if r := h.do(h.alice, Op{RegisterBlob: &RegisterBlobOp{EpochsAhead: 1, BlobID: bid, RootHash: root, Size: size, EncodingType: 1}}); !errors.Is(r.Err, ErrInvalidBlob) {
		t.Fatalf("register invalid: %v", r.Err)
	}
}

func TestExtendDeleteAttributes(t *testing.T) {
	h := newHarness(t)
	perm, pbid := h.register(h.alice, 1000, 1, 1, false)
	del, dbid := h.register(h.alice, 1000, 2, 2, true)
	if r := h.do(h.alice, Op{ExtendBlob: &ExtendBlobOp{BlobObjectID: perm, Epochs: 1}}); !errors.Is(r.Err, ErrNotCertified) {
		t.Fatalf("extend uncertified: %v", r.Err)
	}
	if r := h.certify(h.alice, perm, pbid, false); !r.OK() {
		t.Fatal(r.Err)
	}
	if r := h.certify(h.alice, del, dbid, true); !r.OK() {
		t.Fatal(r.Err)
	}
	if r := h.do(h.alice, Op{DeleteBlob: &DeleteBlobOp{BlobObjectID: perm}}); !errors.Is(r.Err, ErrPermanentBlob) {
		t.Fatalf("delete permanent: %v", r.Err)
	}
	if r := h.do(h.alice, Op{ExtendBlob: &ExtendBlobOp{BlobObjectID: perm, Epochs: 5}}); !errors.Is(r.Err, ErrEpochsAhead) {
		t.Fatalf("extend too far: %v", r.Err)
	}
	if r := h.do(h.bob, Op{ExtendBlob: &ExtendBlobOp{BlobObjectID: perm, Epochs: 1}}); !errors.Is(r.Err, ErrNotOwner) {
		t.Fatalf("extend by non-owner: %v", r.Err)
	}
	// Attributes.
	h.ok(h.alice, Op{SetAttributes: &SetAttributesOp{BlobObjectID: perm, Set: map[string]string{"content-type": "text/plain", "x": "y"}}})
	h.ok(h.alice, Op{SetAttributes: &SetAttributesOp{BlobObjectID: perm, Remove: []string{"x"}}})
	if b, _ := h.s.Blob(perm); len(b.Attributes) != 1 || b.Attributes["content-type"] != "text/plain" {
		t.Fatalf("attributes %v", b.Attributes)
	}
	if r := h.do(h.alice, Op{SetAttributes: &SetAttributesOp{BlobObjectID: perm, Set: map[string]string{"": "v"}}}); !errors.Is(r.Err, ErrInvalidTx) {
		t.Fatalf("empty key: %v", r.Err)
	}
	// Delete the deletable blob: the storage returns to the owner.
	r := h.ok(h.alice, Op{DeleteBlob: &DeleteBlobOp{BlobObjectID: del}})
	if e := r.Events[0]; e.Type != EventBlobDeleted || !e.WasCertified || e.BlobID != dbid {
		t.Fatalf("delete event %+v", e)
	}
	if owned := h.s.OwnedBy(h.alice.Address()); len(owned.Storage) != 1 || owned.Storage[0].End != 3 {
		t.Fatalf("storage after delete %+v", owned.Storage)
	}
	if st := h.s.BlobStatus(dbid); st.Status != StatusNonexistent {
		t.Fatalf("status after delete %+v", st)
	}
	// Extend the permanent blob by one epoch (end 2 -> 3), pay 10.
	before := h.s.Account(h.alice.Address()).Balance
	r = h.ok(h.alice, Op{ExtendBlob: &ExtendBlobOp{BlobObjectID: perm, Epochs: 1}})
	if e := r.Events[0]; e.Type != EventBlobExtended || e.EndEpoch != 3 || !e.IsExtension {
		t.Fatalf("extend event %+v", e)
	}
	if got := before - h.s.Account(h.alice.Address()).Balance; got != 10 {
		t.Fatalf("extension cost %d", got)
	}
	// Transfer to bob, then let it expire: extending an expired blob is rejected.
	h.ok(h.alice, Op{TransferObject: &TransferObjectOp{ObjectID: perm, To: h.bob.Address()}})
	h.nextEpoch()
	h.nextEpoch()
	if h.s.Epoch() != 3 {
		t.Fatalf("epoch %d", h.s.Epoch())
	}
	if r := h.do(h.bob, Op{ExtendBlob: &ExtendBlobOp{BlobObjectID: perm, Epochs: 1}}); !errors.Is(r.Err, ErrExpired) {
		t.Fatalf("extend expired: %v", r.Err)
	}
	if st := h.s.BlobStatus(pbid); st.Status != StatusNonexistent {
		t.Fatalf("expired status %+v", st)
	}
	h.nextEpoch()
	if _, ok := h.s.Blob(perm); ok {
		t.Fatal("expired blob not removed after its grace epoch")
	}
}

func TestRewards(t *testing.T) {
	h := newHarness(t)
	// 3 MiB for 1 epoch at 10: 30 into epoch 1's bucket.
	h.ok(h.alice, Op{ReserveStorage: &ReserveStorageOp{Size: 3 * MiB, EpochsAhead: 1}})
	var before []uint64
	for _, o := range h.owners {
		before = append(before, h.s.Account(o.Address()).Balance)
	}
	r := h.blockAt(h.now.Add(60 * h.nowUnit()))
	paid := uint64(0)
	for i, o := range h.owners {
		got := h.s.Account(o.Address()).Balance - before[i]
		// Node i holds 4-i shards of 10: 30*(4-i)/10, all to its owner (owner is the staker).
		if want := uint64(30 * (4 - i) / 10); got != want {
			t.Fatalf("owner %d got %d, want %d", i, got, want)
		}
		paid += h.s.Account(o.Address()).Balance - before[i]
	}
	if paid != 30 || h.s.d.Rewards[2] != 0 {
		t.Fatalf("paid %d, carried %d", paid, h.s.d.Rewards[2])
	}
	found := false
	for _, e := range r.BlockEvents {
		found = found || e.Type == EventRewardPaid
	}
	if !found {
		t.Fatal("no RewardPaid events")
	}
}

func (h *harness) nowUnit() time.Duration { return time.Second }

func TestEventsNumbered(t *testing.T) {
	h := newHarness(t)
	seq := h.s.EventSeq()
	r := h.block(
		h.sign(h.alice, Op{Transfer: &TransferOp{To: h.bob.Address(), Amount: 1}}),
		h.sign(h.alice, Op{Transfer: &TransferOp{To: h.bob.Address(), Amount: 2e9}}),
		h.sign(h.bob, Op{Transfer: &TransferOp{To: h.alice.Address(), Amount: 1}}),
	)
	ev := r.Events()
	if len(ev) != 2 || ev[0].Seq != seq || ev[1].Seq != seq+1 || ev[1].TxHash != r.Results[2].Hash {
		t.Fatalf("events %+v", ev)
	}
	if r.Results[1].OK() {
		t.Fatal("second tx should fail")
	}
}

func TestRewardsSharedWithDelegators(t *testing.T) {
	h := newHarness(t)
	c, _ := h.s.Committee(1)
	// Alice delegates 40 to the 4-shard node (own stake 40) from epoch 2.
	var node ObjectID
	for _, m := range c.Members {
		if len(m.Shards) == 4 {
			node = ObjectID(m.NodeID)
		}
	}
	h.ok(h.alice, Op{Stake: &StakeOp{NodeID: node, Amount: 40}})
	h.nextEpoch()
	// Epoch 2: stakes 80,30,20,10 of 140 -> quotas 5.71,2.14,1.43,0.71 -> 6,2,1,1 uncapped;
	// the cap of 4 nodes on 10 shards is 5, the others share 5 (2.5, 1.67, 0.83 -> 2,2,1).
	c2, _ := h.s.Committee(2)
	var shards int
	for _, m := range c2.Members {
		if ObjectID(m.NodeID) == node {
			shards = len(m.Shards)
		}
	}
	if shards != 5 {
		t.Fatalf("delegated node has %d shards, want 5", shards)
	}
	// 100 MiB for one epoch at 10: a bucket of 1000 for epoch 2.
	h.ok(h.bob, Op{ReserveStorage: &ReserveStorageOp{Size: 100 * MiB, EpochsAhead: 1}})
	owner := h.s.d.Nodes[node].Owner
	ownerBefore, aliceBefore := h.s.Account(owner).Balance, h.s.Account(h.alice.Address()).Balance
	h.nextEpoch()
	// Node share 1000*5/10 = 500; commission 10% = 50 to the owner; 450 split 40:40.
	if got := h.s.Account(h.alice.Address()).Balance - aliceBefore; got != 225 {
		t.Fatalf("delegator reward %d, want 225", got)
	}
	if got := h.s.Account(owner).Balance - ownerBefore; got != 275 {
		t.Fatalf("owner reward %d, want 275", got)
	}
}

func TestGenesisNodeHelperAndCommitteeLookups(t *testing.T) {
	g, _, _ := testGenesis(t)
	owner := accountKey(t, 'z')
	gn := NewGenesisNode(owner, blsKey(t, 77), "extra", "127.0.0.1:1", []byte{1}, 40)
	g.Nodes = append(g.Nodes, gn)
	s, _, err := NewState(g)
	if err != nil {
		t.Fatal(err)
	}
	c := s.d.Committees[1]
	var id ObjectID
	for _, n := range s.Nodes() {
		if n.Name == "extra" {
			id = ObjectID(n.ID)
		}
	}
	i := c.MemberIndex(id)
	if i < 0 || len(c.ShardsOf(id)) != len(c.Members[i].Shards) || len(c.ShardsOf(id)) == 0 {
		t.Fatalf("member %d shards %v", i, c.ShardsOf(id))
	}
	owners := c.ShardOwner()
	for _, sh := range c.ShardsOf(id) {
		if owners[sh] != i {
			t.Fatalf("shard %d owner %d, want %d", sh, owners[sh], i)
		}
	}
	if c.MemberIndex(ObjectID{9}) != -1 || c.ShardsOf(ObjectID{9}) != nil {
		t.Fatal("unknown node found")
	}
	// A genesis node whose proof of possession is for someone else is refused.
	g.Nodes[len(g.Nodes)-1].Owner = accountKey(t, 'y').Address()
	if _, _, err := NewState(g); !errors.Is(err, ErrGenesis) {
		t.Fatalf("bad genesis PoP: %v", err)
	}
}
