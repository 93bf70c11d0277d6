package cli

import (
	"fmt"
	"io"
	"text/tabwriter"

	cpapi "github.com/floelabs/floe/api/controlplane"
)

// infoChallengeOutput is `floe info challenges` (Floe's; Walrus has no storage challenges, so
// `info all` keeps Walrus's shape without it):
// the challenge parameters, the network's rewards burnt and stake slashed, and every node's
// record.
type infoChallengeOutput struct {
	RoundsPerEpoch int                    `json:"roundsPerEpoch"`
	SamplesPerNode int                    `json:"samplesPerNode"`
	RewardPool     uint64                 `json:"rewardPool"`
	RewardsBurnt   uint64                 `json:"rewardsBurnt"`
	StakeSlashed   uint64                 `json:"stakeSlashed"`
	Nodes          []cpapi.Accountability `json:"nodes"`
}

func (d *infoData) challengeInfo() *infoChallengeOutput {
	out := &infoChallengeOutput{RoundsPerEpoch: d.info.Params.ChallengeRounds, SamplesPerNode: d.info.Params.ChallengeSamples,
		Nodes: []cpapi.Accountability{}}
	if d.acc != nil {
		out.RewardPool, out.RewardsBurnt, out.StakeSlashed, out.Nodes = d.acc.RewardPool, d.acc.RewardsBurnt, d.acc.StakeSlashed, d.acc.Nodes
	}
	return out
}

func printChallenges(w io.Writer, c *infoChallengeOutput) {
	fmt.Fprintf(w, "\nStorage challenges\nRounds per epoch: %d\nSamples per node per round: %d\nRewards burnt: %s\nStake slashed: %s\n",
		c.RoundsPerEpoch, c.SamplesPerNode, humanCost(c.RewardsBurnt), humanCost(c.StakeSlashed))
	if len(c.Nodes) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "node\trounds passed\trounds failed\trounds missed\tepochs failed\tin a row\trewards earned\trewards held\trewards withheld\tslashed")
	for _, a := range c.Nodes {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\n", a.Name, a.RoundsPassed, a.RoundsFailed, a.RoundsMissed, a.EpochsFailed,
			a.ConsecutiveFailedEpochs, humanCost(a.RewardsEarned), humanCost(a.RewardsHeld), humanCost(a.RewardsWithheld), humanCost(a.Slashed))
	}
	tw.Flush()
}
