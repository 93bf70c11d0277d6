package controlplane

import "github.com/floelabs/floe/blob"

// Params are the system parameters fixed at genesis.
type Params struct {
	ChainID          string `json:"chain_id"`
	NShards          int    `json:"n_shards"`
	EpochDurationMs  int64  `json:"epoch_duration_ms"`
	MaxEpochsAhead   uint32 `json:"max_epochs_ahead"`
	MinCommitteeSize int    `json:"min_committee_size"`
	MaxCommitteeSize int    `json:"max_committee_size"`
	MinStake         uint64 `json:"min_stake"`
	// Storage challenges: rounds per epoch (0: none), samples per node per round, the
	// slashing rule (a share of the stake, after failed epochs in a row; 0: never) and the
	// exclusion of a node that missed every round of so many epochs in a row (0: never).
	ChallengeRounds          int    `json:"challenge_rounds,omitempty"`
	ChallengeSamples         int    `json:"challenge_samples,omitempty"`
	SlashAfterFailedEpochs   uint32 `json:"slash_after_failed_epochs,omitempty"`
	SlashBasisPoints         uint16 `json:"slash_basis_points,omitempty"`
	ExcludeAfterMissedEpochs uint32 `json:"exclude_after_missed_epochs,omitempty"`
}

// Prices are the prices and capacity of the current epoch.
type Prices struct {
	Epoch uint32 `json:"epoch"`
	// StoragePrice is per MiB of encoded size per epoch; WritePrice per MiB of encoded size.
	StoragePrice uint64 `json:"storage_price_per_mib_epoch"`
	WritePrice   uint64 `json:"write_price_per_mib"`
	Capacity     uint64 `json:"capacity"`
	// Used is the encoded size already reserved in the current epoch.
	Used uint64 `json:"used"`
}

// Info is a summary of the system like `walrus info`.
type Info struct {
	Params         Params `json:"params"`
	Height         uint64 `json:"height"`
	TimeMs         int64  `json:"time_ms"`
	Epoch          uint32 `json:"epoch"`
	EpochStartMs   int64  `json:"epoch_start_ms"`
	NextEpochMs    int64  `json:"next_epoch_ms"`
	Prices         Prices `json:"prices"`
	CommitteeSize  int    `json:"committee_size"`
	RegisteredNode int    `json:"registered_nodes"`
	EventSeq       uint64 `json:"event_seq"`
	AppHash        Hash   `json:"app_hash"`
	// RewardPool is the current epoch's rewards so far (storage and write fees), paid to the
	// committee when the epoch ends; RewardsBurnt and StakeSlashed are what challenges have
	// taken since genesis (rewards withheld from failing nodes, stake slashed).
	RewardPool   uint64 `json:"reward_pool"`
	RewardsBurnt uint64 `json:"rewards_burnt"`
	StakeSlashed uint64 `json:"stake_slashed"`
	// EpochChange is the state of the change to the current epoch (nil in epoch 0).
	EpochChange *EpochChange `json:"epoch_change,omitempty"`
	// VotingEndMs is when the next epoch's committee is (or was) selected: the middle of the
	// epoch, or later if the change to the current epoch was not done by then.
	VotingEndMs int64 `json:"voting_end_ms"`
	// NextCommitteeSelected reports that the next epoch's committee is known
	// (PathCommittees + "next").
	NextCommitteeSelected bool `json:"next_committee_selected"`
}

// Epoch states, as Walrus names them.
const (
	// EpochStateChangeSync: the current epoch started and its committee is taking over the
	// shards it gained; reads of older blobs may still need the previous committee.
	EpochStateChangeSync = "EpochChangeSync"
	// EpochStateChangeDone: a quorum of the committee (by shards) holds its shards.
	EpochStateChangeDone = "EpochChangeDone"
	// EpochStateNextParamsSelected: the next epoch's committee and prices are selected.
	EpochStateNextParamsSelected = "NextParamsSelected"
)

