// Package challenge is the pure half of Floe's storage challenges (spec §8.1 describes the
// idea; Walrus has not shipped it): the PRF that draws each node's samples from a round's seed,
// the answer a challenged node sends (one Merkle-proven symbol per sample), its encoding, and
// the check every other node runs before it signs an attestation. It does no I/O; the control
// plane (internal/controlplane, challenge*.go) runs the rounds and the storage node
// (internal/storagenode) proves and verifies.
//
// # The protocol
//
//  1. A round opens (at the start of every epoch, and ChallengeRounds-1 more times in it).
//     Every committee member signs ChallengeSeedShare{epoch, round} with its BLS key and puts
//     the signature (its share) on the control plane.
//  2. At the end of the first block in which the members with recorded shares hold a quorum of
//     the shards, the control plane fixes the seed, Blake2b-256 over the shares in committee
//     order, lists the eligible blobs (certified, live through the epoch, not marked invalid,
//     sorted by blob ID: every blob certified up to that block) and draws with Draw each
//     member's samples (blob, one of the member's shards that it held in the epoch before too,
//     axis, symbol index): a shard it just gained is challenged from the next epoch on.
//  3. Each challenged node reads (or, if it lacks them, first recovers from its peers) the
//     sampled slivers, and answers every sample with the symbol, its opening against the
//     sliver's hash, and the opening of the pair's hashes against the blob's metadata root
//     (Entry). It signs the answer and sends it to the other members.
//  4. Each member checks the answer (Verify, against the samples the control plane recorded)
//     and signs ChallengeAttestation{epoch, round, node, pass or fail}. The node aggregates
//     pass attestations into a certificate; a quorum of shards makes it pass. Members that saw
//     a failing answer (a proof that does not verify, or a sample the node admits missing)
//     submit their fail attestations; a validity threshold of them (so at least one correct
//     member) makes it fail. A node with neither when the epoch ends is pending: its reward for
//     the epoch is held, and it may still answer, and be attested, through the whole next
//     epoch. A node with neither when that epoch ends too has missed the round.
//  5. Consequences. A fail certificate is attributable (at least one correct member saw an
//     answer signed by the node that fails): the node's reward for the epoch is burnt, and
//     failed epochs in a row lead to slashing and exclusion from the next committee (at most
//     members holding less than a third of the shards at one epoch change). A miss is not
//     attributable (the node, or its verifiers, may have been down or overloaded, or the node
//     was rebuilding its data): it never counts towards slashing or exclusion, and the
//     epoch's reward is held, neither paid nor burnt, until the node has an epoch whose
//     rounds it all passed (then every held reward is paid), fails a round (then they are
//     burnt with that epoch's) or for 64 epochs (then burnt).
//
// Nothing waits on a clock but the epoch: shares, answers and attestations may arrive in any
// order at any time within it (and answers to a pending round in the next one). An honest node
// that was down or behind on events when the epoch ended passes as long as it answers before
// the next epoch ends. A node does not recover sampled slivers on demand to answer: a node
// that dropped them could do the same (any node can rebuild a sliver from its peers), and
// the challenge would then show only that the network holds the data, not the node. So an
// honest node that is rebuilding after a wipe misses rounds until its recovery has rebuilt
// the sampled slivers in its own order; its rewards wait for its next passed epoch and it
// loses nothing. A cheater cannot earn by staying silent: silence is never paid, and its
// held rewards are burnt when it fails or after 64 epochs; but silence is not punished beyond
// that, because an honest node that is down looks the same. A node that answers what it has
// (as drop-stored does) is failed by certificate and, failing again, slashed.
//
// # Why the seed is unpredictable
//
// A share is a BLS signature (min-pk, basic scheme), which is deterministic: each member's
// share of a round is one value fixed by its key and the round, that anyone can check against
// its public key and nobody else can compute. The seed needs shares of a quorum of the shards,
// which includes at least f+1 shards' worth of correct members, and correct members sign a
// round's share only once the round is open on the control plane. So until the round opens
// no coalition of fewer than a quorum can compute the seed, and blobs it samples were all
// certified before anyone knew it: a node cannot keep just the slivers that will be sampled.
//
// # How far it can be biased, and what a malicious minority can do
//
// The shares themselves cannot be chosen (they are unique signatures), only withheld. The seed
// is fixed in the block where the recorded shares first reach a quorum, so a coalition of k
// members that watches the correct members' shares arrive can pick which subset of its own
// shares to add before that block: at most 2^k different seeds per round (the block's
// proposer can also choose which pending shares to include, which is the same freedom). It
// cannot stop the seed (correct members alone hold a quorum) nor predict it earlier. Grinding
// multiplies a cheater's escape probability by at most 2^k per round, which the sample size
// absorbs (below). Who contributed shares is public, so a member that withholds its share
// round after round is visible on the explorer.
//
// Beyond the seed, a coalition below a third of the shards cannot make an honest node fail (a
// fail certificate needs f+1 shards of attestations, so at least one correct member that saw a
// bad answer signed by the node itself), cannot make a cheater pass (a pass needs a quorum, so
// at least f+1 shards of correct members that verified every proof), and cannot block an
// honest node's pass (correct members alone hold a quorum). What a challenge cannot tell
// apart is a node that lost data but rebuilds each sampled sliver from its peers before it
// answers: that node passes, as an honest node that is recovering must. It pays, per round,
// the recovery of every sampled sliver it lacks (about one sliver of download each). The
// whitepaper's remedy, freezing reads and recovery of challenged slivers during the challenge,
// would fail honest recovering nodes, which Floe's rules forbid; so the challenge catches
// silent loss (a disk that dropped data, a node that deletes what it signed for and answers
// with what it has), and makes on-demand storage cost recovery traffic.
//
// # The arithmetic of detection
//
// A node stores S slivers of the eligible blobs (two per blob per shard). Each sample is a
// uniform, independent choice among them (Draw), so if the node dropped a fraction p of them,
// each sample hits a dropped sliver with probability p, and m samples all miss with
// probability (1-p)^m. The node fails the round if any sample hits. Over r rounds the
// samples are independent again, so it escapes with probability (1-p)^(m*r).
//
// Floe draws m = 100 samples per node per round by default (Params.ChallengeSamples), one
// round per epoch. For a node that dropped p = 10%:
//
//	one epoch:  0.9^100 = 2.66e-5       caught with probability 0.99997
//	two epochs: 0.9^200 = 7.06e-10      caught with probability 1 - 7.1e-10 > 0.999
//
// m = 33 would be the least sample size for 0.999 within two epochs (0.9^66 = 9.55e-4). The
// margin above it is for the seed's bias: with 2^k seeds to choose from per round, the
// escape probability over two epochs is at most 2^(2k) * 0.9^(2m), which stays below 10^-3 up
// to k = 10 (a coalition that could choose among 1024 seeds in each round). A node that
// dropped 1% of its slivers is caught in an epoch with probability 1 - 0.99^100 = 0.63, and
// within five epochs with probability 0.993.
//
// TestDetectionArithmetic checks these figures by simulation, and the devnet test
// TestChallengesCatchDropStored (internal/devnet/chaos) runs a node that deletes 10% of its
// slivers (Byzantine mode drop-stored=10) on a real network.
package challenge
