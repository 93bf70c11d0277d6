package controlplane

import "github.com/floelabs/floe/blob"

// Storage challenges (internal/challenge describes the protocol and its arithmetic).
//
//	GET /v1/challenges/{epoch|current}               ChallengeEpoch: the rounds of an epoch (the
//	                                                 current and the previous one are kept)
//	GET /v1/challenges/{epoch}/{round}/{node_id}     NodeChallenge with its samples
//	GET /v1/accountability                           AccountabilityReport: rewards, withheld
//	                                                 rewards and slashing, per node
//	GET /v1/accountability/{node_id}                 Accountability of one node
const (
	PathChallenges     = "/v1/challenges/"
	PathAccountability = "/v1/accountability"
)

// ChallengeShareOp records a committee member's share of a challenge round's seed: its BLS
// signature over the ChallengeSeedShare message of (Epoch, Round). Any account may send it;
// the share is the proof.
type ChallengeShareOp struct {
	Epoch  uint32       `json:"epoch"`
	Round  uint32       `json:"round"`
	NodeID ObjectID     `json:"node_id"`
	Share  BLSSignature `json:"share"`
}

// ChallengeCertificateOp adds attestations (an aggregate signature of some committee members
// over a ChallengeAttestation message) to a node's challenge: pass attestations of a quorum of
// shards make it pass, fail attestations of a validity threshold make it fail. Any account may
// send it; each transaction must add at least one signer.
type ChallengeCertificateOp struct {
	Certificate Certificate `json:"certificate"`
}

// ChallengeStatus is where a node stands in a round.
type ChallengeStatus string

// Challenge statuses.
const (
	// ChallengeAwaitingSeed: the round's seed is not fixed yet.
	ChallengeAwaitingSeed ChallengeStatus = "awaiting_seed"
	// ChallengeOpen: the node has its samples and has not passed or failed yet.
	ChallengeOpen ChallengeStatus = "challenged"
	// ChallengePassed: a quorum of shards attested that the node proved every sample.
	ChallengePassed ChallengeStatus = "passed"
	// ChallengeFailed: a validity threshold of shards attested a failing answer.
	ChallengeFailed ChallengeStatus = "failed"
	// ChallengeMissed: the round was still undecided (neither a pass nor a fail certificate)
	// when the epoch after the round's ended (a challenge still open when its own epoch ends
	// stays open, pending, through the next one). Nothing attributes a fault to the node (it,
	// or its verifiers, may have been down, overloaded or recovering), so a miss never counts
	// towards slashing or exclusion. The epoch's reward is held until the node has an epoch
	// whose rounds it all passed (then paid), and burnt only if the node fails a round first
	// (a fail certificate) or has no such epoch for 64 epochs.
	ChallengeMissed ChallengeStatus = "missed"
	// ChallengeVoid: the epoch ended before the round's seed was fixed; counts for nothing.
	ChallengeVoid ChallengeStatus = "void"
)

// Failed reports whether the node did not pass the round (it failed or missed it).
func (s ChallengeStatus) Failed() bool { return s == ChallengeFailed || s == ChallengeMissed }

// ChallengeSample is one challenged symbol: symbol Symbol of the expansion of the Axis
// ("primary" or "secondary") sliver that shard Shard stores for BlobID.
type ChallengeSample struct {
	BlobID blob.ID `json:"blob_id"`
	Shard  uint16  `json:"shard"`
	Axis   string  `json:"axis"`
	Symbol uint16  `json:"symbol"`
}

// NodeChallenge is a committee member's challenge in a round.
type NodeChallenge struct {
	Epoch  uint32   `json:"epoch"`
	Round  uint32   `json:"round"`
	NodeID ObjectID `json:"node_id"`
	Name   string   `json:"name"`
	// Shards is the member's weight in the round's committee.
	Shards         int             `json:"shards"`
	ShareSubmitted bool            `json:"share_submitted"`
	Status         ChallengeStatus `json:"status"`
	// PassWeight and FailWeight are the shards of the members whose attestations are recorded.
	PassWeight    int    `json:"pass_weight"`
	FailWeight    int    `json:"fail_weight"`
	DecidedHeight uint64 `json:"decided_height,omitempty"`
	// Samples are listed by the single-node query while the node is challenged.
	Samples []ChallengeSample `json:"samples,omitempty"`
}

