package client

import (
	"context"
	"errors"
	"fmt"

	cpapi "github.com/floelabs/floe/api/controlplane"
	"github.com/floelabs/floe/internal/controlplane/cpclient"
	"github.com/floelabs/floe/internal/crypto"
	"github.com/floelabs/floe/internal/protocol"
)

// Membership: the SDK calls of storage-node operators and stakers. Staking decides the
// committee: at each epoch's voting end (the middle of the epoch, spec §7.4) the control plane
// selects the next epoch's committee by stake and apportions the shards; at the epoch change
// the nodes that gained shards fetch them from their previous owners. A stake counts from the
// first epoch whose committee is not selected yet; a withdrawal returns the tokens at the
// change to the first epoch whose committee is not selected yet.

// Stake is an amount staked to a node.
type Stake struct {
	ID     ObjectID `json:"id"`
	Owner  Address  `json:"owner"`
	NodeID ObjectID `json:"node_id"`
	Amount uint64   `json:"amount"`
	// ActivationEpoch is the first epoch in which the stake counts.
	ActivationEpoch uint32 `json:"activation_epoch"`
	// WithdrawEpoch, when non-zero, is the epoch at whose start the stake is returned.
	WithdrawEpoch uint32 `json:"withdraw_epoch,omitempty"`
}

func stakeFromAPI(s cpapi.Stake) Stake {
	return Stake{ID: ObjectID(s.ID), Owner: Address(s.Owner), NodeID: ObjectID(s.NodeID), Amount: s.Amount,
		ActivationEpoch: s.ActivationEpoch, WithdrawEpoch: s.WithdrawEpoch}
}

// Node statuses (NodeInfo.Status).
const (
	NodeActive   = cpapi.NodeStatusActive
	NodeJoining  = cpapi.NodeStatusJoining
	NodeLeaving  = cpapi.NodeStatusLeaving
	NodeInactive = cpapi.NodeStatusInactive
)

// NodeInfo is a registered storage node with its status, stake and shards now and next.
type NodeInfo struct {
	ID               ObjectID     `json:"id"`
	Owner            Address      `json:"owner"`
	Name             string       `json:"name"`
	NetworkAddress   string       `json:"network_address"`
	NetworkPublicKey []byte       `json:"network_public_key"`
	BLSPublicKey     BLSPublicKey `json:"bls_public_key"`
	// Commission is the node's share of its rewards in basis points (0..10000).
	Commission uint16 `json:"commission"`
	Votes      Votes  `json:"votes"`
	// ValidatorKey is the CometBFT validator key attached to the node, if any.
	ValidatorKey []byte `json:"validator_key,omitempty"`
	// Status is NodeActive, NodeJoining, NodeLeaving or NodeInactive.
	Status string `json:"status"`
	// Stake counts in the current epoch, NextStake in the next one.
	Stake     uint64 `json:"stake"`
	NextStake uint64 `json:"next_stake"`
	// Shards are the node's shards in the current epoch; NextShards in the next epoch (nil
	// until its committee is selected).
	Shards     []uint16 `json:"shards"`
	NextShards []uint16 `json:"next_shards"`
	Stakes     []Stake  `json:"stakes"`
	// SyncDone reports that the node holds every shard it gained at the last epoch change.
	SyncDone bool `json:"sync_done"`
}

// Votes are a node's votes on prices (per MiB of encoded size; storage per epoch) and its
// capacity in bytes.
type Votes struct {
	StoragePrice uint64 `json:"storage_price"`
	WritePrice   uint64 `json:"write_price"`
	Capacity     uint64 `json:"capacity"`
}

func nodeInfoFromAPI(n *cpapi.NodeInfo) *NodeInfo {
	out := &NodeInfo{ID: ObjectID(n.Node.ID), Owner: Address(n.Node.Owner), Name: n.Node.Name, NetworkAddress: n.Node.NetworkAddress,
		NetworkPublicKey: n.Node.NetworkPublicKey, BLSPublicKey: BLSPublicKey(n.Node.BLSPublicKey), Commission: n.Node.Commission,
		Votes:        Votes{StoragePrice: n.Node.StoragePrice, WritePrice: n.Node.WritePrice, Capacity: n.Node.Capacity},
		ValidatorKey: n.Node.ValidatorKey, Status: n.Status, Stake: n.Stake, NextStake: n.NextStake,
		Shards: n.Shards, NextShards: n.NextShards, SyncDone: n.SyncDone, Stakes: make([]Stake, len(n.Stakes))}
	for i, s := range n.Stakes {
		out.Stakes[i] = stakeFromAPI(s)
	}
	return out
}

