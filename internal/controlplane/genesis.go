package controlplane

import (
	"errors"
	"fmt"

	"github.com/floelabs/floe/internal/crypto"
	"github.com/floelabs/floe/internal/protocol"
	"github.com/floelabs/floe/redstuff"
)

// Params are the system parameters fixed at genesis.
type Params struct {
	ChainID          string `json:"chain_id"`
	NShards          int    `json:"n_shards"`
	EpochDurationMs  int64  `json:"epoch_duration_ms"`
	MaxEpochsAhead   uint32 `json:"max_epochs_ahead"`
	MinCommitteeSize int    `json:"min_committee_size"`
	MaxCommitteeSize int    `json:"max_committee_size"`
	MinStake         uint64 `json:"min_stake"`
	// Storage challenges (challenge.go): ChallengeRounds rounds per epoch (0: none), each
	// sampling ChallengeSamples symbols per node. A node that failed challenges in
	// SlashAfterFailedEpochs epochs in a row (0: never) loses SlashBasisPoints of its stake
	// and is left out of the next committee. A node that missed (proved nothing, failed
	// nothing) every round of ExcludeAfterMissedEpochs epochs in a row (0: never) is left out
	// of the next committee, not slashed.
	ChallengeRounds          int    `json:"challenge_rounds,omitempty"`
	ChallengeSamples         int    `json:"challenge_samples,omitempty"`
	SlashAfterFailedEpochs   uint32 `json:"slash_after_failed_epochs,omitempty"`
	SlashBasisPoints         uint16 `json:"slash_basis_points,omitempty"`
	ExcludeAfterMissedEpochs uint32 `json:"exclude_after_missed_epochs,omitempty"`
}

// GenesisBalance is an initial balance.
type GenesisBalance struct {
	Address Address `json:"address"`
	Amount  uint64  `json:"amount"`
}

// GenesisNode is a storage node present at genesis with its initial (minted) stake, owned by
// Owner. ProofOfPossession is for epoch 0.
type GenesisNode struct {
	Owner             Address             `json:"owner"`
	Name              string              `json:"name"`
	NetworkAddress    string              `json:"network_address"`
	NetworkPublicKey  []byte              `json:"network_public_key"`
	BLSPublicKey      crypto.BLSPublicKey `json:"bls_public_key"`
	ProofOfPossession crypto.BLSSignature `json:"proof_of_possession"`
	Commission        uint16              `json:"commission"`
	Stake             uint64              `json:"stake"`
	StoragePrice      uint64              `json:"storage_price"`
	WritePrice        uint64              `json:"write_price"`
	Capacity          uint64              `json:"capacity"`
	// ValidatorKey is the node's CometBFT validator key (Ed25519, 32 bytes), if any.
	ValidatorKey []byte `json:"validator_key,omitempty"`
}

// Genesis is the initial state.
type Genesis struct {
	Params      Params           `json:"params"`
	GenesisTime int64            `json:"genesis_time_ms"`
	Balances    []GenesisBalance `json:"balances"`
	Nodes       []GenesisNode    `json:"nodes,omitempty"`
	// Validators are the CometBFT genesis validators (`floe chain init` lists them): they run
	// the replicated control plane until committee members with validator keys hold a quorum
	// of the shards (validators.go).
	Validators []GenesisValidator `json:"validators,omitempty"`
}

// DefaultParams are devnet parameters: 1000 shards, one-hour epochs, 53 epochs ahead, one
// challenge round of 100 samples per node per epoch, 10% of the stake slashed after two
// failed epochs in a row.
func DefaultParams() Params {
	return Params{
		ChainID:                "floe-devnet",
		NShards:                1000,
		EpochDurationMs:        3600_000,
		MaxEpochsAhead:         53,
		MinCommitteeSize:       1,
		MaxCommitteeSize:       150,
		MinStake:               1,
		ChallengeRounds:        1,
		ChallengeSamples:       DefaultChallengeSamples,
		SlashAfterFailedEpochs: 2,
		SlashBasisPoints:       1000,
		// As long as a missed epoch's reward is held: a node silent that long earned nothing
		// and holds shards the network cannot count on.
		ExcludeAfterMissedEpochs: missedHoldEpochs,
	}
}

// ErrGenesis is returned for an invalid genesis.
var ErrGenesis = errors.New("controlplane: invalid genesis")

// Validate checks the parameters.
func (p Params) Validate() error {
	if p.ChainID == "" || len(p.ChainID) > 64 {
		return fmt.Errorf("%w: chain ID must be 1..64 bytes", ErrGenesis)
	}
	if _, err := redstuff.NewParams(p.NShards); err != nil {
		return fmt.Errorf("%w: %w", ErrGenesis, err)
	}
	if p.EpochDurationMs <= 0 {
		return fmt.Errorf("%w: epoch duration must be positive", ErrGenesis)
	}
	if p.MaxEpochsAhead == 0 || p.MaxEpochsAhead > 1000 {
		return fmt.Errorf("%w: max epochs ahead must be 1..1000", ErrGenesis)
	}
	if p.MinCommitteeSize < 1 || p.MaxCommitteeSize < p.MinCommitteeSize || p.MaxCommitteeSize > p.NShards {
		return fmt.Errorf("%w: committee size limits %d..%d", ErrGenesis, p.MinCommitteeSize, p.MaxCommitteeSize)
	}
	return p.validateChallenges()
}

// Validate checks the genesis.
func (g *Genesis) Validate() error {
	if err := g.Params.Validate(); err != nil {
		return err
	}
	var total uint64
	for _, b := range g.Balances {
		if total+b.Amount < total {
			return fmt.Errorf("%w: balances overflow", ErrGenesis)
		}
		total += b.Amount
	}
	seen := map[ValidatorKey]bool{}
	for i, v := range g.Validators {
		if v.Power <= 0 || seen[v.PublicKey] {
			return fmt.Errorf("%w: validator %d: power must be positive and keys distinct", ErrGenesis, i)
		}
		seen[v.PublicKey] = true
	}
	for i, n := range g.Nodes {
		if len(n.ValidatorKey) != 0 && len(n.ValidatorKey) != 32 {
			return fmt.Errorf("%w: node %d: a validator key has 32 bytes", ErrGenesis, i)
		}
		if n.Stake < g.Params.MinStake {
			return fmt.Errorf("%w: node %d stake %d below the minimum %d", ErrGenesis, i, n.Stake, g.Params.MinStake)
		}
		if total+n.Stake < total {
			return fmt.Errorf("%w: stake overflows", ErrGenesis)
		}
		total += n.Stake
	}
	return nil
}

// NewGenesisNode describes a storage node for a genesis, owned by owner's account, with a
// proof of possession of blsKey for epoch 0.
func NewGenesisNode(owner *crypto.AccountKey, blsKey *crypto.BLSSecretKey, name, networkAddress string, networkPublicKey []byte, stake uint64) GenesisNode {
	return GenesisNode{
		Owner: owner.Address(), Name: name, NetworkAddress: networkAddress, NetworkPublicKey: networkPublicKey,
		BLSPublicKey: blsKey.PublicKey(), ProofOfPossession: protocol.SignProofOfPossession(blsKey, owner.Address(), 0),
		Stake: stake,
	}
}
