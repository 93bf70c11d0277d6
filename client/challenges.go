package client

import (
	"context"
	"errors"
	"fmt"

	cpapi "github.com/floelabs/floe/api/controlplane"
	"github.com/floelabs/floe/internal/controlplane/cpclient"
)

// ChallengeRound is a node's standing in one storage-challenge round.
type ChallengeRound struct {
	Epoch uint32 `json:"epoch"`
	Round uint32 `json:"round"`
	// Status is awaiting_seed, challenged (pending once its epoch ended: the node may answer
	// until the next epoch ends), passed, failed, missed or void.
	Status cpapi.ChallengeStatus `json:"status"`
	// Samples is the number of symbols the node must prove (0 before the seed, or without
	// eligible blobs).
	Samples int `json:"samples"`
	// PassWeight and FailWeight are the shards of the members that attested each verdict;
	// QuorumWeight the shards a pass needs.
	PassWeight   int `json:"pass_weight"`
	FailWeight   int `json:"fail_weight"`
	QuorumWeight int `json:"quorum_weight"`
}

// NodeChallenges is a node's storage-challenge record.
type NodeChallenges struct {
	// Epoch is the current epoch.
	Epoch          uint32 `json:"epoch"`
	RoundsPerEpoch int    `json:"rounds_per_epoch"`
	SamplesPerNode int    `json:"samples_per_node"`
	// Rounds are the node's rounds of the previous and the current epoch, oldest first.
	Rounds []ChallengeRound `json:"rounds"`
	// Record holds the node's totals since genesis and its latest settled epochs (nil before
	// its first settled epoch).
	Record *cpapi.Accountability `json:"record,omitempty"`
}

// NodeChallenges returns a node's storage-challenge rounds of the previous and the current
// epoch and its record (rounds passed and failed, rewards earned and withheld, stake slashed).
func (c *Client) NodeChallenges(ctx context.Context, nodeID ObjectID) (*NodeChallenges, error) {
	info, err := c.cp.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("client: node challenges: %w", err)
	}
	out := &NodeChallenges{Epoch: info.Epoch, RoundsPerEpoch: info.Params.ChallengeRounds,
		SamplesPerNode: info.Params.ChallengeSamples, Rounds: []ChallengeRound{}}
	id := cpapi.ObjectID(nodeID)
	for e := max(info.Epoch, 1) - 1; e <= info.Epoch; e++ {
		ep, err := c.cp.ChallengeEpoch(ctx, e)
		if errors.Is(err, cpclient.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("client: node challenges of epoch %d: %w", e, err)
		}
		for _, rd := range ep.Rounds {
			for _, nc := range rd.Nodes {
				if nc.NodeID != id {
					continue
				}
				r := ChallengeRound{Epoch: rd.Epoch, Round: rd.Round, Status: nc.Status, PassWeight: nc.PassWeight,
					FailWeight: nc.FailWeight, QuorumWeight: rd.QuorumWeight}
				if rd.Seed != nil && rd.EligibleBlobs > 0 {
					r.Samples = rd.SamplesPerNode
				}
				out.Rounds = append(out.Rounds, r)
			}
		}
	}
	acc, err := c.cp.NodeAccountability(ctx, id)
	switch {
	case errors.Is(err, cpclient.ErrNotFound):
	case err != nil:
		return nil, fmt.Errorf("client: node accountability: %w", err)
	default:
		out.Record = acc
	}
	return out, nil
}