// ErrNodeNotFound: no node is registered with that ID.
var ErrNodeNotFound = errors.New("client: no such storage node")

// NodeInfo returns a registered node's status, stake and shards.
func (c *Client) NodeInfo(ctx context.Context, nodeID ObjectID) (*NodeInfo, error) {
	n, err := c.cp.NodeInfo(ctx, cpapi.ObjectID(nodeID))
	if errors.Is(err, cpclient.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrNodeNotFound, nodeID)
	}
	if err != nil {
		return nil, fmt.Errorf("client: node info: %w", err)
	}
	return nodeInfoFromAPI(n), nil
}

// Nodes returns every registered node's status, stake and shards, sorted by node ID.
func (c *Client) Nodes(ctx context.Context) ([]NodeInfo, error) {
	ns, err := c.cp.Nodes(ctx)
	if err != nil {
		return nil, fmt.Errorf("client: nodes: %w", err)
	}
	out := make([]NodeInfo, 0, len(ns))
	for _, n := range ns {
		ni, err := c.NodeInfo(ctx, ObjectID(n.ID))
		if err != nil {
			return nil, err
		}
		out = append(out, *ni)
	}
	return out, nil
}

// StakeResult is the outcome of Stake.
type StakeResult struct {
	// StakeID identifies the new stake object (WithdrawStake takes it).
	StakeID ObjectID `json:"stake_id"`
	Amount  uint64   `json:"amount"`
	// ActivationEpoch is the first epoch in which the stake counts: the committee selected
	// at that epoch's predecessor's voting end includes it.
	ActivationEpoch uint32 `json:"activation_epoch"`
}

// Stake stakes amount from the wallet with a node.
func (c *Client) Stake(ctx context.Context, nodeID ObjectID, amount uint64) (*StakeResult, error) {
	inc, err := c.execute(ctx, "stake", cpapi.Op{Stake: &cpapi.StakeOp{NodeID: cpapi.ObjectID(nodeID), Amount: amount}})
	if errors.Is(err, cpclient.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s: %w", ErrNodeNotFound, nodeID, err)
	}
	if err != nil {
		return nil, err
	}
	out := &StakeResult{Amount: amount}
	if len(inc.Created) > 0 {
		out.StakeID = ObjectID(inc.Created[0])
	}
	for _, ev := range inc.Events {
		if ev.Type == cpapi.EventStaked {
			out.ActivationEpoch = ev.StartEpoch
		}
	}
	return out, nil
}

// Stakes returns the stakes an account owns (the wallet's if owner is nil).
func (c *Client) Stakes(ctx context.Context, owner *Address) ([]Stake, error) {
	a := c.Address()
	if owner != nil {
		a = *owner
	} else if c.cfg.Wallet == nil {
		return nil, ErrNoWallet
	}
	ss, err := c.cp.Stakes(ctx, cpapi.Address(a))
	if err != nil {
		return nil, fmt.Errorf("client: stakes: %w", err)
	}
	out := make([]Stake, len(ss))
	for i, s := range ss {
		out[i] = stakeFromAPI(s)
	}
	return out, nil
}

// WithdrawResult is the outcome of WithdrawStake.
type WithdrawResult struct {
	StakeID ObjectID `json:"stake_id"`
	Amount  uint64   `json:"amount"`
	// Returned reports that the tokens are back already (the stake was not counted in any
	// selected committee); otherwise they return at the start of ReturnEpoch.
	Returned    bool   `json:"returned"`
	ReturnEpoch uint32 `json:"return_epoch,omitempty"`
}

// ErrNotStakeOwner: the wallet does not own the stake.
var ErrNotStakeOwner = errors.New("client: the wallet does not own the stake")

