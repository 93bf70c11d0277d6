package controlplane

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func ids(n int) []ObjectID {
	out := make([]ObjectID, n)
	for i := range out {
		out[i][0] = byte(i >> 8)
		out[i][1] = byte(i)
	}
	return out
}

func TestApportionNumbers(t *testing.T) {
	for _, tc := range []struct {
		n      int
		stakes []uint64
		want   []int
	}{
		{1000, []uint64{1, 2, 3, 4}, []int{100, 200, 300, 400}},
		{1000, []uint64{1, 1, 1}, []int{334, 333, 333}},
		{10, []uint64{40, 30, 20, 10}, []int{4, 3, 2, 1}},
		// Uncapped 2, 2, 1, 0, 5: the cap of 5 nodes on 10 shards is 4, and the 6 shards left go
		// to the others (quotas 2.4, 1.8, 1.2, 0.6).
		{10, []uint64{40, 30, 20, 10, 100}, []int{2, 2, 1, 1, 4}},
		// One node with most of the stake of 4 (uncapped 8, 1, 1, 0) gets the cap of 5.
		{10, []uint64{1000, 100, 100, 100}, []int{5, 2, 2, 1}},
		// 20 nodes: the cap is n/10; the 900 others share go 47.37 each, ties to the lower index.
		{1000, append([]uint64{1e9}, slices.Repeat([]uint64{1}, 19)...), append(append([]int{100}, slices.Repeat([]int{48}, 7)...), slices.Repeat([]int{47}, 12)...)},
		{1000, []uint64{1 << 61, 1 << 61, 1 << 62}, []int{250, 250, 500}},
		{7, []uint64{5}, []int{7}},
	} {
		got := Apportion(tc.n, tc.stakes)
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("Apportion(%d, %v) = %v, want %v", tc.n, tc.stakes, got, tc.want)
				break
			}
		}
	}
}

func TestShardCap(t *testing.T) {
	for _, tc := range []struct{ n, nodes, want int }{
		{1000, 20, 100},  // n/10 from 20 nodes
		{1000, 150, 100}, // the active set's cap
		{1000, 10, 200},  // ceil(20n / (10 nodes))
		{1000, 7, 286},
		{10, 4, 5},
		{10, 7, 3},
		{7, 1, 14},
		{5, 20, 1}, // n/10 is 0: at least ceil(n / nodes), or the shards would not fit
		{60, 30, 6},
	} {
		if got := ShardCap(tc.n, tc.nodes); got != tc.want {
			t.Errorf("ShardCap(%d, %d) = %d, want %d", tc.n, tc.nodes, got, tc.want)
		}
	}
}

// TestApportionWithinOneShard: without a quota over the cap every count is within one shard
// of its stake's quota; with one, no count exceeds the cap and the others get more than their
// quota, never less.
func TestApportionWithinOneShard(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	cappedRuns := 0
	for iter := 0; iter < 2000; iter++ {
		n := 4 + r.IntN(1000)
		k := 1 + r.IntN(50)
		stakes := make([]uint64, k)
		var total float64
		for i := range stakes {
			stakes[i] = 1 + r.Uint64N(1e12)
			if r.IntN(20) == 0 {
				stakes[i] *= 1 + r.Uint64N(100) // a few whales, for the cap
			}
			total += float64(stakes[i])
		}
		limit := ShardCap(n, k)
		counts := Apportion(n, stakes)
		capped := false
		for _, st := range stakes {
			if float64(n)*float64(st)/total > float64(limit) {
				capped = true
			}
		}
		sum := 0
		for i, c := range counts {
			sum += c
			quota := float64(n) * float64(stakes[i]) / total
			if c > limit {
				t.Fatalf("n=%d, %d nodes: %d shards over the cap %d", n, k, c, limit)
			}
			if float64(c) > quota+1+1e-6 && !capped {
				t.Fatalf("n=%d stake %d of %.0f: %d shards, quota %.3f", n, stakes[i], total, c, quota)
			}
			if float64(c) < quota-1-1e-6 && c != limit {
				t.Fatalf("n=%d stake %d of %.0f: %d shards, quota %.3f (cap %d)", n, stakes[i], total, c, quota, limit)
			}
		}
		if sum != n {
			t.Fatalf("assigned %d of %d shards", sum, n)
		}
		if capped {
			cappedRuns++
		}
	}
	if cappedRuns == 0 {
		t.Fatal("no case reached the cap")
	}
	t.Logf("%d of 2000 cases capped", cappedRuns)
}

