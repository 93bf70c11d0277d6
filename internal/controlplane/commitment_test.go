package controlplane

import (
	"reflect"
	"testing"
)

// fullHash recomputes the app hash of s from scratch, without its incremental commitment.
func fullHash(t testing.TB, s *State) Hash {
	t.Helper()
	s.commitDirty()
	c := *s // shares the records, which rebuild only reads
	c.rebuild()
	return c.appHash()
}

// restoredHash is the app hash of s after a snapshot and a restore.
func restoredHash(t testing.TB, s *State) Hash {
	t.Helper()
	snap, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	r, err := Restore(snap)
	if err != nil {
		t.Fatal(err)
	}
	return r.Hash()
}

// TestIncrementalCommitmentMatchesRebuild runs a random workload touching every kind of record
// (transfers, reservations, registrations, certifications, deletions, stakes, epoch changes
// with rewards and expiries) and checks after every block that the incrementally maintained
// app hash equals the one rebuilt from the whole state: a mutation that forgot to mark its
// record would make them differ.
func TestIncrementalCommitmentMatchesRebuild(t *testing.T) {
	h := newHarness(t)
	if got, want := h.s.Hash(), fullHash(t, h.s); got != want {
		t.Fatalf("genesis: incremental %s, rebuilt %s", got, want)
	}
	var prev Hash
	for b, hash := range randomBlocksEach(t, h, 7, 150, func(i int) {
		if got, want := h.s.Hash(), fullHash(t, h.s); got != want {
			t.Fatalf("block %d: incremental %s, rebuilt %s", i, got, want)
		}
		blobs, storage := h.s.blobIdx, h.s.storageIdx
		h.s.rebuildIndexes()
		if !reflect.DeepEqual(blobs, h.s.blobIdx) || !reflect.DeepEqual(storage, h.s.storageIdx) {
			t.Fatalf("block %d: the owner and end-epoch indexes differ from rebuilt ones", i)
		}
	}) {
		if hash == prev {
			t.Fatalf("block %d did not change the app hash", b)
		}
		prev = hash
	}
	if h.s.Epoch() < 4 {
		t.Fatalf("the workload reached epoch %d only", h.s.Epoch())
	}
	if got, want := h.s.Hash(), restoredHash(t, h.s); got != want {
		t.Fatalf("after the workload: %s, restored %s", got, want)
	}
}

// TestCommitmentCoversEveryTable changes one record of each kind and checks that the app
// hash changes: every table is committed to.
func TestCommitmentCoversEveryTable(t *testing.T) {
	h := newHarness(t)
	obj, bid := h.register(h.alice, 1000, 1, 2, true)
	base := h.s.Hash()
	var nodeID ObjectID
	for id := range h.s.d.Nodes {
		nodeID = id
		break
	}
	var stakeID ObjectID
	for id := range h.s.d.Stakes {
		stakeID = id
		break
	}
	b := h.s.d.Blobs[obj]
	mutations := map[string]func(){
		"account":   func() { h.s.d.Accounts[h.alice.Address()].Balance++; h.s.touchID(tableAccount, h.alice.Address()) },
		"node":      func() { h.s.d.Nodes[nodeID].Capacity++; h.s.touchID(tableNode, nodeID) },
		"stake":     func() { h.s.d.Stakes[stakeID].Amount++; h.s.touchID(tableStake, stakeID) },
		"storage":   func() { h.s.d.Storage[ObjectID{7}] = &Storage{ID: ObjectID{7}}; h.s.touchID(tableStorage, ObjectID{7}) },
		"blob":      func() { b.Size++; h.s.touchID(tableBlob, obj) },
		"committee": func() { h.s.d.Committees[h.s.Epoch()].Capacity++; h.s.touchEpoch(tableCommittee, h.s.Epoch()) },
		"used":      func() { h.s.d.Used[h.s.Epoch()]++; h.s.touchEpoch(tableUsed, h.s.Epoch()) },
		"rewards":   func() { h.s.d.Rewards[h.s.Epoch()]++; h.s.touchEpoch(tableRewards, h.s.Epoch()) },
		"invalid":   func() { h.s.d.Invalid[bid] = 1; h.s.touchID(tableInvalid, bid) },
		"challenge round": func() {
			rd := h.s.d.Rounds[roundID(h.s.Epoch(), 0)]
			rd.ShareWeight++
			h.s.touchRound(rd.Epoch, rd.Round)
		},
		"challenge": func() {
			id := challengeID(h.s.Epoch(), 0, nodeID)
			h.s.d.Challenges[id].PassWeight++
			h.s.touchChallenge(id)
		},
		"accountability": func() { h.s.accountability(nodeID).RoundsPassed++ },
		"held reward": func() {
			a := h.s.accountability(nodeID)
			a.MissedHeld = append(a.MissedHeld, HeldReward{Epoch: 1, Amount: 1})
		},
		"challenge totals": func() { h.s.totals().RewardsBurnt++ },
		"epoch sync": func() {
			h.s.d.EpochSyncs[h.s.Epoch()].DoneShards++
			h.s.touchEpoch(tableEpochSync, h.s.Epoch())
		},
		"validator": func() {
			h.s.d.Validators[ValidatorKey{1}] = &Validator{Power: 1}
			h.s.touchID(tableValidator, ValidatorKey{1})
		},
		"scalars": func() { h.s.d.TimeMs++ },
	}
	seen := map[Hash]string{base: "base"}
	for name, m := range mutations {
		m()
		got := h.s.Hash()
		if other, dup := seen[got]; dup {
			t.Fatalf("changing the %s gives the hash of %s", name, other)
		}
		seen[got] = name
		if want := fullHash(t, h.s); got != want {
			t.Fatalf("%s: incremental %s, rebuilt %s", name, got, want)
		}
	}
}
