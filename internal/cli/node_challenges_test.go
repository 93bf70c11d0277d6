package cli

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"text/tabwriter"

	cpapi "github.com/floelabs/floe/api/controlplane"
	"github.com/floelabs/floe/client"
)

// TestNodeInfoChallengeLines is the golden shape of `floe node info`'s challenge lines: totals,
// the rounds of the current and the previous (pending) epoch, and the latest settled epochs
// newest first (at most 5), in FLOE; and the JSON object's "challenges" member.
func TestNodeInfoChallengeLines(t *testing.T) {
	ch := &client.NodeChallenges{Epoch: 9, RoundsPerEpoch: 1, SamplesPerNode: 100,
		Rounds: []client.ChallengeRound{
			{Epoch: 8, Round: 0, Status: cpapi.ChallengeOpen, Samples: 100, PassWeight: 30, QuorumWeight: 67},
			{Epoch: 9, Round: 0, Status: cpapi.ChallengePassed, Samples: 100, PassWeight: 71, QuorumWeight: 67},
		},
		Record: &cpapi.Accountability{RoundsPassed: 4, RoundsFailed: 2, RoundsMissed: 2, ConsecutiveMissedEpochs: 1, EpochsFailed: 2, ConsecutiveFailedEpochs: 0,
			RewardsEarned: 2_500_000_000, RewardsHeldPaid: 500_000_000, RewardsHeld: 1_700_000_000, RewardsWithheld: 400_000_000,
			Slashed: 10_000_000_000, Slashings: 1,
			Recent: []cpapi.EpochAccountability{
				{Epoch: 2, RoundsMissed: 1, Reward: 500_000_000}, // held, paid when epoch 3 settled passed
				{Epoch: 3, RoundsPassed: 1, Reward: 500_000_000},
				{Epoch: 4, RoundsFailed: 1, Failed: true, RewardWithheld: 200_000_000},
				{Epoch: 5, RoundsFailed: 1, Failed: true, RewardWithheld: 200_000_000, Slashed: 10_000_000_000, Excluded: true},
				{Epoch: 6, RoundsVoid: 1},
				{Epoch: 7, RoundsMissed: 1, RewardHeld: 1_000_000_000},
				{Epoch: 8, RoundsPending: 1, RewardHeld: 700_000_000},
			}},
	}
	var b bytes.Buffer
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	printNodeChallenges(tw, ch)
	tw.Flush()
	want := `challenges  4 rounds passed, 2 rounds failed, 2 missed (1 epoch in a row); 2 epochs failed (0 in a row); rewards earned 2.5 FLOE (0.5 FLOE of them paid after misses), held 1.7 FLOE, withheld 0.4 FLOE; stake slashed 10 FLOE
round 9.0   passed: 100 samples, attested by 71 shards
round 8.0   pending: 100 samples not yet passed when epoch 8 ended; may still pass until epoch 9 ends (pass attestations 30 of 67 shards)
epoch 8     pending: 1 of 1 round not passed yet (100 samples each); reward 0.7 FLOE held until epoch 9 ends
epoch 7     MISSED 1 of 1 round (100 samples each); reward 1 FLOE held until the node passes an epoch's rounds
epoch 6     void: 1 round without a seed
epoch 5     FAILED 1 of 1 round (100 samples each); reward 0.2 FLOE lost (burnt); stake slashed 10 FLOE; left out of the next committee
epoch 4     FAILED 1 of 1 round (100 samples each); reward 0.2 FLOE lost (burnt)
`
	if got := b.String(); got != want {
		t.Fatalf("challenge lines:\n%s\nwant:\n%s", got, want)
	}

	b.Reset()
	printNodeChallenges(&b, &client.NodeChallenges{Epoch: 1, RoundsPerEpoch: 1, SamplesPerNode: 100,
		Rounds: []client.ChallengeRound{{Epoch: 1, Status: cpapi.ChallengeAwaitingSeed, QuorumWeight: 7}}})
	if want := "challenges\tno settled epoch yet (1 round of 100 samples per epoch)\nround 1.0\tawaiting the seed\n"; b.String() != want {
		t.Fatalf("before any settled epoch: %q, want %q", b.String(), want)
	}
	b.Reset()
	printNodeChallenges(&b, &client.NodeChallenges{Epoch: 3})
	if want := "challenges\toff on this network\n"; b.String() != want {
		t.Fatalf("without challenges: %q, want %q", b.String(), want)
	}

	// JSON: the node's fields and a "challenges" object.
	out, err := json.Marshal(nodeInfoOutput{NodeInfo: client.NodeInfo{Name: "node-1"}, Challenges: ch})
	if err != nil {
		t.Fatal(err)
	}
	var shape map[string]json.RawMessage
	if err := json.Unmarshal(out, &shape); err != nil {
		t.Fatal(err)
	}
	var chs map[string]json.RawMessage
	if err := json.Unmarshal(shape["challenges"], &chs); err != nil || string(shape["name"]) != `"node-1"` {
		t.Fatalf("node info JSON %s: %v", out, err)
	}
	for _, k := range []string{"epoch", "rounds_per_epoch", "samples_per_node", "rounds", "record"} {
		if _, ok := chs[k]; !ok {
			t.Errorf("challenges JSON lacks %q: %s", k, shape["challenges"])
		}
	}
	if !strings.Contains(string(shape["challenges"]), `"reward_held":700000000`) {
		t.Errorf("challenges JSON lacks the held reward: %s", shape["challenges"])
	}
}