// WithdrawStake withdraws one of the wallet's stakes.
func (c *Client) WithdrawStake(ctx context.Context, stakeID ObjectID) (*WithdrawResult, error) {
	inc, err := c.execute(ctx, "withdraw stake", cpapi.Op{WithdrawStake: &cpapi.WithdrawStakeOp{StakeID: cpapi.ObjectID(stakeID)}})
	switch {
	case errors.Is(err, cpclient.ErrNotOwner):
		return nil, fmt.Errorf("%w: %w", ErrNotStakeOwner, err)
	case err != nil:
		return nil, err
	}
	out := &WithdrawResult{StakeID: stakeID}
	for _, ev := range inc.Events {
		switch ev.Type {
		case cpapi.EventStakeReturned:
			out.Returned, out.Amount = true, ev.Amount
		case cpapi.EventStakeWithdrawn:
			out.ReturnEpoch, out.Amount = ev.EndEpoch, ev.Amount
		}
	}
	return out, nil
}

// WithdrawNodeStakes withdraws every stake the wallet has on a node that is not withdrawn
// yet.
func (c *Client) WithdrawNodeStakes(ctx context.Context, nodeID ObjectID) ([]WithdrawResult, error) {
	ss, err := c.Stakes(ctx, nil)
	if err != nil {
		return nil, err
	}
	var out []WithdrawResult
	for _, s := range ss {
		if s.NodeID != nodeID || s.WithdrawEpoch != 0 {
			continue
		}
		r, err := c.WithdrawStake(ctx, s.ID)
		if err != nil {
			return out, err
		}
		out = append(out, *r)
	}
	return out, nil
}

// ErrNotNodeOwner: the wallet does not own the node.
var ErrNotNodeOwner = errors.New("client: the wallet does not own the storage node")

func (c *Client) nodeOp(ctx context.Context, what string, op cpapi.Op) error {
	_, err := c.execute(ctx, what, op)
	switch {
	case errors.Is(err, cpclient.ErrNotFound):
		return fmt.Errorf("%w: %w", ErrNodeNotFound, err)
	case errors.Is(err, cpclient.ErrNotOwner):
		return fmt.Errorf("%w: %w", ErrNotNodeOwner, err)
	}
	return err
}

// SetVotes sets the price and capacity votes of a node the wallet owns; they count at the
// next voting end.
func (c *Client) SetVotes(ctx context.Context, nodeID ObjectID, v Votes) error {
	return c.nodeOp(ctx, "set votes", cpapi.Op{SetVotes: &cpapi.SetVotesOp{NodeID: cpapi.ObjectID(nodeID),
		StoragePrice: v.StoragePrice, WritePrice: v.WritePrice, Capacity: v.Capacity}})
}

// MaxCommission is the largest commission, in basis points (100%).
const MaxCommission = 10000

// SetCommission sets the commission (basis points of the node's rewards, 0..10000) of a node
// the wallet owns; it applies to the rewards paid from then on.
func (c *Client) SetCommission(ctx context.Context, nodeID ObjectID, basisPoints uint16) error {
	if basisPoints > MaxCommission {
		return fmt.Errorf("%w: commission %d basis points above %d", ErrInvalidConfig, basisPoints, MaxCommission)
	}
	return c.nodeOp(ctx, "set commission", cpapi.Op{UpdateNode: &cpapi.UpdateNodeOp{NodeID: cpapi.ObjectID(nodeID), Commission: &basisPoints}})
}

// SetValidatorKey attaches a CometBFT validator key to a node the wallet owns: pub is the
// validator's Ed25519 consensus key, sig its signature of ValidatorKeyMessage (see
// internal/controlplane/cometbft's SignValidatorKey). An empty pub detaches the key.
func (c *Client) SetValidatorKey(ctx context.Context, nodeID ObjectID, pub, sig []byte) error {
	return c.nodeOp(ctx, "set validator key", cpapi.Op{SetValidator: &cpapi.SetValidatorOp{NodeID: cpapi.ObjectID(nodeID), PublicKey: pub, Signature: sig}})
}

// NodeRegistration describes a storage node to register.
type NodeRegistration struct {
	Name string
	// NetworkAddress is host:port of the node's HTTPS API; NetworkPublicKey the public key
	// its TLS certificate carries (the SEC1 form nodetls writes).
	NetworkAddress   string
	NetworkPublicKey []byte
	// ProtocolKey is the node's BLS key: the registration carries its proof of possession.
	ProtocolKey *crypto.BLSSecretKey
	// Commission in basis points.
	Commission uint16
	Votes      Votes
}