// ChallengeRound is a round with every member's outcome.
type ChallengeRound struct {
	Epoch        uint32 `json:"epoch"`
	Round        uint32 `json:"round"`
	OpenedMs     int64  `json:"opened_ms"`
	OpenedHeight uint64 `json:"opened_height"`
	// ShareWeight is the shards of the members whose seed shares are recorded; the seed is
	// fixed once it reaches QuorumWeight.
	ShareWeight  int `json:"share_weight"`
	QuorumWeight int `json:"quorum_weight"`
	// Seed is set once fixed, with the block that fixed it, the number of blobs sampled from
	// and the samples per node.
	Seed           *Hash           `json:"seed,omitempty"`
	SeedHeight     uint64          `json:"seed_height,omitempty"`
	EligibleBlobs  int             `json:"eligible_blobs"`
	SamplesPerNode int             `json:"samples_per_node"`
	Nodes          []NodeChallenge `json:"nodes"`
}

// ChallengeEpoch lists an epoch's rounds.
type ChallengeEpoch struct {
	Epoch  uint32           `json:"epoch"`
	Rounds []ChallengeRound `json:"rounds"`
}

// EpochAccountability is a node's challenge record for one epoch, written when the epoch ends.
type EpochAccountability struct {
	Epoch        uint32 `json:"epoch"`
	RoundsPassed int    `json:"rounds_passed"`
	RoundsFailed int    `json:"rounds_failed"`
	RoundsVoid   int    `json:"rounds_void"`
	// RoundsMissed: rounds still undecided when the grace epoch ended (see ChallengeMissed).
	RoundsMissed int `json:"rounds_missed,omitempty"`
	// RoundsPending are rounds the node had not passed when the epoch ended: it may answer
	// them until the next epoch ends, and its reward for the epoch (RewardHeld) is held until
	// then (paid if it passes them, burnt if it fails one, held on if it misses one).
	// RewardHeld is also the reward of an epoch with a missed round while it is held (see
	// Accountability.RewardsHeld); it is 0 again once paid (Reward) or burnt (RewardWithheld).
	RoundsPending int    `json:"rounds_pending,omitempty"`
	RewardHeld    uint64 `json:"reward_held,omitempty"`
	// Failed: a fail certificate (a validity threshold of attestations over a failing answer
	// of the node's) decided a round, so its reward for the epoch was withheld and the epoch
	// counts towards slashing. A missed round holds the reward instead, and is not a failure.
	Failed         bool   `json:"failed"`
	Reward         uint64 `json:"reward"`
	RewardWithheld uint64 `json:"reward_withheld"`
	Slashed        uint64 `json:"slashed"`
	// Excluded: the node was slashed and left out of the next epoch's committee.
	Excluded bool `json:"excluded,omitempty"`
}

// Accountability is a node's challenge record since genesis: rounds passed and failed,
// rewards paid and withheld (burnt), stake slashed (burnt), and its latest epochs.
type Accountability struct {
	NodeID       ObjectID `json:"node_id"`
	Name         string   `json:"name"`
	RoundsPassed uint64   `json:"rounds_passed"`
	RoundsFailed uint64   `json:"rounds_failed"`
	RoundsMissed uint64   `json:"rounds_missed,omitempty"`
	// RewardsHeld are the node's rewards held now: of epochs with a round still pending, and
	// of epochs with a missed round, until the node has an epoch whose rounds it all passed
	// (then paid) or fails a round (then burnt), at most 64 epochs (then burnt).
	// RewardsHeldPaid are the rewards of missed epochs paid so since genesis (they are in
	// RewardsEarned too).
	RewardsHeld             uint64 `json:"rewards_held,omitempty"`
	RewardsHeldPaid         uint64 `json:"rewards_held_paid,omitempty"`
	EpochsFailed            uint64 `json:"epochs_failed"`
	ConsecutiveFailedEpochs uint32 `json:"consecutive_failed_epochs"`
	// ConsecutiveMissedEpochs are the epochs in a row whose rounds the node missed (passed or
	// failed none); at the network's exclude_after_missed_epochs it leaves the committee.
	ConsecutiveMissedEpochs uint32                `json:"consecutive_missed_epochs,omitempty"`
	RewardsEarned           uint64                `json:"rewards_earned"`
	RewardsWithheld         uint64                `json:"rewards_withheld"`
	Slashed                 uint64                `json:"slashed"`
	Slashings               uint32                `json:"slashings"`
	ExcludedEpoch           uint32                `json:"excluded_epoch,omitempty"`
	Recent                  []EpochAccountability `json:"recent"`
}

// AccountabilityReport is every node's record, with the network's totals.
type AccountabilityReport struct {
	Epoch        uint32           `json:"epoch"`
	RewardPool   uint64           `json:"reward_pool"`
	RewardsBurnt uint64           `json:"rewards_burnt"`
	StakeSlashed uint64           `json:"stake_slashed"`
	Nodes        []Accountability `json:"nodes"`
}
