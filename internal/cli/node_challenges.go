package cli

import (
	"fmt"
	"io"
	"strings"

	cpapi "github.com/floelabs/floe/api/controlplane"
	"github.com/floelabs/floe/client"
)

// nodeInfoOutput is `floe node info --node X --json`: the node, and its storage challenges.
type nodeInfoOutput struct {
	client.NodeInfo
	Challenges *client.NodeChallenges `json:"challenges,omitempty"`
}

// shownEpochResults is how many of a node's latest settled epochs `floe node info` prints.
const shownEpochResults = 5

// printNodeChallenges writes a node's storage-challenge lines of `floe node info` (tab
// separated, for the command's tabwriter): its totals, its rounds of the current and the
// previous epoch, and its latest settled epochs, newest first, in FLOE.
func printNodeChallenges(w io.Writer, ch *client.NodeChallenges) {
	if ch.RoundsPerEpoch == 0 {
		fmt.Fprintln(w, "challenges\toff on this network")
		return
	}
	if a := ch.Record; a != nil {
		fmt.Fprintf(w, "challenges\t%s passed, %s failed, %d missed (%s in a row); %s failed (%d in a row); rewards earned %s (%s of them paid after misses), held %s, withheld %s; stake slashed %s\n",
			plural(a.RoundsPassed, "round"), plural(a.RoundsFailed, "round"), a.RoundsMissed, plural(uint64(a.ConsecutiveMissedEpochs), "epoch"), plural(a.EpochsFailed, "epoch"),
			a.ConsecutiveFailedEpochs, humanCost(a.RewardsEarned), humanCost(a.RewardsHeldPaid), humanCost(a.RewardsHeld),
			humanCost(a.RewardsWithheld), humanCost(a.Slashed))
	} else {
		fmt.Fprintf(w, "challenges\tno settled epoch yet (%s of %d samples per epoch)\n", plural(uint64(ch.RoundsPerEpoch), "round"), ch.SamplesPerNode)
	}
	for i := len(ch.Rounds) - 1; i >= 0; i-- {
		r := ch.Rounds[i]
		fmt.Fprintf(w, "round %d.%d\t%s\n", r.Epoch, r.Round, describeRound(r, ch.Epoch))
	}
	if ch.Record == nil {
		return
	}
	recent := ch.Record.Recent
	for i := len(recent) - 1; i >= 0 && i >= len(recent)-shownEpochResults; i-- {
		fmt.Fprintf(w, "epoch %d\t%s\n", recent[i].Epoch, describeEpochResult(recent[i], ch.SamplesPerNode))
	}
}

// describeRound says where a node stands in a round of epoch r.Epoch (current is the
// network's epoch).
func describeRound(r client.ChallengeRound, current uint32) string {
	switch r.Status {
	case cpapi.ChallengeAwaitingSeed:
		return "awaiting the seed"
	case cpapi.ChallengeOpen:
		if r.Epoch < current {
			return fmt.Sprintf("pending: %d samples not yet passed when epoch %d ended; may still pass until epoch %d ends (pass attestations %d of %d shards)",
				r.Samples, r.Epoch, r.Epoch+1, r.PassWeight, r.QuorumWeight)
		}
		return fmt.Sprintf("challenged: %d samples, pass attestations %d of %d shards", r.Samples, r.PassWeight, r.QuorumWeight)
	case cpapi.ChallengePassed:
		if r.Samples == 0 {
			return "passed (nothing to prove: no blob was certified)"
		}
		return fmt.Sprintf("passed: %d samples, attested by %d shards", r.Samples, r.PassWeight)
	case cpapi.ChallengeFailed:
		return fmt.Sprintf("FAILED: %d samples, failing answer attested by %d shards", r.Samples, r.FailWeight)
	case cpapi.ChallengeMissed:
		return fmt.Sprintf("MISSED: %d samples not passed by the end of epoch %d", r.Samples, r.Epoch+1)
	case cpapi.ChallengeVoid:
		return "void (no seed: no consequence)"
	}
	return string(r.Status)
}

// describeEpochResult says how a settled epoch went for a node.
func describeEpochResult(r cpapi.EpochAccountability, samples int) string {
	rounds := r.RoundsPassed + r.RoundsFailed + r.RoundsVoid + r.RoundsPending + r.RoundsMissed
	var parts []string
	switch {
	case r.Failed:
		parts = append(parts, fmt.Sprintf("FAILED %d of %s (%d samples each)", r.RoundsFailed, plural(uint64(rounds), "round"), samples))
	case r.RoundsPending > 0:
		parts = append(parts, fmt.Sprintf("pending: %d of %s not passed yet (%d samples each)", r.RoundsPending, plural(uint64(rounds), "round"), samples))
	case r.RoundsMissed > 0:
		parts = append(parts, fmt.Sprintf("MISSED %d of %s (%d samples each)", r.RoundsMissed, plural(uint64(rounds), "round"), samples))
	case r.RoundsPassed > 0:
		parts = append(parts, fmt.Sprintf("passed %d of %s (%d samples each)", r.RoundsPassed, plural(uint64(rounds), "round"), samples))
	default:
		parts = append(parts, fmt.Sprintf("void: %s without a seed", plural(uint64(rounds), "round")))
	}
	switch {
	case r.RewardHeld > 0 && r.RoundsPending > 0:
		parts = append(parts, fmt.Sprintf("reward %s held until epoch %d ends", humanCost(r.RewardHeld), r.Epoch+1))
	case r.RewardHeld > 0:
		parts = append(parts, fmt.Sprintf("reward %s held until the node passes an epoch's rounds", humanCost(r.RewardHeld)))
	case r.RewardWithheld > 0:
		parts = append(parts, fmt.Sprintf("reward %s lost (burnt)", humanCost(r.RewardWithheld)))
	case r.Reward > 0:
		parts = append(parts, fmt.Sprintf("reward %s", humanCost(r.Reward)))
	}
	if r.Slashed > 0 {
		parts = append(parts, fmt.Sprintf("stake slashed %s", humanCost(r.Slashed)))
	}
	if r.Excluded {
		parts = append(parts, "left out of the next committee")
	}
	return strings.Join(parts, "; ")
}

// plural returns "1 round", "2 rounds".
func plural(n uint64, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