// RegisterNode registers a storage node owned by the wallet and returns its node ID. It joins
// a committee once enough is staked on it (Stake).
func (c *Client) RegisterNode(ctx context.Context, r NodeRegistration) (ObjectID, error) {
	if c.cfg.Wallet == nil {
		return ObjectID{}, ErrNoWallet
	}
	if r.ProtocolKey == nil {
		return ObjectID{}, fmt.Errorf("%w: no protocol key", ErrInvalidConfig)
	}
	in, err := c.cp.Info(ctx)
	if err != nil {
		return ObjectID{}, fmt.Errorf("client: info: %w", err)
	}
	pop := protocol.SignProofOfPossession(r.ProtocolKey, c.cfg.Wallet.Address(), in.Epoch)
	inc, err := c.execute(ctx, "register node", cpapi.Op{RegisterNode: &cpapi.RegisterNodeOp{Name: r.Name, NetworkAddress: r.NetworkAddress,
		NetworkPublicKey: r.NetworkPublicKey, BLSPublicKey: cpapi.BLSPublicKey(r.ProtocolKey.PublicKey()), ProofOfPossession: cpapi.BLSSignature(pop),
		Commission: r.Commission, StoragePrice: r.Votes.StoragePrice, WritePrice: r.Votes.WritePrice, Capacity: r.Votes.Capacity}})
	if err != nil {
		return ObjectID{}, err
	}
	if len(inc.Created) == 0 {
		return ObjectID{}, fmt.Errorf("client: register node: no node created")
	}
	return ObjectID(inc.Created[0]), nil
}

// Epoch states (EpochChange.State).
const (
	EpochChangeSync    = cpapi.EpochStateChangeSync
	EpochChangeDone    = cpapi.EpochStateChangeDone
	NextParamsSelected = cpapi.EpochStateNextParamsSelected
)

// EpochChange is the state of the change to the current epoch.
type EpochChange struct {
	Epoch uint32 `json:"epoch"`
	// State is EpochChangeSync (members still fetching the shards they gained),
	// EpochChangeDone, or NextParamsSelected (the next committee is known).
	State   string `json:"state"`
	StartMs int64  `json:"start_ms"`
	// Done and Pending list the members by node ID; DoneShards is the done members' weight.
	Done       []ObjectID `json:"done"`
	Pending    []ObjectID `json:"pending"`
	DoneShards int        `json:"done_shards"`
	DoneMs     int64      `json:"done_ms,omitempty"`
	Forced     bool       `json:"forced,omitempty"`
	DeadlineMs int64      `json:"deadline_ms"`
	// VotingEndMs is when the next committee is selected (if the change is done by then);
	// NextEpochMs when the next epoch starts at the earliest.
	VotingEndMs int64 `json:"voting_end_ms"`
	NextEpochMs int64 `json:"next_epoch_ms"`
}

// EpochChange returns the state of the change to the current epoch (nil in epoch 0).
func (c *Client) EpochChange(ctx context.Context) (*EpochChange, error) {
	in, err := c.cp.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("client: info: %w", err)
	}
	ec := in.EpochChange
	if ec == nil {
		return nil, nil
	}
	out := &EpochChange{Epoch: ec.Epoch, State: ec.State, StartMs: ec.StartMs, DoneShards: ec.DoneShards, DoneMs: ec.DoneMs,
		Forced: ec.Forced, DeadlineMs: ec.DeadlineMs, VotingEndMs: in.VotingEndMs, NextEpochMs: in.NextEpochMs}
	for _, id := range ec.Done {
		out.Done = append(out.Done, ObjectID(id))
	}
	for _, id := range ec.Pending {
		out.Pending = append(out.Pending, ObjectID(id))
	}
	return out, nil
}

// CommitteeOf returns the committee of an epoch (ErrNoCommittee if none is recorded: the
// next epoch's before its voting end).
func (c *Client) CommitteeOf(ctx context.Context, epoch uint32) (*Committee, error) {
	cm, err := c.cp.Committee(ctx, epoch)
	if errors.Is(err, cpclient.ErrNotFound) {
		return nil, fmt.Errorf("%w: epoch %d", ErrNoCommittee, epoch)
	}
	if err != nil {
		return nil, fmt.Errorf("client: committee: %w", err)
	}
	return committeeFromAPI(cm), nil
}
