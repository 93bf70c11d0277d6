package explorer

import (
	"time"

	cpapi "github.com/floelabs/floe/api/controlplane"
)

// accountability is what the control plane's challenge and accountability queries answered
// in one sample (either may have failed: an older control plane has neither).
type accountability struct {
	rounds    *cpapi.ChallengeEpoch
	roundsErr error
	report    *cpapi.AccountabilityReport
	reportErr error
}

// fill records the current epoch's rounds in c, or why they are unknown.
func (a *accountability) fill(c *Chain) {
	if a.roundsErr != nil {
		c.ChallengeError = a.roundsErr.Error()
		return
	}
	c.Rounds = []RoundStatus{}
	for _, r := range a.rounds.Rounds {
		rs := RoundStatus{Round: r.Round, Opened: time.UnixMilli(r.OpenedMs), SeedFixed: r.Seed != nil,
			ShareWeight: r.ShareWeight, QuorumWeight: r.QuorumWeight, Blobs: r.EligibleBlobs}
		for _, n := range r.Nodes {
			switch {
			case n.Status == cpapi.ChallengePassed:
				rs.Passed++
			case n.Status.Failed():
				rs.Failed++
			case n.Status == cpapi.ChallengeOpen || n.Status == cpapi.ChallengeAwaitingSeed:
				rs.Open++
			}
		}
		c.Rounds = append(c.Rounds, rs)
	}
}

// annotate gives each node its challenge record: its status in the latest round and its
// accountability since genesis. Nodes the control plane does not mention keep nil.
func (a *accountability) annotate(nodes []Node) {
	byID := map[string]*Node{}
	for i := range nodes {
		byID[nodes[i].ID] = &nodes[i]
	}
	get := func(id cpapi.ObjectID) *Challenges {
		n := byID[id.String()]
		if n == nil {
			return nil
		}
		if n.Challenges == nil {
			n.Challenges = &Challenges{}
		}
		return n.Challenges
	}
	if a.reportErr == nil && a.report != nil {
		for _, r := range a.report.Nodes {
			if c := get(r.NodeID); c != nil {
				c.RoundsPassed, c.RoundsFailed, c.EpochsFailed, c.FailedInARow = r.RoundsPassed, r.RoundsFailed, r.EpochsFailed, r.ConsecutiveFailedEpochs
				c.RewardsEarned, c.RewardsWithheld, c.Slashed, c.Slashings, c.ExcludedEpoch = r.RewardsEarned, r.RewardsWithheld, r.Slashed, r.Slashings, r.ExcludedEpoch
				c.RoundsMissed, c.RewardsHeld = r.RoundsMissed, r.RewardsHeld
			}
		}
	}
	if a.roundsErr == nil && a.rounds != nil && len(a.rounds.Rounds) > 0 {
		last := a.rounds.Rounds[len(a.rounds.Rounds)-1]
		for _, n := range last.Nodes {
			if c := get(n.NodeID); c != nil {
				c.Round, c.Status = last.Round, string(n.Status)
			}
		}
	}
}
