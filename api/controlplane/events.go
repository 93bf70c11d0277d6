package controlplane

import "github.com/floelabs/floe/blob"

// EventType names an event.
type EventType string

// Event types.
const (
	EventTransfer          EventType = "Transfer"
	EventNodeRegistered    EventType = "NodeRegistered"
	EventNodeUpdated       EventType = "NodeUpdated"
	EventVotesSet          EventType = "VotesSet"
	EventStaked            EventType = "Staked"
	EventStakeWithdrawn    EventType = "StakeWithdrawRequested"
	EventStakeReturned     EventType = "StakeReturned"
	EventRewardPaid        EventType = "RewardPaid"
	EventStorageReserved   EventType = "StorageReserved"
	EventStorageSplit      EventType = "StorageSplit"
	EventStorageFused      EventType = "StorageFused"
	EventBlobRegistered    EventType = "BlobRegistered"
	EventBlobCertified     EventType = "BlobCertified"
	EventInvalidBlobID     EventType = "InvalidBlobID"
	EventBlobExtended      EventType = "BlobExtended"
	EventBlobDeleted       EventType = "BlobDeleted"
	EventBlobAttributes    EventType = "BlobAttributesChanged"
	EventObjectTransferred EventType = "ObjectTransferred"
	EventBlobShared        EventType = "BlobShared"
	EventSharedBlobFunded  EventType = "SharedBlobFunded"
	EventEpochChangeStart  EventType = "EpochChangeStart"
	EventEpochChangeDone   EventType = "EpochChangeDone"
	EventObjectsExpired    EventType = "ObjectsExpired"
	// Storage challenges (challenge.go).
	EventChallengeRoundOpened EventType = "ChallengeRoundOpened"
	EventChallengeSeedFixed   EventType = "ChallengeSeedFixed"
	EventChallengePassed      EventType = "ChallengePassed"
	EventChallengeFailed      EventType = "ChallengeFailed"
	EventChallengeMissed      EventType = "ChallengeMissed"
	EventRewardWithheld       EventType = "RewardWithheld"
	EventNodeSlashed          EventType = "NodeSlashed"
	// EventEpochParametersSelected: the committee, prices and capacity of epoch Epoch (the
	// next one) were selected (mid-epoch, at voting end).
	EventEpochParametersSelected EventType = "EpochParametersSelected"
	// EventEpochSyncDone: member NodeID reported that it holds every shard it gained at the
	// change to epoch Epoch; Size is the shard weight that reported so far.
	EventEpochSyncDone EventType = "EpochSyncDone"
	// EventValidatorSet: node NodeID set (or cleared) its CometBFT validator key.
	EventValidatorSet EventType = "ValidatorSet"
)

// Event is one change of state, numbered by a global sequence number. Fields that do not apply
// to a type are zero and omitted from JSON.
type Event struct {
	Seq    uint64    `json:"seq"`
	Height uint64    `json:"height"`
	Type   EventType `json:"type"`
	// TxHash is the transaction that emitted the event (zero for block-level events).
	TxHash       Hash     `json:"tx_hash,omitzero"`
	Epoch        uint32   `json:"epoch"`
	BlobID       blob.ID  `json:"blob_id,omitzero"`
	ObjectID     ObjectID `json:"object_id,omitzero"`
	NodeID       ObjectID `json:"node_id,omitzero"`
	Owner        Address  `json:"owner,omitzero"`
	To           Address  `json:"to,omitzero"`
	Amount       uint64   `json:"amount,omitempty"`
	Size         uint64   `json:"size,omitempty"`
	EncodingType uint8    `json:"encoding_type,omitempty"`
	StartEpoch   uint32   `json:"start_epoch,omitempty"`
	EndEpoch     uint32   `json:"end_epoch,omitempty"`
	Deletable    bool     `json:"deletable,omitempty"`
	IsExtension  bool     `json:"is_extension,omitempty"`
	WasCertified bool     `json:"was_certified,omitempty"`
	// Round is the challenge round of the Challenge* events.
	Round uint32 `json:"round,omitempty"`
	// Forced marks an EpochChangeDone declared at the deadline without a quorum of reports.
	Forced bool `json:"forced,omitempty"`
}

// EventsResponse is a page of events; Next is the cursor for the following request.
type EventsResponse struct {
	Events []Event `json:"events"`
	Next   uint64  `json:"next"`
}