// moved counts shards whose holder differs between two assignments.
func moved(n int, a, b map[ObjectID][]uint16) int {
	owner := make([]ObjectID, n)
	set := make([]bool, n)
	for id, shards := range a {
		for _, s := range shards {
			owner[s], set[s] = id, true
		}
	}
	m := 0
	for id, shards := range b {
		for _, s := range shards {
			if !set[s] || owner[s] != id {
				m++
			}
		}
	}
	return m
}

func checkPartition(t *testing.T, n int, a map[ObjectID][]uint16) {
	t.Helper()
	seen := make([]bool, n)
	total := 0
	for _, shards := range a {
		for _, s := range shards {
			if seen[s] {
				t.Fatalf("shard %d assigned twice", s)
			}
			seen[s] = true
			total++
		}
	}
	if total != n {
		t.Fatalf("%d of %d shards assigned", total, n)
	}
}

func TestAssignShardsMovesFew(t *testing.T) {
	const n = 1000
	members := ids(10)
	stakes := []uint64{100, 100, 100, 100, 100, 100, 100, 100, 100, 100}
	first := AssignShards(n, members, Apportion(n, stakes), nil)
	checkPartition(t, n, first)
	if s := first[members[3]]; len(s) != 100 || s[0] != 300 || s[99] != 399 {
		t.Fatalf("first assignment not consecutive: %v...", s[:3])
	}

	// One node's stake grows by 1%: 101 of 1001 -> quota 100.90, the others 99.90 each: the
	// largest remainders round every count back to 100. Nothing moves.
	stakes[0] = 101
	counts := Apportion(n, stakes)
	second := AssignShards(n, members, counts, first)
	checkPartition(t, n, second)
	if m := moved(n, first, second); m != 0 || counts[0] != 100 {
		t.Fatalf("1%% stake change moved %d shards (counts %v), want 0", m, counts)
	}
	// 5%: 105 of 1005 -> 104.48, others 99.50: node 0 gets 104, five others 100, four 99.
	stakes[0] = 105
	counts = Apportion(n, stakes)
	if counts[0] != 104 {
		t.Fatalf("counts %v", counts)
	}
	if m := moved(n, second, AssignShards(n, members, counts, second)); m != 4 {
		t.Fatalf("5%% stake change moved %d shards, want 4", m)
	}

	// A stake change of 10% on one node: 110 of 1010 -> 108.9 -> 109; others 99.0 each: the
	// 9 extra shards come one from each other node.
	stakes[0] = 110
	third := AssignShards(n, members, Apportion(n, stakes), second)
	checkPartition(t, n, third)
	if m := moved(n, second, third); m != 9 {
		t.Fatalf("10%% stake change moved %d shards, want 9", m)
	}

	// A new node with an eleventh of the stake takes 91 shards; exactly those move.
	members11 := append(append([]ObjectID(nil), members...), ObjectID{0xff})
	stakes11 := []uint64{100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100}
	c11 := Apportion(n, stakes11)
	fourth := AssignShards(n, members11, c11, third)
	checkPartition(t, n, fourth)
	if m := moved(n, third, fourth); m != c11[10] {
		t.Fatalf("joining node: moved %d, want %d", m, c11[10])
	}
	// A node leaves: only its shards move.
	fifth := AssignShards(n, members11[1:], Apportion(n, stakes11[1:]), fourth)
	checkPartition(t, n, fifth)
	if m := moved(n, fourth, fifth); m != len(fourth[members11[0]]) {
		t.Fatalf("leaving node: moved %d, want %d", m, len(fourth[members11[0]]))
	}
}

func TestAssignShardsMinimalRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const n = 300
	members := ids(12)
	stakes := make([]uint64, len(members))
	for i := range stakes {
		stakes[i] = 1 + r.Uint64N(1000)
	}
	prevCounts := Apportion(n, stakes)
	prev := AssignShards(n, members, prevCounts, nil)
	for iter := 0; iter < 200; iter++ {
		i := r.IntN(len(stakes))
		stakes[i] = 1 + r.Uint64N(1000)
		counts := Apportion(n, stakes)
		next := AssignShards(n, members, counts, prev)
		checkPartition(t, n, next)
		// The minimum number of moves is the total growth.
		lower := 0
		for k := range counts {
			if d := counts[k] - prevCounts[k]; d > 0 {
				lower += d
			}
		}
		if m := moved(n, prev, next); m != lower {
			t.Fatalf("moved %d shards, the minimum is %d", m, lower)
		}
		prev, prevCounts = next, counts
	}
}