// EpochChange is the state of the change to an epoch: which members reported (with
// EpochSyncDone) that they hold every shard they gained. Members that gained no shard have
// nothing to fetch and count as done from the start.
type EpochChange struct {
	Epoch uint32 `json:"epoch"`
	// State is one of the EpochState constants.
	State   string `json:"state"`
	StartMs int64  `json:"start_ms"`
	// Done lists the members that are done, in committee order; DoneShards is their weight.
	Done       []ObjectID `json:"done"`
	DoneShards int        `json:"done_shards"`
	// Pending lists the members still fetching gained shards.
	Pending []ObjectID `json:"pending"`
	// DoneMs is when EpochChangeDone was emitted (0 before); Forced if at the deadline
	// without a quorum.
	DoneMs int64 `json:"done_ms,omitempty"`
	Forced bool  `json:"forced,omitempty"`
	// DeadlineMs is when the change is declared done without a quorum (a whole epoch after
	// its start).
	DeadlineMs int64 `json:"deadline_ms"`
	// Unsynced lists the shards whose owner has not reported holding them yet (gained at this
	// change or carried over from earlier ones), by shard. A node that holds one of them
	// without owning it keeps it until it leaves this list.
	Unsynced []ShardHandover `json:"unsynced,omitempty"`
}

// ShardHandover is a shard on its way to its owner: Owner has not reported holding it; From
// is the last owner that did (where its slivers are), or zero if none did.
type ShardHandover struct {
	Shard uint16   `json:"shard"`
	Owner ObjectID `json:"owner"`
	From  ObjectID `json:"from"`
}

// Node statuses in NodeInfo.
const (
	// NodeStatusActive: in the current committee and the next one (if selected).
	NodeStatusActive = "active"
	// NodeStatusJoining: not in the current committee; in the next one, or staked enough to be
	// selected at the next voting end.
	NodeStatusJoining = "joining"
	// NodeStatusLeaving: in the current committee, not in the next one (or its stake is
	// withdrawn).
	NodeStatusLeaving = "leaving"
	// NodeStatusInactive: in neither.
	NodeStatusInactive = "inactive"
)

// NodeInfo is a registered node with its stake and shards now and next.
type NodeInfo struct {
	Node Node `json:"node"`
	// Status is one of the NodeStatus constants.
	Status string `json:"status"`
	// Stake counts in the current epoch; NextStake in the next (what voting end selects by,
	// or selected by).
	Stake     uint64 `json:"stake"`
	NextStake uint64 `json:"next_stake"`
	// Shards are held in the current epoch; NextShards in the next epoch's committee (nil
	// until it is selected).
	Shards     []uint16 `json:"shards"`
	NextShards []uint16 `json:"next_shards"`
	// Stakes are every stake object of the node (by any owner).
	Stakes []Stake `json:"stakes"`
	// SyncDone reports that the node reported EpochSyncDone for the current epoch (or gained
	// no shard).
	SyncDone bool `json:"sync_done"`
}

// Validator is a CometBFT validator as the control plane sets them: an Ed25519 consensus key
// and its voting power (the node's shards), with the node it belongs to (zero for a genesis
// validator).
type Validator struct {
	PublicKey []byte   `json:"public_key"`
	Power     int64    `json:"power"`
	NodeID    ObjectID `json:"node_id,omitzero"`
}

// Cost is what storing a blob costs at the current prices.
type Cost struct {
	Size          uint64 `json:"size"`
	Epochs        uint32 `json:"epochs"`
	EncodedLength uint64 `json:"encoded_length"`
	StorageCost   uint64 `json:"storage_cost"`
	WriteFee      uint64 `json:"write_fee"`
	Total         uint64 `json:"total"`
}

// Account is an account's balance and next nonce.
type Account struct {
	Address Address `json:"address"`
	Balance uint64  `json:"balance"`
	Nonce   uint64  `json:"nonce"`
}

// AccountResponse is the former name of Account.
type AccountResponse = Account

