package controlplane

import (
	cpapi "github.com/floelabs/floe/api/controlplane"
	"github.com/floelabs/floe/internal/challenge"
	"github.com/floelabs/floe/internal/protocol"
)

// ChallengeEpoch returns the challenge rounds of epoch e with every member's outcome (the
// current and the previous epoch are kept), or false if none is recorded.
func (s *State) ChallengeEpoch(e uint32) (*cpapi.ChallengeEpoch, bool) {
	c := s.d.Committees[e]
	out := &cpapi.ChallengeEpoch{Epoch: e, Rounds: []cpapi.ChallengeRound{}}
	for r := uint32(0); r < uint32(max(s.d.Params.ChallengeRounds, 0)); r++ {
		rd := s.d.Rounds[roundID(e, r)]
		if rd == nil || c == nil {
			continue
		}
		ar := cpapi.ChallengeRound{Epoch: e, Round: r, OpenedMs: rd.OpenedMs, OpenedHeight: rd.OpenedHeight,
			ShareWeight: rd.ShareWeight, QuorumWeight: quorumWeight(c.NShards), SeedHeight: rd.SeedHeight,
			EligibleBlobs: rd.Eligible, SamplesPerNode: s.d.Params.ChallengeSamples, Nodes: []cpapi.NodeChallenge{}}
		if rd.Seed != (Hash{}) {
			seed := cpapi.Hash(rd.Seed)
			ar.Seed = &seed
		}
		for _, m := range c.Members {
			if nc := s.d.Challenges[challengeID(e, r, m.NodeID)]; nc != nil {
				ar.Nodes = append(ar.Nodes, nc.api(&m, false))
			}
		}
		out.Rounds = append(out.Rounds, ar)
	}
	return out, len(out.Rounds) > 0
}

// NodeChallenge returns node's challenge in round (e, r) with its samples while it is
// challenged.
func (s *State) NodeChallenge(e, r uint32, node ObjectID) (*cpapi.NodeChallenge, bool) {
	nc := s.d.Challenges[challengeID(e, r, node)]
	c := s.d.Committees[e]
	if nc == nil || c == nil || c.MemberIndex(node) < 0 {
		return nil, false
	}
	out := nc.api(&c.Members[c.MemberIndex(node)], true)
	return &out, true
}

// quorumWeight is the least weight of n shards that is a quorum.
func quorumWeight(n int) int {
	for w := 0; w <= n; w++ {
		if protocol.Quorum.Reached(w, n) {
			return w
		}
	}
	return n
}

func (nc *NodeChallenge) api(m *Member, samples bool) cpapi.NodeChallenge {
	out := cpapi.NodeChallenge{Epoch: nc.Epoch, Round: nc.Round, NodeID: cpapi.ObjectID(nc.NodeID), Name: m.Name,
		Shards: len(m.Shards), ShareSubmitted: nc.Share != [96]byte{}, Status: cpapi.ChallengeStatus(nc.Status), PassWeight: nc.PassWeight,
		FailWeight: nc.FailWeight, DecidedHeight: nc.DecidedHeight}
	if samples && len(nc.Samples) > 0 {
		ss, err := challenge.Unpack(nc.Samples)
		if err != nil {
			panic(err) // unreachable: the state machine packed them
		}
		out.Samples = make([]cpapi.ChallengeSample, len(ss))
		for i, x := range ss {
			out.Samples[i] = cpapi.ChallengeSample{BlobID: x.BlobID, Shard: x.Shard, Axis: x.Axis.String(), Symbol: x.Symbol}
		}
	}
	return out
}

// NodeAccountability returns a node's challenge record, or false if it has none.
func (s *State) NodeAccountability(node ObjectID) (cpapi.Accountability, bool) {
	a := s.d.Accountability[node]
	if a == nil {
		return cpapi.Accountability{}, false
	}
	return s.accountabilityAPI(a), true
}

// AccountabilityReport returns every node's challenge record (sorted by node ID) and the
// network's totals.
func (s *State) AccountabilityReport() cpapi.AccountabilityReport {
	out := cpapi.AccountabilityReport{Epoch: s.d.Epoch, RewardPool: s.d.Rewards[s.d.Epoch], Nodes: []cpapi.Accountability{}}
	if t := s.d.ChallengeTotals; t != nil {
		out.RewardsBurnt, out.StakeSlashed = t.RewardsBurnt, t.StakeSlashed
	}
	for _, id := range sortedIDs(s.d.Accountability) {
		out.Nodes = append(out.Nodes, s.accountabilityAPI(s.d.Accountability[id]))
	}
	return out
}

func (s *State) accountabilityAPI(a *Accountability) cpapi.Accountability {
	out := cpapi.Accountability{NodeID: cpapi.ObjectID(a.NodeID), RoundsPassed: a.RoundsPassed, RoundsFailed: a.RoundsFailed, RoundsMissed: a.RoundsMissed,
		EpochsFailed: a.EpochsFailed, ConsecutiveFailedEpochs: a.ConsecutiveFailed, RewardsEarned: a.RewardsEarned,
		ConsecutiveMissedEpochs: a.ConsecutiveMissed,
		RewardsHeldPaid:         a.HeldPaid, RewardsWithheld: a.RewardsWithheld, Slashed: a.Slashed, Slashings: a.Slashings, ExcludedEpoch: a.ExcludedEpoch,
		Recent: make([]cpapi.EpochAccountability, len(a.Recent))}
	for _, h := range a.MissedHeld {
		out.RewardsHeld += h.Amount
	}
	for _, r := range a.Recent {
		if r.RoundsPending > 0 { // held until the next epoch ends (a missed epoch's is in MissedHeld)
			out.RewardsHeld += r.RewardHeld
		}
	}
	if n := s.d.Nodes[a.NodeID]; n != nil {
		out.Name = n.Name
	}
	for i, r := range a.Recent {
		out.Recent[i] = cpapi.EpochAccountability{Epoch: r.Epoch, RoundsPassed: r.RoundsPassed, RoundsFailed: r.RoundsFailed,
			RoundsVoid: r.RoundsVoid, RoundsMissed: r.RoundsMissed, RoundsPending: r.RoundsPending, RewardHeld: r.RewardHeld, Failed: r.Failed, Reward: r.Reward, RewardWithheld: r.RewardWithheld,
			Slashed: r.Slashed, Excluded: r.Excluded}
	}
	return out
}
