package challenge

import (
	"encoding/binary"

	"golang.org/x/crypto/blake2b"
)

// verifierDomain separates the verifier PRF's inputs from every other Blake2b use.
const verifierDomain = "floe-challenge-verifiers-v1"

// DefaultVerifierSlots is the default number of verifier slots per answer (see Verifiers).
const DefaultVerifierSlots = 200

// Verifiers returns the slots shards of a node's verifier sample in a round: for
// k = 0..slots-1,
//
//	v_k = Blake2b-256("floe-challenge-verifiers-v1" || seed || node || u32_le(k))
//
// picks a shard below nShards uniformly and independently (v_k[0:8], as Draw's picks): each
// slot belongs to the member holding that shard. The node's answer needs pass attestations of
// the members holding more than half of the slots (PassSlots); members holding less than a
// third of the shards hold more than half of the slots with probability
// P[Binomial(slots, 1/3) > slots/2] (4.1e-7 at 200 slots; README, Storage challenges). Nobody
// knows a node's verifiers before the seed.
func Verifiers(seed, node [32]byte, slots, nShards int) []uint16 {
	if slots <= 0 || nShards <= 0 {
		return nil
	}
	out := make([]uint16, slots)
	buf := make([]byte, 0, len(verifierDomain)+32+32+4)
	buf = append(buf, verifierDomain...)
	buf = append(buf, seed[:]...)
	buf = append(buf, node[:]...)
	base := len(buf)
	for k := range out {
		h := blake2b.Sum256(binary.LittleEndian.AppendUint32(buf[:base], uint32(k)))
		out[k] = uint16(pick(h[0:8], nShards))
	}
	return out
}

// ExpectedContacts returns how many distinct members a prover sends its answer to, on average
// over trials seeds, when it contacts its verifiers (the holders of its slots, in slot order)
// until those contacted hold PassSlots(slots): the figure of the sampled answer's bandwidth.
// owner maps a shard to its member.
func ExpectedContacts(slots, nShards int, owner func(shard uint16) int, trials int) float64 {
	total := 0
	for t := range trials {
		var seed [32]byte
		binary.LittleEndian.PutUint32(seed[:], uint32(t))
		vs := Verifiers(seed, [32]byte{1}, slots, nShards)
		held := map[int]int{}
		for _, s := range vs {
			held[owner(s)]++
		}
		seen := map[int]bool{}
		got := 0
		for _, s := range vs {
			m := owner(s)
			if seen[m] {
				continue
			}
			seen[m] = true
			got += held[m]
			if got >= PassSlots(slots) {
				break
			}
		}
		total += len(seen)
	}
	return float64(total) / float64(trials)
}

// PassSlots is the least number of a node's verifier slots whose holders' pass attestations
// make it pass: more than half.
func PassSlots(slots int) int { return slots/2 + 1 }