// Node is a registered storage node.
type Node struct {
	ID               ObjectID     `json:"id"`
	Owner            Address      `json:"owner"`
	Name             string       `json:"name"`
	NetworkAddress   string       `json:"network_address"`
	NetworkPublicKey []byte       `json:"network_public_key"`
	BLSPublicKey     BLSPublicKey `json:"bls_public_key"`
	// Commission is the node's share of its rewards in basis points (0..10000).
	Commission      uint16 `json:"commission"`
	StoragePrice    uint64 `json:"storage_price_vote"`
	WritePrice      uint64 `json:"write_price_vote"`
	Capacity        uint64 `json:"capacity_vote"`
	RegisteredEpoch uint32 `json:"registered_epoch"`
	// ValidatorKey is the node's CometBFT validator key (Ed25519, 32 bytes), if set.
	ValidatorKey []byte `json:"validator_key,omitempty"`
}

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

// Storage is a storage resource: Size bytes of encoded capacity for epochs [Start, End).
type Storage struct {
	ID    ObjectID `json:"id"`
	Owner Address  `json:"owner"`
	Start uint32   `json:"start_epoch"`
	End   uint32   `json:"end_epoch"`
	Size  uint64   `json:"storage_size"`
}

// Blob is a registered blob object.
type Blob struct {
	ID              ObjectID          `json:"id"`
	Owner           Address           `json:"owner"`
	BlobID          blob.ID           `json:"blob_id"`
	Size            uint64            `json:"size"`
	EncodingType    uint8             `json:"encoding_type"`
	RootHash        Hash              `json:"root_hash"`
	RegisteredEpoch uint32            `json:"registered_epoch"`
	Certified       bool              `json:"certified"`
	CertifiedEpoch  uint32            `json:"certified_epoch,omitempty"`
	Deletable       bool              `json:"deletable"`
	Storage         Storage           `json:"storage"`
	Attributes      map[string]string `json:"attributes,omitempty"`
	// Shared marks a shared blob object (ShareBlobOp): it has no owner, and Funds pay its
	// extensions.
	Shared bool   `json:"shared,omitempty"`
	Funds  uint64 `json:"funds,omitempty"`
}

// Owned lists the storage resources and blob objects of an owner.
type Owned struct {
	Storage []Storage `json:"storage"`
	Blobs   []Blob    `json:"blobs"`
}

// ObjectResponse is one object; exactly one field is set.
type ObjectResponse struct {
	Blob    *Blob    `json:"blob,omitempty"`
	Storage *Storage `json:"storage,omitempty"`
	Node    *Node    `json:"node,omitempty"`
	Stake   *Stake   `json:"stake,omitempty"`
}

// Member is a committee member with its shards.
type Member struct {
	NodeID           ObjectID     `json:"node_id"`
	Name             string       `json:"name"`
	NetworkAddress   string       `json:"network_address"`
	NetworkPublicKey []byte       `json:"network_public_key"`
	BLSPublicKey     BLSPublicKey `json:"bls_public_key"`
	Stake            uint64       `json:"stake"`
	Shards           []uint16     `json:"shards"`
}

// Committee is an epoch's committee, members sorted by node ID (certificates' signer bits refer
// to this order), with the prices and capacity fixed for the epoch.
type Committee struct {
	Epoch        uint32   `json:"epoch"`
	NShards      int      `json:"n_shards"`
	StartMs      int64    `json:"start_ms"`
	Members      []Member `json:"members"`
	StoragePrice uint64   `json:"storage_price_per_mib_epoch"`
	WritePrice   uint64   `json:"write_price_per_mib"`
	Capacity     uint64   `json:"capacity"`
}

// ReadCommittees are the committees a reader needs (GET PathCommittees + "read"): the
// current one, which stores new blobs, and, while the change to the current epoch is in
// progress (State EpochStateChangeSync), the previous one. Until EpochChangeDone the
// previous committee's members keep the shards they lost, so a reader asks the previous owner
// of a shard for the slivers of blobs certified before the current epoch that the new owner
// does not hold yet (spec §7.4, §11.4).
type ReadCommittees struct {
	Current Committee `json:"current"`
	// Previous is set only while the change to Current's epoch is in progress.
	Previous *Committee `json:"previous,omitempty"`
	// State is the epoch state (an EpochState constant; empty in epoch 0).
	State string `json:"state,omitempty"`
}

