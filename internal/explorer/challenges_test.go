package explorer

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	cpapi "github.com/floelabs/floe/api/controlplane"
)

// The control plane's challenge rounds and accountability reach the nodes and the overview:
// each node's status in the latest round, its record, the network's totals; a control plane
// that does not answer the queries leaves them unknown.
func TestChallengesShown(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	snap := hostileSnapshot(now)
	a, b := cpapi.ObjectID{1}, cpapi.ObjectID{2}
	snap.Nodes[0].ID, snap.Nodes[1].ID = a.String(), b.String()
	seed := cpapi.Hash{9}
	acc := &accountability{
		rounds: &cpapi.ChallengeEpoch{Epoch: 3, Rounds: []cpapi.ChallengeRound{
			{Round: 0, Seed: &seed, EligibleBlobs: 4, Nodes: []cpapi.NodeChallenge{{NodeID: a, Status: cpapi.ChallengePassed}, {NodeID: b, Status: cpapi.ChallengePassed}}},
			{Round: 1, Seed: &seed, EligibleBlobs: 5, Nodes: []cpapi.NodeChallenge{{NodeID: a, Status: cpapi.ChallengePassed}, {NodeID: b, Status: cpapi.ChallengeFailed}}},
		}},
		report: &cpapi.AccountabilityReport{Epoch: 3, RewardPool: 1000, RewardsBurnt: 40, StakeSlashed: 7, Nodes: []cpapi.Accountability{
			{NodeID: a, RoundsPassed: 6, RoundsMissed: 3, RewardsEarned: 300, RewardsHeld: 25},
			{NodeID: b, RoundsPassed: 4, RoundsFailed: 2, EpochsFailed: 1, ConsecutiveFailedEpochs: 1, RewardsWithheld: 40, Slashed: 7, Slashings: 1},
		}},
	}
	snap.Chain.ChallengeRounds, snap.Chain.ChallengeSamples, snap.Chain.SlashAfterFailedEpochs, snap.Chain.SlashBasisPoints, snap.Chain.ExcludeAfterMissedEpochs = 2, 3, 1, 100, 64
	snap.Chain.RewardPool, snap.Chain.RewardsBurnt, snap.Chain.StakeSlashed = 1000, 40, 7
	acc.fill(snap.Chain)
	acc.annotate(snap.Nodes)
	if len(snap.Chain.Rounds) != 2 || snap.Chain.Rounds[1].Passed != 1 || snap.Chain.Rounds[1].Failed != 1 || snap.Chain.Rounds[1].Blobs != 5 {
		t.Fatalf("rounds: %+v", snap.Chain.Rounds)
	}
	ca, cb := snap.Nodes[0].Challenges, snap.Nodes[1].Challenges
	if ca == nil || cb == nil || ca.Status != "passed" || cb.Status != "failed" || cb.Round != 1 || cb.RoundsFailed != 2 || cb.Slashed != 7 || ca.RewardsEarned != 300 ||
		ca.RoundsMissed != 3 || ca.RewardsHeld != 25 {
		t.Fatalf("node records: %+v %+v", ca, cb)
	}

	pg, err := newPages("/explorer")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := pg.render(&out, "overview", &page{Title: "x", Now: now, Snap: snap, Charts: charts([]Point{nanPoint(now)})}); err != nil {
		t.Fatal(err)
	}
	html := out.String()
	for _, want := range []string{`<b id="rewards-burnt">0.00000004 FLOE</b>`, `<b id="stake-slashed">0.000000007 FLOE</b>`, "round 1: 1 passed, 1 failed, 0 open (5 blobs sampled)",
		`<span class="badge down" title="round 1">failed</span>`, "4 passed, 2 failed", "6 passed, 0 failed, 3 missed", `<div class="muted">held 0.000000025 FLOE</div>`, `<span class="badge up" title="round 1">passed</span>`,
		"100 bps of stake slashed after 1 failed epochs in a row", "a node that misses every round of 64 epochs in a row leaves the committee"} {
		if !strings.Contains(html, want) {
			t.Errorf("overview lacks %q", want)
		}
	}

	// Unanswered queries: unknown, and said so.
	snap = hostileSnapshot(now)
	snap.Chain.ChallengeRounds = 2
	none := &accountability{roundsErr: errors.New("404 no route"), reportErr: errors.New("404 no route")}
	none.fill(snap.Chain)
	none.annotate(snap.Nodes)
	if snap.Nodes[0].Challenges != nil || snap.Chain.ChallengeError == "" {
		t.Fatalf("unknown challenges: %+v %q", snap.Nodes[0].Challenges, snap.Chain.ChallengeError)
	}
	out.Reset()
	if err := pg.render(&out, "overview", &page{Title: "x", Now: now, Snap: snap, Charts: charts([]Point{nanPoint(now)})}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "challenge query: 404 no route") || !strings.Contains(out.String(), `<span class="muted">unknown</span>`) {
		t.Errorf("the overview does not say the challenges are unknown")
	}
}
