package cometbft

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"

	cpapi "github.com/floelabs/floe/api/controlplane"
	"github.com/floelabs/floe/internal/controlplane"
	"github.com/floelabs/floe/internal/controlplane/cptest"
	"github.com/floelabs/floe/internal/crypto"
	"github.com/floelabs/floe/internal/protocol"
)

// cometValidators returns CometBFT's current validator set of n: power by consensus key.
func cometValidators(t *testing.T, n *Node) map[string]int64 {
	t.Helper()
	vals, err := n.ConsensusValidators()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for k, p := range vals {
		out[string(k[:])] = p
	}
	return out
}

// signedBy reports whether the validator with key pub signed the commit of the block at
// height h (stored with block h+1).
func signedBy(n *Node, h int64, pub []byte) bool {
	c := n.node.BlockStore().LoadBlockCommit(h)
	if c == nil {
		return false
	}
	for _, s := range c.Signatures {
		if s.ValidatorAddress.String() == addressOf(pub) && s.Signature != nil {
			return true
		}
	}
	return false
}

func addressOf(pub []byte) string { return cmted25519.PubKey(pub).Address().String() }

// TestValidatorsFollowStake runs four genesis validators and a fifth node that joins the
// network (JoinNetwork) as an operator would: it block-syncs as a full node; its operator
// registers a storage node, stakes on it and attaches the validator's key. When the stakes of
// members with validator keys hold a quorum of the shards, the epoch change replaces the
// genesis validators by them with their shards as power: the joiner votes and the genesis
// validator whose node carries no key stops voting. When the joiner's stake is withdrawn, it
// leaves the committee and the validator set at the next epoch change.
func TestValidatorsFollowStake(t *testing.T) {
	if testing.Short() {
		t.Skip("five CometBFT nodes over several epochs")
	}
	net := cptest.NewNetwork(10, 4, 2, 1e12, nil, time.Now())
	net.Genesis.Params.EpochDurationMs = 4000
	vals := initNet(t, 4, net.Genesis)
	nodes := make([]*Node, 0, 5)
	defer func() {
		for _, n := range nodes {
			if err := n.Close(); err != nil {
				t.Error(err)
			}
		}
	}()
	for _, v := range vals {
		nodes = append(nodes, openNode(t, v.Home, nil))
	}
	var peers []string
	for _, v := range vals {
		peers = append(peers, v.NodeID+"@"+v.P2PAddr)
	}
	tt := testTimeouts
	joiner, err := JoinNetwork(JoinConfig{Home: filepath.Join(t.TempDir(), "joiner"), Genesis: filepath.Join(vals[0].Home, "config", "genesis.json"),
		Peers: peers, P2PAddr: "127.0.0.1:0", Timeouts: &tt})
	if err != nil {
		t.Fatal(err)
	}
	nodes = append(nodes, openNode(t, joiner.Home, nil))
	if _, ok := cometValidators(t, nodes[0])[string(joiner.PublicKey)]; ok {
		t.Fatal("the joiner is a validator before it staked")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	submit := func(key *crypto.AccountKey, op cpapi.Op) *cpapi.Included {
		t.Helper()
		inc, err := nodes[0].Submit(ctx, net.Sign(key, op))
		if err != nil || !inc.OK() {
			t.Fatalf("%+v: %v %+v", op, err, inc)
		}
		return inc
	}
	chainID := net.Genesis.Params.ChainID
	// Owners of genesis nodes 0..2 attach the keys of validators 0..2.
	for i := range 3 {
		submit(net.Users[0], cpapi.Op{Transfer: &cpapi.TransferOp{To: cpapi.Address(net.NodeOwner[i].Address()), Amount: 1000}})
		node := cpapi.ObjectID(genesisNodeID(t, nodes[0], i))
		pub, sig, err := SignValidatorKey(vals[i].Home, chainID, node)
		if err != nil {
			t.Fatal(err)
		}
		submit(net.NodeOwner[i], cpapi.Op{SetValidator: &cpapi.SetValidatorOp{NodeID: node, PublicKey: pub, Signature: sig}})
	}
	// The joining operator registers a storage node with its BLS key, stakes and attaches the
	// joiner's validator key.
	op := net.Users[1]
	bk, _ := crypto.BLSKeyFromSeed(cptest.Seeded("joiner-bls", 0))
	// The proof of possession binds the current epoch; epochs are 4 s here, so an epoch change
	// between reading the epoch and inclusion is retried with the new epoch.
	var reg *cpapi.Included
	for attempt := 0; ; attempt++ {
		var epoch uint32
		nodes[0].View(func(s *controlplane.State, _ controlplane.Hash) { epoch = s.Epoch() })
		regOp := cpapi.Op{RegisterNode: &cpapi.RegisterNodeOp{Name: "joiner", NetworkAddress: "127.0.0.1:1", NetworkPublicKey: []byte{1},
			BLSPublicKey: cpapi.BLSPublicKey(bk.PublicKey()), ProofOfPossession: cpapi.BLSSignature(protocol.SignProofOfPossession(bk, op.Address(), epoch)),
			Commission: 100, StoragePrice: 10, WritePrice: 5, Capacity: 1 << 40}}
		inc, err := nodes[0].Submit(ctx, net.Sign(op, regOp))
		if err == nil && inc.OK() {
			reg = inc
			break
		}
		if err != nil || inc.TxResult.Code != cpapi.CodeBadProofOfPossession || attempt == 3 {
			t.Fatalf("register the joiner: %v %+v", err, inc)
		}
	}
	joinerNode := reg.Created[0]
	stake := submit(op, cpapi.Op{Stake: &cpapi.StakeOp{NodeID: joinerNode, Amount: 100}}).Created[0]
	pub, sig, err := SignValidatorKey(joiner.Home, chainID, joinerNode)
	if err != nil {
		t.Fatal(err)
	}
	submit(op, cpapi.Op{SetValidator: &cpapi.SetValidatorOp{NodeID: joinerNode, PublicKey: pub, Signature: sig}})

	// Wait for the switch: the joiner (2 of 10 shards) and validators 0..2 vote; validator 3,
	// whose node has no key, is out.
	waitFor(t, ctx, "the joiner in CometBFT's validator set", func() bool {
		cv := cometValidators(t, nodes[0])
		_, v3 := cv[string(vals[3].PublicKey)]
		return cv[string(joiner.PublicKey)] > 0 && !v3 && len(cv) == 4
	})
	var h int64
	waitFor(t, ctx, "a block signed by the joiner", func() bool {
		h = nodes[0].node.BlockStore().Height() - 1
		return signedBy(nodes[0], h, joiner.PublicKey)
	})
	cv := cometValidators(t, nodes[4])
	for i := range 3 {
		if cv[string(vals[i].PublicKey)] != 2 {
			t.Fatalf("validator %d's power %d, want its 2 shards (%v)", i, cv[string(vals[i].PublicKey)], cv)
		}
	}
	var listed []cpapi.Validator
	nodes[4].View(func(s *controlplane.State, _ controlplane.Hash) { listed = s.Validators() })
	if len(listed) != 4 {
		t.Fatalf("the control plane lists %d validators", len(listed))
	}

	// The joiner's operator withdraws: at the next epoch change it leaves the set.
	submit(op, cpapi.Op{WithdrawStake: &cpapi.WithdrawStakeOp{StakeID: stake}})
	waitFor(t, ctx, "the joiner out of CometBFT's validator set", func() bool {
		_, in := cometValidators(t, nodes[0])[string(joiner.PublicKey)]
		return !in
	})
	after := nodes[0].node.BlockStore().Height()
	waitHeight(t, nodes[4], uint64(after+3))
	if signedBy(nodes[0], after+2, joiner.PublicKey) {
		t.Fatal("the joiner signs after leaving the set")
	}
}

func genesisNodeID(t *testing.T, n *Node, i int) controlplane.ObjectID {
	t.Helper()
	var id controlplane.ObjectID
	n.View(func(s *controlplane.State, _ controlplane.Hash) {
		ns := s.Nodes()
		for _, nd := range ns {
			if nd.Name == "node-"+string(rune('0'+i)) {
				id = controlplane.ObjectID(nd.ID)
			}
		}
	})
	if id == (controlplane.ObjectID{}) {
		t.Fatalf("genesis node %d not found", i)
	}
	return id
}

func waitFor(t *testing.T, ctx context.Context, what string, f func() bool) {
	t.Helper()
	for !f() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