// ShardOwner returns, for each shard index, the index of the member holding it (-1 if none).
func (c *Committee) ShardOwner() []int {
	out := make([]int, c.NShards)
	for i := range out {
		out[i] = -1
	}
	for i, m := range c.Members {
		for _, s := range m.Shards {
			if int(s) < len(out) {
				out[s] = i
			}
		}
	}
	return out
}

// MemberIndex returns the index of node id in the committee order, or -1.
func (c *Committee) MemberIndex(id ObjectID) int {
	for i, m := range c.Members {
		if m.NodeID == id {
			return i
		}
	}
	return -1
}

// ShardsOf returns the shards node id holds in this committee (nil if it is not a member).
func (c *Committee) ShardsOf(id ObjectID) []uint16 {
	if i := c.MemberIndex(id); i >= 0 {
		return c.Members[i].Shards
	}
	return nil
}

// BlobStatusKind is the kind of a blob ID's status, as Walrus reports it.
type BlobStatusKind string

// Status kinds.
const (
	StatusNonexistent BlobStatusKind = "nonexistent"
	StatusInvalid     BlobStatusKind = "invalid"
	StatusPermanent   BlobStatusKind = "permanent"
	StatusDeletable   BlobStatusKind = "deletable"
)

// DeletableCounts counts the live deletable objects of a blob ID.
type DeletableCounts struct {
	Total     uint32 `json:"count_deletable_total"`
	Certified uint32 `json:"count_deletable_certified"`
}

// BlobStatus is Walrus's status of a blob ID over all its live objects: Invalid if marked
// invalid; Permanent if a live permanent object exists (with the latest end epoch, preferring
// certified ones); Deletable if only deletable objects live; Nonexistent otherwise.
type BlobStatus struct {
	Status      BlobStatusKind `json:"status"`
	BlobID      blob.ID        `json:"blob_id"`
	EndEpoch    uint32         `json:"end_epoch,omitempty"`
	IsCertified bool           `json:"is_certified,omitempty"`
	// ObjectID is the permanent object the status describes.
	ObjectID              ObjectID        `json:"object_id,omitzero"`
	InitialCertifiedEpoch *uint32         `json:"initial_certified_epoch,omitempty"`
	DeletableCounts       DeletableCounts `json:"deletable_counts"`
	InvalidEpoch          uint32          `json:"invalid_epoch,omitempty"`
}

// InvalidBlob is a blob ID marked invalid, with the epoch it was marked in.
type InvalidBlob struct {
	BlobID blob.ID `json:"blob_id"`
	Epoch  uint32  `json:"epoch"`
}

// StatePage is one page of the listing of the state's blob objects and invalid blob IDs
// (PathState): what a follower that fell behind the retained events rebuilds its view from.
// See the package documentation for the catch-up contract.
type StatePage struct {
	// EventSeq is the number of events the state had emitted when the page was read: the
	// page reflects every event before it and none after.
	EventSeq uint64 `json:"event_seq"`
	Height   uint64 `json:"height"`
	Epoch    uint32 `json:"epoch"`
	// Blobs are blob objects, live or in their grace epoch after expiry.
	Blobs   []Blob        `json:"blobs"`
	Invalid []InvalidBlob `json:"invalid"`
	// Next is the cursor of the following page; empty after the last.
	Next string `json:"next,omitempty"`
}

// MaxStatePageLimit bounds the limit of a PathState request.
const MaxStatePageLimit = 10000

// TxResult is the outcome of one transaction in a block.
type TxResult struct {
	Hash Hash `json:"hash"`
	// Code is "" when the transaction succeeded, else the stable code of its error (Code*).
	Code    string     `json:"code,omitempty"`
	Error   string     `json:"error,omitempty"`
	Events  []Event    `json:"events"`
	Created []ObjectID `json:"created,omitempty"`
}

// OK reports whether the transaction succeeded.
func (r *TxResult) OK() bool { return r.Code == "" }

// Included is a transaction's outcome with the block that included it: the body of a
// successful POST /v1/transactions.
type Included struct {
	Height uint64 `json:"height"`
	TimeMs int64  `json:"time_ms"`
	TxResult
}

// SubmitResponse is the former name of Included.
type SubmitResponse = Included
